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

from servers import DOVECOT, PASSWORD, Server, start_dovecot, start_pymap

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


def sample_messages() -> dict[str, list[bytes]]:
    """The committed sample mail, by the label its writer gave it."""
    return {label: [p.read_bytes() for p in sorted((SAMPLES / label).glob("*.eml"))]
            for label in ("targeted", "referral", "mass", "other")}


@pytest.fixture(scope="session")
def samples() -> dict[str, list[bytes]]:
    return sample_messages()
