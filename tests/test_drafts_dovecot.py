"""Drafts against a real Dovecot: one per targeted message, threaded, never twice, never injected."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import time
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


def _b_word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


def _q_word(text: str) -> str:
    return "=?utf-8?q?" + "".join(c if c.isalnum() else f"={ord(c):02X}" for c in text) + "?="


def _targeted_with(samples, headers: bytes) -> bytes:
    """The first targeted sample's body and MIME headers under hostile envelope headers."""
    source = samples["targeted"][0].replace(b"\r\n", b"\n")
    head, body = source.split(b"\n\n", 1)
    mime = [line for line in head.split(b"\n") if line.lower().startswith((b"content-", b"mime-version"))]
    return headers + b"\r\n".join(mime) + b"\r\n\r\n" + body.replace(b"\n", b"\r\n")


def test_double_encoded_headers_and_long_names_against_dovecot(dovecot_account: Account, samples,
                                                                monkeypatch) -> None:
    evil = "Eve\r\nBcc: x@evil.example\r\nFrom: boss@evil.example\r\n\r\nbody"
    long_name = ("x@attacker.example, Tom Greaves " + "Senior Talent Partner, " * 60)[:1100]
    hostile = _targeted_with(samples, (
        f"From: {_b_word(_q_word(evil))} <eve@recruit.example.org>\r\n"
        f"Reply-To: \"{long_name}\" <tom@recruit.example.org>\r\n"
        "To: Danielle Okafor <danielle.okafor@example.com>\r\n"
        f"Subject: {_b_word(_q_word(evil))}\r\n"
        "Message-ID: <hostile-2@recruit.example.org>\r\n"
        f"References: <ok@x.example> {_b_word('<' + _q_word(evil) + '@h.example>')}\r\n"
        "Date: Mon, 2 Nov 2026 09:00:00 +0000\r\n").encode())
    dovecot_account.append([hostile])
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        assert run(dovecot_account) == 0
    finally:
        monkeypatch.undo()
        time.tzset()
    assert decisions(dovecot_account) == {"<hostile-2@recruit.example.org>": "targeted"}

    (raw, flags), = drafts(dovecot_account).values()
    assert sorted(flags) == ["\\Draft", "\\Seen", "triage-draft"]
    head = raw.split(b"\r\n\r\n", 1)[0]
    names = [line.split(b":", 1)[0] for line in head.split(b"\r\n") if line[:1] not in (b" ", b"\t")]
    assert names == [b"Date", b"From", b"To", b"Subject", b"Message-ID", b"In-Reply-To", b"References",
                     b"X-Mutt-References", b"MIME-Version", b"Content-Type",
                     b"Content-Transfer-Encoding"]
    assert b"triage" not in head.lower()
    draft = message_from_bytes(raw, policy=default)
    assert [a.addr_spec for a in draft["To"].addresses] == ["tom@recruit.example.org"]
    assert draft["References"] == "<ok@x.example> <hostile-2@recruit.example.org>"
    assert str(draft["Date"]).endswith("+0530")
    assert draft.get_param("format") == "flowed"
    text = draft.get_content()
    too_long = [line for line in text.splitlines() if len(line) > 72 and " " in line.strip()]
    assert not too_long, "only a single word longer than the width may pass 72 characters"
    assert "\n> " in text and "Bcc" not in str(draft["Subject"]).split("?")[0]


def test_a_draft_made_by_an_older_triage_is_recognised(dovecot_account: Account, samples) -> None:
    source = samples["targeted"][0]
    mid = message_from_bytes(source, policy=default)["Message-ID"]
    digest = hashlib.sha256(f"dana@example.com\nmid:{mid}".encode()).hexdigest()[:32]
    old = (f"From: Dana Smith <dana@example.com>\r\nSubject: Re: earlier\r\nMessage-ID: "
           f"<triage.{digest}@example.com>\r\nX-Triage-Label: draft\r\n\r\nHello\r\n").encode()
    dovecot_account.append([old], "Drafts")
    dovecot_account.append([source])
    assert run(dovecot_account) == 0
    assert decisions(dovecot_account) == {mid: "targeted"}
    assert len(drafts(dovecot_account)) == 1, "the old draft counts; no second one is made"
