"""Broken and hostile mail never stops a run: each message is classified or failed with a reason."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Account
from fakes import FakeMailbox
from test_runner import KeywordModel
from triage.cli import main
from triage.config import parse_config
from triage.ledger import Ledger
from triage.message import ParseError, parse_message
from triage.runner import RunOptions, Runner

MALFORMED = Path(__file__).parent / "data" / "malformed"


def generated_monsters() -> dict[str, bytes]:
    """The cases too big to commit: built here, byte for byte."""
    head = b"From: Big <big@example.org>\r\nTo: dana@example.com\r\nMIME-Version: 1.0\r\n"
    nested = b"".join(b"Content-Type: multipart/mixed; boundary=n%d\r\n\r\n--n%d\r\n" % (i, i)
                      for i in range(100))
    return {
        "50 MB attachment": head + b"Subject: scan\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--B\r\nContent-Type: application/pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b"QUJD" * (50 * 1024 * 1024 // 4) + b"\r\n--B--\r\n",
        "10,000 headers": head + b"".join(b"X-H%d: v\r\n" % i for i in range(10_000)) +
        b"Subject: many headers\r\n\r\nbody\r\n",
        "multiparts 100 deep": head + b"Subject: deep\r\n" + nested +
        b"Content-Type: text/plain\r\n\r\ndeep text\r\n",
        "HTML bomb": head + b"Subject: bomb\r\nContent-Type: text/html\r\n\r\n" +
        b"<div>" * 200_000 + b"x" + b"</div>" * 200_000 + b"<p>hi</p>" * 300_000,
    }


def test_malformed_corpus_is_large_and_parses_or_fails_cleanly() -> None:
    files = sorted(MALFORMED.glob("*.eml"))
    assert len(files) >= 30
    for path in files:
        try:
            parse_message(path.read_bytes())
        except ParseError:
            pass  # the only exception allowed


def test_a_run_over_hostile_mail_finishes_and_accounts_for_every_message(
        dovecot_account: Account, samples, capsys) -> None:
    normal = [samples["other"][0], samples["targeted"][0], samples["mass"][0]]
    hostile = [p.read_bytes() for p in sorted(MALFORMED.glob("*.eml"))]
    hostile = [raw for raw in hostile if raw.strip()]  # IMAP servers refuse empty messages
    monsters = list(generated_monsters().values())
    stream = [normal[0], *hostile[:20], normal[1], *monsters, *hostile[20:], normal[2]]
    dovecot_account.append(stream)

    code = main(["run", "--config", str(dovecot_account.config(batch_size=25))])
    out = capsys.readouterr().out
    with sqlite3.connect(dovecot_account.tmp / "state" / "test.sqlite") as db:
        rows = db.execute("SELECT uid, status, label, note FROM messages ORDER BY uid").fetchall()
    assert code == (1 if any(r[1] == "failed" for r in rows) else 0), "exit 1 when any failed"
    uids = sorted(dovecot_account.flags())
    assert [r[0] for r in rows] == uids, "every message is accounted for"
    for uid, status, label, note in rows:
        assert (status == "done" and label) or (status == "failed" and note), (uid, status, note)
    by_uid = {r[0]: r for r in rows}
    for position in (0, 21, len(stream) - 1):  # the normal messages among them
        assert by_uid[uids[position]][1] == "done"
    assert "new" in out


@given(st.binary(max_size=3000))
@settings(max_examples=300, deadline=None)
def test_parsing_random_bytes_never_raises_anything_but_parse_error(data: bytes) -> None:
    try:
        message = parse_message(data)
    except ParseError:
        return
    assert "\n" not in message.subject and "\r" not in message.subject


header_names = st.sampled_from(["From", "To", "Subject", "Message-ID", "References", "Content-Type",
                                "Content-Transfer-Encoding", "Date", "Reply-To", "List-Id"])
header_values = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["=?utf-8?q?Eve=0D=0ABcc=3A_x?=", "=?bogus?b?QUJD?=", "multipart/mixed; boundary=",
                     "text/plain; charset=default_charset", "base64", "<a@b>", "<<>>", "\x00"]))
messages = st.builds(
    lambda headers, body: ("".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n").encode(
        "utf-8", "surrogateescape") + body,
    st.lists(st.tuples(header_names, header_values), max_size=12), st.binary(max_size=2000))


@given(st.lists(messages, min_size=1, max_size=12))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_generated_mail_never_crashes_a_run(tmp_path_factory, batch: list[bytes]) -> None:
    tmp = tmp_path_factory.mktemp("h")
    config = parse_config({"accounts": [{"name": "t", "host": "127.0.0.1", "security": "plain",
                                         "username": "u", "password_env": "X"}],
                           "me": {"name": "D", "email": "d@example.com"},
                           "state": {"dir": str(tmp)}}, tmp / "c.toml")
    box = FakeMailbox()
    for raw in [*batch, b"From: a@b.example\r\nSubject: other\r\n\r\nfine\r\n"]:
        box.deliver(raw)
    with Ledger(tmp / "l.sqlite") as ledger:
        Runner(config, config.accounts[0], KeywordModel(), ledger, lambda: box,
               RunOptions(backoff_seconds=0)).run()
        decided = {d.uid: d for d in ledger.decisions(1000)}
    assert sorted(decided) == sorted(box.folders["INBOX"].messages)
    assert all(d.status == "done" or d.note for d in decided.values())
    assert decided[max(decided)].status == "done"
