"""State files: collision-free names, old names adopted, links refused, damage reported."""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from triage.cli import EXIT_STATE, main
from triage.ledger import Ledger, LedgerError, account_lock, corrections_dir, ledger_path
from triage.statefiles import StateError, atomic_write, state_name

CONFIG = """
[[accounts]]
name = {name!r}
host = "imap.example.com"
username = "me@example.com"
password_env = "TRIAGE_UNUSED"

[me]
name = "Dana Smith"
email = "dana@example.com"

[state]
dir = {state!r}
"""


def config_for(tmp_path: Path, name: str = "work") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(name=name, state=str(tmp_path / "state")).replace("'", '"'))
    return path


@pytest.mark.parametrize("a, b", [("team/a", "team a"), ("team/a", "team_a"), ("Work", "work"),
                                  ("été", "ete"), ("../x", "_x")])
def test_accounts_never_share_a_ledger_or_a_lock(tmp_path: Path, a: str, b: str) -> None:
    assert state_name(a).lower() != state_name(b).lower()  # also on case-insensitive disks
    assert ledger_path(tmp_path, a) != ledger_path(tmp_path, b)
    assert ledger_path(tmp_path, a).parent == tmp_path  # no traversal out of the state dir
    with account_lock(tmp_path, a), account_lock(tmp_path, b):
        pass  # the second lock is not refused: they are different files
    with Ledger(ledger_path(tmp_path, a)) as ledger:
        ledger.set_watermark("INBOX", 1, 99, "2026-01-01")
    with Ledger(ledger_path(tmp_path, b)) as ledger:
        assert ledger.watermark("INBOX", 1) is None


def test_readable_names_keep_their_file_names(tmp_path: Path) -> None:
    assert ledger_path(tmp_path, "work").name == "work.sqlite"
    assert state_name("team/a").startswith("team_a+") and len(state_name("team/a")) == 17


def test_state_under_the_old_name_is_adopted_with_its_corrections(tmp_path: Path) -> None:
    legacy = tmp_path / "team_a.sqlite"  # what triage 0.1 named the ledger of "team/a"
    with Ledger(legacy) as ledger:
        ledger.set_watermark("INBOX", 7, 321, "2026-01-01")
    (tmp_path / "team_a.corrections" / "mass").mkdir(parents=True)
    (tmp_path / "team_a.corrections" / "mass" / "x.eml").write_bytes(b"Subject: x\r\n\r\nx")

    with Ledger(ledger_path(tmp_path, "team/a")) as ledger:
        assert ledger.watermark("INBOX", 7) == 321
    assert not legacy.exists()
    assert (corrections_dir(tmp_path, "team/a") / "mass" / "x.eml").exists()
    with Ledger(ledger_path(tmp_path, "team a")) as ledger:  # the collision partner starts afresh
        assert ledger.watermark("INBOX", 7) is None


def test_a_claimed_ledger_is_not_adopted_by_another_account(tmp_path: Path) -> None:
    with Ledger(ledger_path(tmp_path, "team_a")) as ledger:
        ledger.claim("team_a")
        ledger.set_watermark("INBOX", 7, 5, "2026-01-01")
    with Ledger(ledger_path(tmp_path, "team/a")) as ledger:
        assert ledger.watermark("INBOX", 7) is None
    with Ledger(ledger_path(tmp_path, "team_a")) as ledger:
        assert ledger.watermark("INBOX", 7) == 5


def test_an_empty_ledger_is_refused_like_a_corrupt_one(tmp_path: Path, capsys) -> None:
    config = config_for(tmp_path)
    (tmp_path / "state").mkdir(mode=0o700)
    path = tmp_path / "state" / "work.sqlite"
    path.write_bytes(b"")
    assert main(["log", "--config", str(config)]) == EXIT_STATE
    assert capsys.readouterr().err == (
        f"triage: error: ledger {path} is empty (0 bytes): it was truncated; restore it from a "
        "backup, or move it aside to start afresh (server keywords then keep labelled mail from "
        "being processed again)\n")
    assert path.read_bytes() == b""


def test_an_unknown_schema_is_one_line_and_exit_5(tmp_path: Path, capsys) -> None:
    config = config_for(tmp_path)
    path = ledger_path(tmp_path / "state", "work")
    with Ledger(path):
        pass
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = 'v2-beta' WHERE key = 'schema'")
    assert main(["log", "--config", str(config)]) == EXIT_STATE
    assert capsys.readouterr().err == (
        f"triage: error: ledger {path} has an unknown schema version 'v2-beta'; it was not written "
        "by triage or is damaged: restore it from a backup or move it aside\n")


def test_a_new_ledger_is_never_left_empty(tmp_path: Path) -> None:
    with Ledger(tmp_path / "a.sqlite"):
        pass
    assert (tmp_path / "a.sqlite").stat().st_size > 0
    assert [p.name for p in tmp_path.iterdir()] == ["a.sqlite"]  # no temporary left


@pytest.mark.parametrize("dangling", [False, True])
def test_a_linked_ledger_is_refused_and_its_target_untouched(tmp_path: Path, dangling: bool) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    target = tmp_path / "precious.txt"
    if not dangling:
        target.write_text("precious")
        target.chmod(0o644)
    (state / "work.sqlite").symlink_to(target)
    with pytest.raises(StateError, match=f"{state / 'work.sqlite'} is a symbolic link"):
        Ledger(ledger_path(state, "work"))
    if dangling:
        assert not target.exists()
    else:
        assert target.read_text() == "precious" and oct(target.stat().st_mode)[-3:] == "644"


@pytest.mark.parametrize("dangling", [False, True])
def test_a_linked_lock_is_refused_and_its_target_untouched(tmp_path: Path, dangling: bool) -> None:
    target = tmp_path / "precious.txt"
    if not dangling:
        target.write_text("precious")
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "work.lock").symlink_to(target)
    with pytest.raises(StateError, match=f"file {state / 'work.lock'} is a symbolic link"):
        with account_lock(state, "work"):
            pass
    assert target.exists() != dangling
    if not dangling:
        assert target.read_text() == "precious"


def test_a_linked_state_folder_is_refused_and_not_chmodded(tmp_path: Path, capsys) -> None:
    real = tmp_path / "shared"
    real.mkdir()
    real.chmod(0o755)
    (tmp_path / "state").symlink_to(real)
    config = config_for(tmp_path)
    assert main(["log", "--config", str(config)]) == EXIT_STATE
    err = capsys.readouterr().err
    assert err == (f"triage: error: folder {tmp_path / 'state'} is a symbolic link; triage never "
                   "follows links for its state: replace it with a real folder, or point [state] "
                   "dir at the target\n")
    assert oct(real.stat().st_mode)[-3:] == "755" and list(real.iterdir()) == []


def test_atomic_write_replaces_a_link_instead_of_writing_through_it(tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("precious")
    (tmp_path / "file").symlink_to(target)
    atomic_write(tmp_path / "file", b"new")
    assert target.read_text() == "precious"
    assert not (tmp_path / "file").is_symlink() and (tmp_path / "file").read_bytes() == b"new"


def _file_size_limit(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails instead of killing us
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_full_disk_while_creating_the_ledger_is_one_line_and_exit_5(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    done = subprocess.run([sys.executable, "-m", "triage", "log", "--config", str(config)],
                          capture_output=True, text=True, preexec_fn=_file_size_limit(0),
                          cwd=tmp_path, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1",
                                                "JOBLIB_MULTIPROCESSING": "0"})
    path = tmp_path / "state" / "work.sqlite"
    assert done.returncode == EXIT_STATE, done.stderr
    assert done.stderr.startswith(f"triage: error: ledger {path} could not be ")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not path.exists() and list((tmp_path / "state").iterdir()) == []


def test_ledger_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    with Ledger(path) as ledger:
        ledger.db.execute("PRAGMA query_only = ON")
        with pytest.raises(LedgerError, match=f"ledger {path} could not be written"):
            from triage.ledger import ledger_errors
            with ledger_errors(path):
                ledger.set_watermark("INBOX", 1, 2, "2026-01-01")


def test_a_full_disk_in_the_middle_of_a_run_is_one_line_and_exit_5(dovecot_account, samples) -> None:
    """The ledger may not grow past its size after a first run (RLIMIT_FSIZE: writes fail as
    on a full disk); the second run must stop with one line and exit 5, and resume later."""
    dovecot_account.append(samples["other"][:3])
    config = dovecot_account.config()
    command = [sys.executable, "-m", "triage", "run", "--config", str(config)]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "JOBLIB_MULTIPROCESSING": "0"}
    first = subprocess.run(command, capture_output=True, text=True, cwd=dovecot_account.tmp, env=env)
    assert first.returncode == 0, first.stderr
    ledger = dovecot_account.tmp / "state" / "test.sqlite"
    dovecot_account.append(samples["mass"][:15] + samples["other"][3:18])
    full = subprocess.run(command, capture_output=True, text=True, cwd=dovecot_account.tmp, env=env,
                          preexec_fn=_file_size_limit(ledger.stat().st_size))
    assert full.returncode == EXIT_STATE, full.stderr
    assert full.stderr.startswith(f"triage: error: ledger {ledger} could not be written (")
    assert full.stderr.endswith("); free disk space or fix its permissions, then run again: the "
                                "next run resumes\n")
    assert full.stderr.count("\n") == 1
    again = subprocess.run(command, capture_output=True, text=True, cwd=dovecot_account.tmp, env=env)
    assert again.returncode == 0, again.stderr
    with sqlite3.connect(ledger) as db:
        assert db.execute("SELECT count(*) FROM messages WHERE status = 'done'").fetchone()[0] == 33
