"""Fetch an account's password or OAuth2 token: command, environment, 0600 file, or keyring.

Never from argv or the config file in clear, and never logged.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from .config import Account


class SecretError(RuntimeError):
    """Raised when the configured secret source is missing, empty, unsafe or fails."""


def resolve_secret(account: Account) -> str:
    """The password (or token, for OAuth2) from the first configured source."""
    if account.token_command:
        return _from_command(account, account.token_command, "token_command")
    if account.password_command:
        return _from_command(account, account.password_command, "password_command")
    if account.password_env:
        return _from_env(account)
    if account.password_file:
        return _from_file(account)
    if account.keyring:
        return _from_keyring(account)
    raise SecretError(f"account {account.name!r} has no password source; set password_env, "
                      "password_command, password_file or keyring = true")


def _nonempty(value: str, source: str) -> str:
    value = value.rstrip("\r\n")
    if not value:
        raise SecretError(f"{source} gave an empty secret")
    return value


def _from_env(account: Account) -> str:
    name = account.password_env or ""
    if name not in os.environ:
        raise SecretError(f"environment variable {name} (password_env of account "
                          f"{account.name!r}) is not set")
    return _nonempty(os.environ[name], f"environment variable {name}")


def _from_command(account: Account, command: str, key: str) -> str:
    try:
        done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise SecretError(f"{key} of account {account.name!r} did not finish "
                          "within 60 s") from None
    if done.returncode != 0:
        raise SecretError(f"{key} of account {account.name!r} exited with "
                          f"{done.returncode}; run it by hand to see why")
    return _nonempty(done.stdout.splitlines()[0] if done.stdout else "",
                     f"{key} of account {account.name!r}")


def _from_file(account: Account) -> str:
    path = Path(account.password_file or "").expanduser()
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SecretError(f"password_file {path} of account {account.name!r} does not exist") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(f"password_file {path} is readable by others (mode "
                          f"{stat.S_IMODE(mode):o}); run `chmod 600 {path}`")
    return _nonempty(path.read_text(encoding="utf-8").splitlines()[0] if path.stat().st_size else "",
                     f"password_file {path}")


def _from_keyring(account: Account) -> str:
    try:
        import keyring  # optional: fails on headless machines without a backend
        value = keyring.get_password(f"triage:{account.name}", account.username)
    except Exception as exc:  # noqa: BLE001 - any backend failure is reported the same way
        raise SecretError(f"keyring lookup for account {account.name!r} failed "
                          f"({type(exc).__name__}); use password_command instead") from None
    if not value:
        raise SecretError(f"keyring has no password for service 'triage:{account.name}', "
                          f"user {account.username!r}")
    return value
