"""The engine against Dovecot: hostile values never stop an account, nothing is skipped by date,
a deliberate backfill, and one summary per run with the documented exit code."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path

import pytest

from conftest import Account
from triage.cli import main
from triage.ledger import ledger_path

KEYWORD = re.compile(r"^triage-")


def run(config: Path, *extra: str) -> int:
    return main(["run", "--config", str(config), *extra])


def decisions(account: Account) -> dict[str, tuple[str | None, str]]:
    """Message-ID → (label, status) from the ledger."""
    with sqlite3.connect(ledger_path(account.tmp / "state", "test")) as db:
        return {str(m): (label, str(status)) for m, label, status in db.execute(
            "SELECT message_id, label, status FROM messages")}


def labelled(account: Account) -> int:
    return sum(any(KEYWORD.match(f) for f in flags) for flags in account.flags().values())


def with_headers(raw: bytes, **headers: str) -> bytes:
    """`raw` with these headers replaced (or added) at the top."""
    text = raw.replace(b"\r\n", b"\n")
    head, _, body = text.partition(b"\n\n")
    names = {k.replace("_", "-").lower() for k in headers}
    kept = [line for line in re.split(rb"\n(?![ \t])", head)
            if line.split(b":", 1)[0].strip().lower().decode() not in names]
    added = [f"{k.replace('_', '-')}: {v}".encode() for k, v in headers.items()]
    return b"\n".join(added + kept) + b"\n\n" + body


@pytest.mark.parametrize("reply_to_id", ["<a(b@x.example>", "<a)b@x.example>",
                                         "<x{5}@x.example>", "<été@x.example>",
                                         '<a"b\\c@x.example>', "<a b@x.example>"])
def test_a_hostile_in_reply_to_never_stops_the_account(dovecot_account: Account, samples,
                                                       reply_to_id: str, capsys) -> None:
    targeted = samples["targeted"][0]
    hostile = with_headers(targeted, In_Reply_To=reply_to_id, References=reply_to_id,
                           Message_ID="<hostile.1@x.example>")
    dovecot_account.append([hostile, samples["other"][0], samples["mass"][0]])
    config = dovecot_account.config()
    assert run(config) == 0, capsys.readouterr().err
    assert "3 new" in capsys.readouterr().out
    assert labelled(dovecot_account) == 3
    assert run(config) == 0
    assert "0 new" in capsys.readouterr().out


def test_mail_older_than_first_run_days_that_arrives_later_is_processed(
        dovecot_account: Account, samples, capsys) -> None:
    old = dt.datetime.now() - dt.timedelta(days=400)
    with dovecot_account.client() as c:
        c.append("INBOX", samples["other"][1], msg_time=old)  # before the first run: left alone
        c.append("INBOX", samples["other"][2])
    config = dovecot_account.config()
    assert run(config) == 0
    assert "1 new" in capsys.readouterr().out
    with dovecot_account.client() as c:  # restored from an archive after the first run
        c.append("INBOX", samples["mass"][1], msg_time=old)
        c.append("INBOX", samples["referral"][1], msg_time=old - dt.timedelta(days=30))
    assert run(config) == 0
    assert "2 new" in capsys.readouterr().out, "UIDs decide after the first run, not dates"
    flags = dovecot_account.flags()
    assert [bool(any(KEYWORD.match(f) for f in flags[u])) for u in sorted(flags)] == \
        [False, True, True, True]


def test_since_backfills_old_mail_below_the_watermark_once(dovecot_account: Account, samples,
                                                           capsys) -> None:
    old = dt.datetime.now() - dt.timedelta(days=60)
    with dovecot_account.client() as c:
        c.append("INBOX", samples["other"][3], msg_time=old)
        c.append("INBOX", samples["mass"][3], msg_time=old - dt.timedelta(days=300))
        c.append("INBOX", samples["other"][4])
    config = dovecot_account.config()
    assert run(config) == 0 and "1 new" in capsys.readouterr().out
    since = (dt.date.today() - dt.timedelta(days=90)).isoformat()
    assert run(config, "--since", since) == 0
    assert "1 new" in capsys.readouterr().out, "only the 60-day-old message is in range"
    assert run(config, "--since", since) == 0
    assert "0 new" in capsys.readouterr().out, "a repeated backfill does nothing twice"
    assert labelled(dovecot_account) == 2


def test_since_with_a_bad_date_is_a_usage_error(dovecot_account: Account, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        run(dovecot_account.config(), "--since", "last tuesday")
    assert exit_.value.code == 2
    assert "'last tuesday' is not a date like 2026-01-31" in capsys.readouterr().err


def test_a_missing_folder_is_named_and_the_other_folders_are_still_processed(
        dovecot_account: Account, samples, capsys) -> None:
    dovecot_account.append(samples["other"][:2])
    assert run(dovecot_account.config(folders=["Nope", "INBOX"])) == 2
    captured = capsys.readouterr()
    assert "folder 'Nope'" in captured.err and "2 new" in captured.out
    assert "not processed this run: Nope" in captured.out
    assert labelled(dovecot_account) == 2
