"""Server quirks found on real servers, emulated by a proxy in front of a real Dovecot.

Each test rewrites what Dovecot says or hears so that it behaves like the server where the
bug was found (GNU Mailutils, Courier, a server without MOVE/UIDPLUS, one that ignores APPEND
flags, one that answers every LIST and SELECT with INBOX), then runs triage through it.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from typing import Iterator

import pytest

from conftest import Account
from faultproxy import FaultProxy, Rule
from triage.cli import main

KEYWORDS = {"triage-targeted", "triage-referral", "triage-mass", "triage-other", "triage-unsure"}


@pytest.fixture
def proxy(dovecot_account: Account) -> Iterator[FaultProxy]:
    p = FaultProxy(dovecot_account.server.port)
    yield p
    p.close()


def through(account: Account, proxy: FaultProxy, rule: Rule, **config: object) -> str:
    proxy.default = rule
    return str(account.config(port=proxy.port, retries=1, retry_backoff=0.05, **config))


def ledger(account: Account, sql: str) -> list[tuple]:
    with sqlite3.connect(account.tmp / "state" / "test.sqlite") as db:
        return list(db.execute(sql))


def mailutils_uid_star(data: bytes) -> bytes:
    """GNU Mailutils 3.15 answers `UID SEARCH UID n:*` with nothing (n:4294967295 works)."""
    return re.sub(rb"(UID SEARCH UID )\d+:\*", rb"\g<1>4294967295", data)


def test_a_uid_star_scan_that_misses_mail_is_cross_checked(dovecot_account: Account, proxy,
                                                            samples, capsys, caplog) -> None:
    dovecot_account.append(samples["mass"][:3] + samples["other"][:3])
    config = through(dovecot_account, proxy, Rule(client_filter=mailutils_uid_star))
    with caplog.at_level(logging.WARNING):
        assert main(["run", "--config", config]) == 0
    assert "6 new" in capsys.readouterr().out
    said = [r.getMessage() for r in caplog.records if "UID SEARCH UID" in r.getMessage()]
    assert len(said) == 1 and "missed 6 new messages" in said[0], said
    assert b"UID SEARCH UID 4294967295" in proxy.client_log, "the quirk was really emulated"
    dovecot_account.append(samples["mass"][3:5])
    assert main(["run", "--config", config]) == 0
    assert "2 new" in capsys.readouterr().out
    assert main(["run", "--config", config]) == 0
    assert "0 new" in capsys.readouterr().out


def test_no_append_into_a_folder_selected_read_only(dovecot_account: Account, proxy, samples,
                                                    capsys) -> None:
    dovecot_account.append(samples["targeted"][:2])
    config = through(dovecot_account, proxy, Rule())
    assert main(["run", "--config", config]) == 0
    assert "2 new" in capsys.readouterr().out
    log = bytes(proxy.client_log)
    for append in re.finditer(rb"APPEND \"?Drafts", log):
        before = log[:append.start()]
        last = max(before.rfind(b" SELECT "), before.rfind(b" EXAMINE "))
        assert before[last:last + 8] == b" SELECT ", "APPEND while Drafts was EXAMINEd"


def refuse_append(data: bytes) -> bytes:
    """The server answers every APPEND with NO (as an account over quota does)."""
    return re.sub(rb"(\w+) OK \[APPENDUID[^\r\n]*", rb"\1 NO [OVERQUOTA] Quota exceeded", data)


def test_a_refused_draft_fails_its_message_only(dovecot_account: Account, proxy, samples,
                                                capsys) -> None:
    dovecot_account.append(samples["targeted"][:2] + samples["mass"][:2])
    config = through(dovecot_account, proxy, Rule(server_filter=refuse_append))
    assert main(["run", "--config", config]) == 1
    captured = capsys.readouterr()
    rows = ledger(dovecot_account, "SELECT uid, label, status, note FROM messages")
    failed = [r for r in rows if r[2] == "failed"]
    assert failed and all("Quota exceeded" in note for *_, note in failed), (rows, captured)
    labelled = {uid for uid, f in dovecot_account.flags().items() if KEYWORDS & set(f)}
    assert labelled == {r[0] for r in rows if r[2] == "done"} and len(labelled) == 4 - len(failed)
    assert proxy.connections == 1, "a NO is not retried like a dropped connection"


def hide(*capabilities: bytes):
    def rewrite(data: bytes) -> bytes:
        for cap in capabilities:
            data = re.sub(rb"(CAPABILITY[^\r\n]*) " + cap + rb"(?=[ \]\r])", rb"\1", data)
        return data
    return rewrite


def test_without_move_and_uidplus_nothing_is_moved_or_flagged_deleted(
        dovecot_account: Account, proxy, samples, capsys, caplog) -> None:
    dovecot_account.append(samples["mass"][:3])
    config = through(dovecot_account, proxy, Rule(server_filter=hide(b"MOVE", b"UIDPLUS")))
    with open(config, "a") as f:
        f.write('\n[labels.mass]\nmove_to = "Junk"\n')
    assert main(["doctor", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "MOVE not offered" in out and "UIDPLUS not offered" in out
    assert "no message is moved" in out
    with caplog.at_level(logging.WARNING):
        assert main(["run", "--config", config]) == 0
        assert main(["run", "--config", config]) == 0
    flags = dovecot_account.flags()
    assert len(flags) == 3 and not any("\\Deleted" in f for f in flags.values())
    assert dovecot_account.flags("Junk") == {}
    assert sum("neither MOVE nor UIDPLUS" in r.getMessage() for r in caplog.records) <= 1
    assert b"COPY" not in proxy.client_log and b"EXPUNGE" not in proxy.client_log


def test_with_uidplus_only_the_move_copies_and_expunges_only_our_uids(
        dovecot_account: Account, proxy, samples, capsys) -> None:
    dovecot_account.append(samples["mass"][:2] + samples["other"][:1])
    with dovecot_account.client() as c:  # another client's deletion in progress
        c.select_folder("INBOX")
        c.add_flags([3], [b"\\Deleted"])
    config = through(dovecot_account, proxy, Rule(server_filter=hide(b"MOVE")))
    with open(config, "a") as f:
        f.write('\n[labels.mass]\nmove_to = "Junk"\n')
    assert main(["run", "--config", config]) == 0
    assert b"UID EXPUNGE" in proxy.client_log and b" MOVE " not in proxy.client_log
    assert list(dovecot_account.flags()) == [3], "the other client's message is not expunged"
    assert len(dovecot_account.flags("Junk")) == 2


def drop_append_flags(data: bytes) -> bytes:
    return re.sub(rb"(APPEND \S+) \([^)]*\)", rb"\1", data)


def test_a_server_that_ignores_append_flags_still_gets_draft_flagged(
        dovecot_account: Account, proxy, samples, capsys) -> None:
    dovecot_account.append(samples["targeted"][:3])
    config = through(dovecot_account, proxy, Rule(client_filter=drop_append_flags))
    assert main(["run", "--config", config]) == 0
    assert b"\\Draft" not in proxy.client_log.split(b"APPEND", 1)[-1].split(b"\r\n", 1)[0]
    drafts = dovecot_account.flags("Drafts")
    assert drafts and all("\\Draft" in f for f in drafts.values()), drafts


def everything_is_inbox(data: bytes) -> bytes:
    """A server that answers LIST and SELECT of the correction folders with INBOX."""
    return re.sub(rb'(LIST "" |SELECT |EXAMINE )"?Triage/\w+"?', rb"\1INBOX", data)


def test_correction_folders_must_be_listed_by_their_exact_name(dovecot_account: Account, proxy,
                                                               samples, capsys) -> None:
    dovecot_account.append(samples["mass"][:10] + samples["other"][:10])
    config = through(dovecot_account, proxy, Rule(client_filter=everything_is_inbox))
    assert main(["learn", "--config", config, "--create-folders"]) == 0
    assert main(["run", "--config", config]) == 0
    assert main(["learn", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "20 new" in out and "corrections learned" not in out.split("20 new")[1].split("\n")[0]
    assert ledger(dovecot_account, "SELECT count(*) FROM corrections") == [(0,)]
    assert b'LIST "" INBOX' in proxy.client_log, "the quirk was really emulated"


def bad_store(data: bytes) -> bytes:
    return data.replace(b" UID STORE ", b" UID STORX ")


def test_bad_is_a_bug_report_not_a_retried_connection_error(dovecot_account: Account, proxy,
                                                            samples, capsys) -> None:
    dovecot_account.append(samples["mass"][:2])
    config = through(dovecot_account, proxy, Rule(client_filter=bad_store))
    assert main(["run", "--config", config]) == 1
    err = capsys.readouterr().err
    assert "answered BAD" in err and "please report it" in err, err
    assert "STORX" in err or "Unknown command" in err, "the server's words are in the report"
    assert proxy.connections == 1, "a BAD is not retried"


def refuse_store(data: bytes) -> bytes:
    return re.sub(rb"(\w+) OK Store completed[^\r\n]*", rb"\1 NO [LIMIT] Too many keywords", data)


def test_no_is_reported_with_the_servers_words_and_not_retried(dovecot_account: Account, proxy,
                                                               samples, capsys) -> None:
    dovecot_account.append(samples["mass"][:2])
    config = through(dovecot_account, proxy, Rule(server_filter=refuse_store))
    assert main(["run", "--config", config]) == 1
    err = capsys.readouterr().err
    assert "the server refused" in err and "Too many keywords" in err, err
    assert proxy.connections == 1, "a NO is not retried"
