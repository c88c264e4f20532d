"""Drafts against a real Dovecot: one per targeted message, threaded, never twice, never injected."""

from __future__ import annotations

import sqlite3
from email import message_from_bytes
from email.policy import default

from conftest import Account
from triage.cli import main


def decisions(account: Account) -> dict[str, str]:
    """Source Message-ID → label, from the ledger."""
    with sqlite3.connect(account.tmp / "state" / "test.sqlite") as db:
        return dict(db.execute("SELECT message_id, label FROM messages"))


def drafts(account: Account) -> dict[int, tuple[bytes, tuple[str, ...]]]:
    raw = account.fetch_all("Drafts")
    flags = account.flags("Drafts")
    return {uid: (raw[uid], flags[uid]) for uid in raw}


def run(account: Account) -> int:
    return main(["run", "--config", str(account.config())])


def test_each_targeted_message_gets_exactly_one_threaded_draft(dovecot_account: Account, samples,
                                                               capsys) -> None:
    mixed = [samples[label][i] for i in range(6) for label in ("targeted", "referral", "mass", "other")]
    dovecot_account.append(mixed)
    assert run(dovecot_account) == 0

    labels = decisions(dovecot_account)
    targeted = {mid for mid, label in labels.items() if label == "targeted"}
    assert len(targeted) >= 4, f"the model should find most targeted samples: {labels}"
    found = drafts(dovecot_account)
    replied_to = [message_from_bytes(raw, policy=default)["In-Reply-To"] for raw, _ in found.values()]
    assert sorted(replied_to) == sorted(targeted), "one draft per targeted message, none for others"
    for raw, flags in found.values():
        draft = message_from_bytes(raw, policy=default)
        assert "\\Draft" in flags
        assert draft["Subject"].startswith("Re: ") and not draft["Subject"].startswith("Re: Re:")
        assert draft["References"].split()[-1] == draft["In-Reply-To"]
        assert draft["From"] == "Dana Smith <dana@example.com>"
        assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")

    assert run(dovecot_account) == 0
    assert drafts(dovecot_account).keys() == found.keys(), "running again adds none"

    first = min(found)
    with dovecot_account.client() as c:
        c.select_folder("Drafts")
        c.delete_messages([first])
        c.expunge()
    dovecot_account.append(samples["other"][10:11])
    assert run(dovecot_account) == 0
    assert drafts(dovecot_account).keys() == found.keys() - {first}, "a deleted draft stays deleted"


def test_hostile_display_name_and_subject_cannot_add_headers(dovecot_account: Account, samples,
                                                              capsys) -> None:
    source = samples["targeted"][0].replace(b"\r\n", b"\n")
    body = source.split(b"\n\n", 1)[1].replace(b"\n", b"\r\n")

    content_headers = [line for line in source.split(b"\n\n", 1)[0].replace(b"\r", b"").split(b"\n")
                       if line.lower().startswith((b"content-", b"mime-version"))]
    hostile = (b"From: =?utf-8?q?Eve=0D=0ABcc=3A_x=40evil.example?= <eve@recruit.example.org>\r\n"
               b"To: Danielle Okafor <danielle.okafor@example.com>\r\n"
               b"Subject: =?utf-8?q?Eve=0D=0ABcc=3A_x=40evil.example?=\r\n"
               b"Message-ID: <hostile-1@recruit.example.org>\r\n"
               b"Date: Mon, 2 Nov 2026 09:00:00 +0000\r\n" + b"\r\n".join(content_headers) +
               b"\r\n\r\n" + body)
    dovecot_account.append([hostile])
    assert run(dovecot_account) == 0
    assert decisions(dovecot_account) == {"<hostile-1@recruit.example.org>": "targeted"}

    (raw, flags), = drafts(dovecot_account).values()
    head = raw.split(b"\r\n\r\n", 1)[0]
    lines = head.split(b"\r\n")
    assert sum(line.lower().startswith(b"subject:") for line in lines) == 1
    assert not any(line.lower().startswith(b"bcc") for line in lines)
    draft = message_from_bytes(raw, policy=default)
    assert [a.addr_spec for a in draft["To"].addresses] == ["eve@recruit.example.org"]
    assert draft["Bcc"] is None and draft["Cc"] is None
