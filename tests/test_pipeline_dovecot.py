"""End to end against a real Dovecot on loopback: fetch new mail, classify, label, record."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from conftest import Account
from triage.cli import main

KEYWORDS = {"triage-targeted", "triage-referral", "triage-mass", "triage-other", "triage-unsure"}


def run(config: Path, *extra: str) -> int:
    return main(["run", "--config", str(config), *extra])


def ledger_rows(account: Account) -> list[tuple]:
    path = account.tmp / "state" / "test.sqlite"
    if not path.exists():
        return []  # not created yet (and never created here: triage refuses an empty ledger)
    with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as db:
        return db.execute("SELECT uid, label, status, note FROM messages ORDER BY uid").fetchall()


def mixed(samples: dict[str, list[bytes]], per_label: int) -> list[bytes]:
    out = []
    for i in range(per_label):
        for label in ("targeted", "referral", "mass", "other"):
            out.append(samples[label][i])
    return out


def test_sixty_messages_get_one_keyword_each_and_a_second_run_changes_nothing(
        dovecot_account: Account, samples, capsys) -> None:
    dovecot_account.append(mixed(samples, 15))
    config = dovecot_account.config()

    assert run(config) == 0
    first = capsys.readouterr().out
    assert "60 new" in first
    flags = dovecot_account.flags()
    assert len(flags) == 60
    for uid, message_flags in flags.items():
        assert len(KEYWORDS & set(message_flags)) == 1, (uid, message_flags)
        assert "\\Seen" not in message_flags
    rows = ledger_rows(dovecot_account)
    assert len(rows) == 60 and all(status == "done" for _, _, status, _ in rows)

    drafts_before = dovecot_account.fetch_all("Drafts")
    assert run(config) == 0
    assert "0 new" in capsys.readouterr().out
    assert dovecot_account.flags() == flags
    assert dovecot_account.fetch_all("Drafts") == drafts_before
    assert len(ledger_rows(dovecot_account)) == 60

    dovecot_account.append(mixed(samples, 20)[60:65])
    assert run(config) == 0
    assert "5 new" in capsys.readouterr().out
    assert len(ledger_rows(dovecot_account)) == 65
    newest = dovecot_account.flags()
    assert sorted(newest)[-5:] == [u for u, _, _, _ in ledger_rows(dovecot_account)][-5:]
    assert all(len(KEYWORDS & set(f)) == 1 for f in newest.values())


def test_huge_message_and_garbage_charset_do_not_stop_the_run(dovecot_account: Account,
                                                              samples, capsys) -> None:
    attachment = b"A" * (25 * 1024 * 1024)
    huge = (b"From: Big Sender <big@example.org>\r\nTo: dana@example.com\r\nSubject: the big file\r\n"
            b"Message-ID: <huge@example.org>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
            b"Content-Type: text/plain\r\n\r\nHere is the scan of the contract.\r\n--XX\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + attachment + b"\r\n--XX--\r\n")
    garbage = (b"From: Odd <odd@example.org>\r\nTo: dana@example.com\r\nSubject: =?default_charset?q?"
               b"caf=E9?=\r\nMessage-ID: <garbage@example.org>\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: text/plain; charset=\"default_charset\"\r\n"
               b"Content-Transfer-Encoding: 8bit\r\n\r\nLunch at the caf\xe9 on Friday? \xff\xfe\r\n")
    dovecot_account.append([samples["other"][0], huge, garbage, samples["mass"][0]])

    assert run(dovecot_account.config(max_message_bytes=1_000_000)) == 0
    assert "4 new" in capsys.readouterr().out
    rows = ledger_rows(dovecot_account)
    assert [status for _, _, status, _ in rows] == ["done"] * 4
    assert "oversize" in rows[1][3]
    assert all(len(KEYWORDS & set(f)) == 1 for f in dovecot_account.flags().values())


def test_dry_run_changes_nothing(dovecot_account: Account, samples, capsys) -> None:
    dovecot_account.append(mixed(samples, 2))
    config = dovecot_account.config()
    before = dovecot_account.flags()

    assert run(config, "--dry-run") == 0
    out = capsys.readouterr().out
    assert out.count("would: INBOX UID") == 8
    assert "dry run: nothing changed" in out
    assert dovecot_account.flags() == before
    assert dovecot_account.fetch_all("Drafts") == {}
    assert ledger_rows(dovecot_account) == []


def test_wrong_password_exits_with_the_auth_code(dovecot_account: Account, monkeypatch,
                                                 capsys) -> None:
    monkeypatch.setenv("TRIAGE_TEST_PASSWORD", "wrong")
    dovecot_account.server  # noqa: B018 - server is running
    assert run(dovecot_account.config()) == 3
    err = capsys.readouterr().err
    assert "refused the login" in err and dovecot_account.user in err
    assert "wrong" not in err


@pytest.mark.parametrize("folder", ["Nope"])
def test_missing_folder_is_a_configuration_error(dovecot_account: Account, folder, capsys) -> None:
    assert run(dovecot_account.config(folders=[folder])) == 2
    assert "Nope" in capsys.readouterr().err


def test_no_model_costs_nothing_without_new_mail_and_stops_the_run_with_it(
        dovecot_account: Account, samples, tmp_path, capsys) -> None:
    empty = tmp_path / "no-model"
    empty.mkdir()
    text = dovecot_account.config().read_text()
    config = tmp_path / "nomodel.toml"
    config.write_text(text.replace("[state]", f'[paths]\nmodels = "{empty}"\n\n[state]'))
    assert run(config) == 0, "nothing new: the model is never loaded"
    dovecot_account.append(samples["mass"][:2])
    assert run(config) == 6, capsys.readouterr()
    assert not any(f.startswith("triage-") for fl in dovecot_account.flags().values() for f in fl)
    assert run(dovecot_account.config()) == 0
    assert "2 new" in capsys.readouterr().out, "nothing was marked failed meanwhile"
