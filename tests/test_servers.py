"""The same end-to-end scenario on every real server the suite can start on loopback.

Dovecot 2.3, pymap 0.36 (no keywords, no special-use), Hoodiecrow 2.1 plain, Hoodiecrow in
Gmail mode (X-GM-EXT-1 labels, XOAUTH2 with a token_command, [Gmail]/Drafts) and Courier-IMAP
5.0 (no MOVE, no special-use, "INBOX." namespace, refuses APPEND into a read-only folder).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from conftest import Account, gmail_config
from triage.cli import main

KEYWORDS = {"triage-targeted", "triage-referral", "triage-mass", "triage-other", "triage-unsure"}


@dataclass(frozen=True)
class Expect:
    """What each server is known to offer (from its documentation, not from triage)."""

    fixture: str
    drafts: str
    keywords: bool
    gmail: bool = False
    create_drafts: bool = False


SERVERS = {
    "dovecot": Expect("dovecot_account", "Drafts", True),
    "pymap": Expect("pymap_account", "Drafts", False, create_drafts=True),
    "hoodiecrow": Expect("hoodiecrow_account", "Drafts", True),
    "gmail": Expect("gmail_account", "[Gmail]/Drafts", True, gmail=True),
    "courier": Expect("courier_account", "INBOX.Drafts", True),
}


@pytest.fixture(params=list(SERVERS))
def server(request: pytest.FixtureRequest) -> tuple[Account, Expect, Path]:
    expect = SERVERS[request.param]
    account: Account = request.getfixturevalue(expect.fixture)
    if expect.create_drafts:
        with account.client() as c:
            c.create_folder(expect.drafts)
    config = gmail_config(account) if expect.gmail else account.config()
    return account, expect, config


def inbox(samples: dict[str, list[bytes]]) -> list[bytes]:
    return samples["targeted"][:3] + samples["referral"][:2] + samples["mass"][:2] + \
        samples["other"][:2]


def ledger(account: Account, sql: str) -> list[tuple]:
    with sqlite3.connect(account.tmp / "state" / "test.sqlite") as db:
        return list(db.execute(sql))


def triage_marks(account: Account, expect: Expect) -> dict[int, set[str]]:
    """The triage keywords (Gmail: labels) on each INBOX message."""
    found = account.labels() if expect.gmail else account.flags()
    return {uid: KEYWORDS & set(marks) for uid, marks in found.items()}


def test_end_to_end(server: tuple[Account, Expect, Path], samples, capsys) -> None:
    account, expect, config = server
    mail = inbox(samples)
    account.append(mail)
    assert main(["learn", "--config", str(config), "--create-folders"]) == 0
    created = [line.split("created ", 1)[1] for line in capsys.readouterr().out.splitlines()
               if "created " in line]
    assert len(created) == 4, created

    assert main(["run", "--config", str(config)]) == 0
    out = capsys.readouterr()
    assert f"{len(mail)} new" in out.out, out
    rows = ledger(account, "SELECT uid, label, status, message_id FROM messages")
    assert len(rows) == len(mail) and {r[2] for r in rows} == {"done"}, rows
    marks = triage_marks(account, expect)
    assert len(marks) == len(mail), "nothing deleted, nothing moved"
    if expect.keywords:
        labels = {uid: label for uid, label, _, _ in rows}
        assert all(m == {f"triage-{labels[uid]}"} for uid, m in marks.items()), marks
    else:
        assert all(m == set() for m in marks.values())
    flags = account.flags()
    assert all("\\Seen" not in f and "\\Deleted" not in f for f in flags.values()), flags

    drafted = ledger(account, "SELECT draft_message_id, folder FROM drafts")
    drafts = account.fetch_all(expect.drafts)
    assert len(drafts) == len(drafted) >= 1, (drafted, list(drafts))
    sources = {mid for _, _, _, mid in rows}
    for uid, raw in drafts.items():
        reply = message_from_bytes(raw, policy=default)
        assert reply["Subject"].startswith("Re: ") and reply["In-Reply-To"] in sources
    assert all("\\Draft" in f for f in account.flags(expect.drafts).values())

    assert main(["run", "--config", str(config)]) == 0
    assert "0 new" in capsys.readouterr().out
    assert triage_marks(account, expect) == marks and account.flags() == flags
    assert account.fetch_all(expect.drafts) == drafts, "no second draft"

    other = next(f for f in created if f.endswith("other"))
    wrong = next(uid for uid, label, _, _ in rows if label != "other")
    with account.client() as c:  # the user files a mislabelled message under "other"
        c.select_folder("INBOX")
        c.copy([wrong], other)
    assert main(["run", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "0 new" in out and "1 corrections learned" in out, out
    assert ledger(account, "SELECT label FROM corrections") == [("other",)]
    assert main(["run", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "0 new" in out and "corrections learned" not in out
    assert len(account.flags()) == len(mail)


def test_doctor(server: tuple[Account, Expect, Path], capsys) -> None:
    account, expect, config = server
    assert main(["doctor", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    kind = "Gmail labels" if expect.gmail else "keywords"
    allowed = "allowed\n" if expect.keywords else "NOT allowed"
    assert f"INBOX (UIDVALIDITY " in out and f"; {kind} {allowed}" in out, out
    assert f"drafts go to {expect.drafts!r}" in out, out
    assert ("X-GM-EXT-1 offered" in out) == expect.gmail
