"""Secret sources: environment, command, 0600 file; never anything looser."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

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
