"""Fetch an account's password or OAuth2 token: command, environment, 0600 file, or keyring.

Never from argv or the config file in clear, and never logged.
"""

from __future__ import annotations

import os
import selectors
import signal
import stat
import subprocess
import time
from pathlib import Path

from .config import Account

COMMAND_TIMEOUT = 60.0  # seconds a password_command may take
MAX_SECRET_BYTES = 65536  # a password, a token: never more than this


class SecretError(RuntimeError):
    """Raised when the configured secret source is missing, empty, unsafe or fails."""


def resolve_secret(account: Account) -> str:
    """The password (or token, for OAuth2) from the first configured source."""
    if account.token_command:
        return _from_command(account, key="token_command")
    if account.password_command:
        return _from_command(account)
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
    return _nonempty(os.environ[name], f"environment variable {name} (password_env of account "
                     f"{account.name!r})")


def _from_command(account: Account, timeout: float | None = None,
                  key: str = "password_command") -> str:
    """Run password_command (or token_command) in its own process group; kill the whole group
    at the timeout."""
    timeout = COMMAND_TIMEOUT if timeout is None else timeout
    source = f"{key} of account {account.name!r}"
    command = account.token_command if key == "token_command" else account.password_command
    process = subprocess.Popen(command or "", shell=True, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    output: bytes | None = None
    try:
        output = _read_bounded(process, timeout)
    finally:
        _stop(process, kill=output is None or process.returncode is None)
    if output is None:
        raise SecretError(f"{source} did not finish within {timeout:.0f} s; it was stopped "
                          "(with everything it started)")
    if len(output) > MAX_SECRET_BYTES:
        raise SecretError(f"{source} printed more than {MAX_SECRET_BYTES} bytes; it must print "
                          "the password on its first line")
    if process.returncode != 0:
        raise SecretError(f"{source} exited with {process.returncode}; run it by hand to see why")
    return _nonempty(_first_line(output, source), source)


def _read_bounded(process: subprocess.Popen[bytes], timeout: float) -> bytes | None:
    """Everything the process prints until it exits (None at the timeout), at most
    MAX_SECRET_BYTES + 1 bytes."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while size <= MAX_SECRET_BYTES:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                return None
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    if size > MAX_SECRET_BYTES:
        return b"".join(chunks)  # too much: the caller stops it
    try:
        process.wait(max(deadline - time.monotonic(), 0.01))
    except subprocess.TimeoutExpired:
        return None
    return b"".join(chunks)


def _stop(process: subprocess.Popen[bytes], kill: bool) -> None:
    """Reap the command; when it overran, first SIGKILL its whole process group (a `sleep`
    it started too)."""
    if kill:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if process.stdout is not None:
        process.stdout.close()
    process.wait()


def _first_line(data: bytes, source: str) -> str:
    """The first line, decoded as UTF-8; a decoding error never shows the bytes."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None:
        raise SecretError(f"{source} is not UTF-8 text; store the password as UTF-8")
    return text.splitlines()[0] if text else ""


def _from_file(account: Account) -> str:
    path = Path(account.password_file or "").expanduser()
    source = f"password_file {path} of account {account.name!r}"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise SecretError(f"{source} does not exist") from None
    except OSError as exc:
        raise SecretError(f"{source} cannot be opened ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SecretError(f"{source} is not a regular file (a folder?); give the path of the "
                              "file that holds the password")
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SecretError(f"password_file {path} is readable by others (mode "
                              f"{stat.S_IMODE(info.st_mode):o}); run `chmod 600 {path}`")
        data = os.read(fd, MAX_SECRET_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_SECRET_BYTES:
        raise SecretError(f"{source} is larger than {MAX_SECRET_BYTES} bytes; it must hold the "
                          "password on its first line")
    return _nonempty(_first_line(data, source), source)


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
