"""Secret sources: environment, command, 0600 file; never anything looser."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from triage import secrets
from triage.cli import EXIT_AUTH, main
from triage.config import Account
from triage.secrets import SecretError, resolve_secret

ACCOUNT = Account(name="work", host="imap.example.com", username="me")


def test_from_environment(monkeypatch) -> None:
    monkeypatch.setenv("TP", "pw-env")
    assert resolve_secret(replace(ACCOUNT, password_env="TP")) == "pw-env"
    monkeypatch.delenv("TP")
    with pytest.raises(SecretError, match="environment variable TP .* is not set"):
        resolve_secret(replace(ACCOUNT, password_env="TP"))


def test_from_command() -> None:
    assert resolve_secret(replace(ACCOUNT, password_command="printf 'pw-cmd\\n'")) == "pw-cmd"
    with pytest.raises(SecretError, match="exited with 3"):
        resolve_secret(replace(ACCOUNT, password_command="exit 3"))


def test_file_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_text("pw-file\n")
    path.chmod(0o644)
    with pytest.raises(SecretError, match=f"readable by others .*chmod 600 {path}"):
        resolve_secret(replace(ACCOUNT, password_file=str(path)))
    path.chmod(0o600)
    assert resolve_secret(replace(ACCOUNT, password_file=str(path))) == "pw-file"


def test_keyring_failure_is_reported() -> None:
    with pytest.raises(SecretError, match="keyring"):
        resolve_secret(replace(ACCOUNT, keyring=True))


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for a reaper counts as gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] != "Z"


def test_a_hanging_command_is_killed_with_everything_it_started(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(secrets, "COMMAND_TIMEOUT", 1.0)
    pidfile = tmp_path / "pid"
    command = f"sleep 1000 & echo $! > {pidfile}; wait"
    started = time.monotonic()
    with pytest.raises(SecretError) as err:
        resolve_secret(replace(ACCOUNT, password_command=command))
    assert str(err.value) == ("password_command of account 'work' did not finish within 1 s; it was "
                              "stopped (with everything it started)")
    assert time.monotonic() - started < 10
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), f"the command's child sleep (pid {pid}) is still running"


def test_a_command_that_leaves_a_child_holding_its_output_is_stopped_too(tmp_path: Path,
                                                                           monkeypatch) -> None:
    monkeypatch.setattr(secrets, "COMMAND_TIMEOUT", 1.0)
    with pytest.raises(SecretError, match="did not finish within 1 s"):
        resolve_secret(replace(ACCOUNT, password_command="echo pw; sleep 1000 &"))


def test_command_output_is_bounded_and_must_be_utf8() -> None:
    with pytest.raises(SecretError) as err:
        resolve_secret(replace(ACCOUNT, password_command="yes"))
    assert str(err.value) == ("password_command of account 'work' printed more than 65536 bytes; it "
                              "must print the password on its first line")
    with pytest.raises(SecretError) as err:
        resolve_secret(replace(ACCOUNT, password_command="printf 'p\\351ss\\n'"))
    assert str(err.value) == ("password_command of account 'work' is not UTF-8 text; store the "
                              "password as UTF-8")
    assert resolve_secret(replace(ACCOUNT, password_command="printf 'p\\303\\251ss\\n'")) == "péss"


def test_a_password_file_that_is_a_folder_or_not_utf8_is_named_never_shown(tmp_path: Path) -> None:
    folder = tmp_path / "pwdir"
    folder.mkdir(mode=0o700)
    with pytest.raises(SecretError) as err:
        resolve_secret(replace(ACCOUNT, password_file=str(folder)))
    assert str(err.value) == (f"password_file {folder} of account 'work' is not a regular file (a "
                              "folder?); give the path of the file that holds the password")
    path = tmp_path / "pw"
    path.write_bytes(b"p\xe9ss-\xff\n")
    path.chmod(0o600)
    with pytest.raises(SecretError) as err:
        resolve_secret(replace(ACCOUNT, password_file=str(path)))
    assert str(err.value) == (f"password_file {path} of account 'work' is not UTF-8 text; store the "
                              "password as UTF-8")
    assert err.value.__context__ is None or err.value.__suppress_context__


CONFIG = """
[[accounts]]
name = "work"
host = "127.0.0.1"
security = "plain"
username = "me"
{source}

[me]
name = "Dana Smith"
email = "dana@example.com"

[state]
dir = "{state}"
"""


@pytest.mark.parametrize("command", ["run", "watch", "learn"])
def test_a_missing_password_variable_is_exit_3_and_one_line(tmp_path: Path, command: str,
                                                            monkeypatch, capsys) -> None:
    monkeypatch.delenv("TRIAGE_NOT_SET", raising=False)
    config = tmp_path / "c.toml"
    config.write_text(CONFIG.format(source='password_env = "TRIAGE_NOT_SET"', state=tmp_path / "s"))
    assert main([command, "--config", str(config)]) == EXIT_AUTH
    err = capsys.readouterr().err
    assert err.endswith("environment variable TRIAGE_NOT_SET (password_env of account 'work') is "
                        "not set\n") and err.count("\n") == 1, err


def test_a_bad_password_file_is_exit_3_in_a_real_process(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_bytes(b"s\xe9cret\n")
    path.chmod(0o600)
    config = tmp_path / "c.toml"
    config.write_text(CONFIG.format(source=f'password_file = "{path}"', state=tmp_path / "s"))
    done = subprocess.run([sys.executable, "-m", "triage", "run", "--config", str(config)],
                          capture_output=True, cwd=tmp_path)
    assert done.returncode == EXIT_AUTH
    assert done.stderr.decode() == (f"triage: error: work: password_file {path} of account 'work' "
                                    "is not UTF-8 text; store the password as UTF-8\n")


def test_a_non_ascii_password_never_reaches_a_traceback(dovecot_account, monkeypatch) -> None:
    """LOGIN cannot carry it: it goes by AUTH=PLAIN as UTF-8; the server refuses it (wrong
    password), and the error is one line that shows no character of it."""
    config = dovecot_account.config()
    env = {**os.environ, "TRIAGE_TEST_PASSWORD": "pässwörd-ü"}
    done = subprocess.run([sys.executable, "-m", "triage", "run", "--config", str(config)],
                          capture_output=True, cwd=dovecot_account.tmp, env=env)
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == EXIT_AUTH, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("triage: error: test: 127.0.0.1 refused the login for ")
    for leaked in ("ä", "ö", "ü", "\\xe4", "\\xf6", "\\xfc", "pässwörd"):
        assert leaked not in err
