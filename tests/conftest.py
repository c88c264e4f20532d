"""Shared fixtures: real IMAP servers on loopback, per-test accounts, configs, sample mail."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from imapclient import IMAPClient

from servers import (DOVECOT, PASSWORD, TOKEN, Server, courier_missing, hoodiecrow_missing,
                     start_courier, start_dovecot, start_hoodiecrow, start_pymap)

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "training_data"
PASSWORD_ENV = "TRIAGE_TEST_PASSWORD"


@pytest.fixture(autouse=True, scope="session")
def private_user_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test reads or writes the real user's config, model (`triage train`) or state."""
    saved = {k: os.environ.get(k) for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME")}
    for key in saved:
        os.environ[key] = str(tmp_path_factory.mktemp(key.lower()))
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Server]:
    """One Dovecot for the session; every test gets its own user (and so its own Maildir)."""
    if DOVECOT is None:
        if os.environ.get("CI"):
            pytest.fail("dovecot is not installed, and CI must run the Dovecot tests: "
                        ".ci/run installs dovecot-imapd")
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd); Dovecot tests skipped")
    root = Path(tempfile.mkdtemp(prefix="triage-dovecot-"))
    os.chmod(root, 0o755)
    server = start_dovecot(root)
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pymap_server(tmp_path: Path) -> Iterator[Server]:
    server = start_pymap(tmp_path / "pymap")
    yield server
    server.stop()


def _need(reason: str | None) -> None:
    """Skip with the reason when a server is missing here; in CI, fail (CI must run them)."""
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason}, and CI must run these tests: .ci/run installs it")
    pytest.skip(reason)


@pytest.fixture
def hoodiecrow_server(tmp_path: Path) -> Iterator[Server]:
    """Hoodiecrow 2.1, plain mode (special-use folders, keywords); one per test (in memory)."""
    _need(hoodiecrow_missing())
    server = start_hoodiecrow(tmp_path / "hoodiecrow", "plain")
    yield server
    server.stop()


@pytest.fixture
def gmail_server(tmp_path: Path) -> Iterator[Server]:
    """Hoodiecrow in Gmail mode: X-GM-EXT-1 labels, XOAUTH2, [Gmail]/Drafts, [Gmail]/All Mail."""
    _need(hoodiecrow_missing())
    server = start_hoodiecrow(tmp_path / "gmail", "gmail")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def courier() -> Iterator[Server]:
    """Courier-IMAP 5.0 (Debian's binaries via dpkg -x); every test gets its own user."""
    _need(courier_missing())
    root = Path(tempfile.mkdtemp(prefix="triage-courier-"))
    server = start_courier(root)
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@dataclass
class Account:
    """A test account on a real server, with helpers to seed and inspect it."""

    server: Server
    user: str
    tmp: Path

    def client(self) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.server.port, ssl=False, timeout=30)
        client.login(self.user, PASSWORD)
        return client

    def append(self, messages: list[bytes], folder: str = "INBOX") -> None:
        with self.client() as c:
            for raw in messages:
                c.append(folder, raw)

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[str, ...]]:
        with self.client() as c:
            c.select_folder(folder, readonly=True)
            uids = c.search(["ALL"])
            got = c.get_flags(uids) if uids else {}
        return {u: tuple(f.decode() for f in fl if f != b"\\Recent") for u, fl in got.items()}

    def labels(self, folder: str = "INBOX") -> dict[int, tuple[str, ...]]:
        """Gmail labels (X-GM-LABELS) of every message in `folder`."""
        with self.client() as c:
            c.select_folder(folder, readonly=True)
            uids = c.search(["ALL"])
            got = c.get_gmail_labels(uids) if uids else {}
        return {u: tuple(labels) for u, labels in got.items()}

    def fetch_all(self, folder: str) -> dict[int, bytes]:
        with self.client() as c:
            c.select_folder(folder, readonly=True)
            uids = c.search(["ALL"])
            got = c.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
        return {u: d[b"BODY[]"] for u, d in got.items()}

    def config(self, **account: object) -> Path:
        """Write a config for this account; keyword arguments override account keys."""
        values: dict[str, object] = {
            "name": "test", "host": "127.0.0.1", "port": self.server.port, "security": "plain",
            "username": self.user, "password_env": PASSWORD_ENV, "folders": ["INBOX"]}
        values.update(account)
        lines = ["[[accounts]]"] + [f"{k} = {_toml(v)}" for k, v in values.items() if v is not None]
        lines += ["", "[me]", 'name = "Dana Smith"', 'email = "dana@example.com"',
                  'phone = "+1 555 0100"', 'availability = "Tuesday or Thursday after 14:00"',
                  "", "[state]", f"dir = {_toml(str(self.tmp / 'state'))}", ""]
        path = self.tmp / "config.toml"
        path.write_text("\n".join(lines))
        return path


def gmail_config(account: Account, **extra: object) -> Path:
    """A Gmail-style account: XOAUTH2 with a token_command that prints the access token."""
    return account.config(auth="xoauth2", password_env=None,
                          token_command=f"printf '%s\\n' {TOKEN}", **extra)


def _toml(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


@pytest.fixture
def dovecot_account(dovecot: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Account:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    return Account(dovecot, f"u{uuid.uuid4().hex[:10]}", tmp_path)


@pytest.fixture
def pymap_account(pymap_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Account:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    return Account(pymap_server, "alice", tmp_path)


@pytest.fixture
def hoodiecrow_account(hoodiecrow_server: Server, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> Account:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    return Account(hoodiecrow_server, "alice", tmp_path)


@pytest.fixture
def gmail_account(gmail_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Account:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    return Account(gmail_server, "alice", tmp_path)


@pytest.fixture
def courier_account(courier: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Account:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    return Account(courier, f"u{uuid.uuid4().hex[:10]}", tmp_path)


def sample_messages() -> dict[str, list[bytes]]:
    """The committed sample mail, by the label its writer gave it."""
    return {label: [p.read_bytes() for p in sorted((SAMPLES / label).glob("*.eml"))]
            for label in ("targeted", "referral", "mass", "other")}


@pytest.fixture(scope="session")
def samples() -> dict[str, list[bytes]]:
    return sample_messages()
