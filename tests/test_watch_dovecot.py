"""`triage watch` against a Dovecot of its own: every account and folder, no missed message,
restarts, SIGTERM, refused logins. Everything is judged on the server's and the ledger's state.

Latencies are printed (run with -s to see them) and bounded only far below `--interval`:
a missed wake-up would wait the whole interval (600 s), so the bounds prove the wake-ups,
not a speed goal.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
from imapclient import IMAPClient

from conftest import PASSWORD_ENV, _toml
from servers import (DOVECOT, PASSWORD, Server, deliver_to_maildir, restart_dovecot,
                     start_dovecot, wait_for_greeting)
from triage.ledger import ledger_path

pytestmark = pytest.mark.skipif(DOVECOT is None, reason="dovecot is not installed "
                                "(apt-get install dovecot-imapd); watch tests skipped")
INTERVAL = 600  # a missed wake-up would show as a wait this long
BOUND = 20.0  # seconds: far below INTERVAL, generous for a loaded 2-core machine
USERS = ("walice", "wbob")
FOLDERS = ("INBOX", "Work")


@pytest.fixture
def server() -> Iterator[Server]:
    """A Dovecot of this test's own (it is restarted), readable by `nobody` when run as root."""
    root = Path(tempfile.mkdtemp(prefix="triage-watch-"))
    os.chmod(root, 0o755)
    dovecot = start_dovecot(root / "dovecot")
    yield dovecot
    dovecot.stop()
    shutil.rmtree(root, ignore_errors=True)


def write_config(tmp: Path, server: Server, password_env: str = PASSWORD_ENV) -> Path:
    lines = []
    for user in USERS:
        lines += ["[[accounts]]", f"name = {_toml(user)}", 'host = "127.0.0.1"',
                  f"port = {server.port}", 'security = "plain"', f"username = {_toml(user)}",
                  f"password_env = {_toml(password_env)}", f"folders = {_toml(list(FOLDERS))}",
                  "batch_size = 10", ""]
    lines += ["[me]", 'name = "Dana Smith"', 'email = "dana@example.com"', "",
              "[state]", f"dir = {_toml(str(tmp / 'state'))}", ""]
    path = tmp / "config.toml"
    path.write_text("\n".join(lines))
    return path


def client(server: Server, user: str) -> IMAPClient:
    c = IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=30)
    c.login(user, PASSWORD)
    return c


def prepare(server: Server) -> None:
    for user in USERS:
        with client(server, user) as c:
            if not c.folder_exists("Work"):
                c.create_folder("Work")


def mail(n: int) -> bytes:
    """A plain message with a unique Message-ID; the model's label does not matter here."""
    return (f"From: Lee Park <lee{n}@shop.example>\r\nTo: Dana Smith <dana@example.com>\r\n"
            f"Subject: order {n} has shipped\r\nMessage-ID: <w{n}.{time.time_ns()}@shop.example>\r\n"
            f"Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n\r\nYour parcel {n} is on its way.\r\n"
            ).encode()


def message_id(raw: bytes) -> str:
    found = re.search(rb"^Message-ID: (<[^>]+>)", raw, re.M)
    assert found
    return found.group(1).decode()


def labelled(server: Server, user: str, folder: str) -> dict[str, int]:
    """Message-ID → number of triage keywords on it, for every message in the folder."""
    with client(server, user) as c:
        c.select_folder(folder, readonly=True)
        uids = c.search(["ALL"])
        data = c.fetch(uids, ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]) if uids else {}
    out = {}
    for d in data.values():
        mid = re.search(rb"<[^>]+>", d[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"])
        keywords = [f for f in d[b"FLAGS"] if f.startswith(b"triage-")]
        out[mid.group(0).decode() if mid else "?"] = len(keywords)
    return out


def ledger_rows(tmp: Path, user: str) -> list[tuple[str, str]]:
    path = ledger_path(tmp / "state", user)
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        return [(str(f), str(m)) for f, m in db.execute(
            "SELECT folder, message_id FROM messages WHERE status = 'done'")]


def start_watch(config: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "triage", "watch", "--config", str(config), "--interval",
         str(INTERVAL), "--max-backoff", "2", *extra],
        env=env or {**os.environ, PASSWORD_ENV: PASSWORD}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


class Watcher:
    """Polls the server and records when each Message-ID first carries a triage keyword."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.first_seen: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            for user in USERS:
                for folder in FOLDERS:
                    try:
                        for mid, n in labelled(self.server, user, folder).items():
                            self.counts[mid] = n
                            if n and mid not in self.first_seen:
                                self.first_seen[mid] = time.monotonic()
                    except Exception:  # noqa: BLE001 - server restarting
                        pass
            time.sleep(0.1)


def test_watch_covers_every_account_and_folder_and_misses_nothing(server: Server,
                                                                  tmp_path: Path) -> None:
    prepare(server)
    config = write_config(tmp_path, server)
    watch = start_watch(config)
    try:
        ready = lambda: all(len(_watermarks(tmp_path, u)) == len(FOLDERS) for u in USERS)  # noqa: E731
        assert wait_until(ready, 60), "watch never scanned all four folders"
        observer = Watcher(server)
        rng = random.Random(7)
        appended: dict[str, float] = {}
        for n in range(40):
            user, folder = rng.choice(USERS), rng.choice(FOLDERS)
            raw = mail(n)
            with client(server, user) as c:
                c.append(folder, raw)
            appended[message_id(raw)] = time.monotonic()
            time.sleep(rng.uniform(0, 0.6))
        all_seen = wait_until(lambda: set(appended) <= set(observer.first_seen), BOUND + 10)
        assert all_seen, f"never labelled: {sorted(set(appended) - set(observer.first_seen))}"
        latency = sorted(observer.first_seen[m] - t for m, t in appended.items())
        print(f"\nwatch latency over 40 messages: median {latency[20]:.2f} s, max {latency[-1]:.2f} s")
        assert latency[-1] < BOUND, "a message waited for the interval: a wake-up was missed"

        # The server goes away; 50 messages are delivered while watch cannot connect.
        server.stop()
        later = [mail(100 + n) for n in range(50)]
        for n, raw in enumerate(later):
            deliver_to_maildir(server, USERS[n % 2], raw, FOLDERS[(n // 2) % 2])
        time.sleep(3)
        back = time.monotonic()  # from the start of the restart: the greeting poll may lag
        restart_dovecot(server)
        ids = [message_id(raw) for raw in later]
        assert wait_until(lambda: set(ids) <= set(observer.first_seen), 60)
        resumed = min(observer.first_seen[m] for m in ids) - back
        print(f"watch resumed {resumed:.2f} s after the server came back")
        assert resumed < BOUND
        time.sleep(1)
        observer.stop.set()
        observer.thread.join()
        every = {**appended, **{m: 0.0 for m in ids}}
        assert all(observer.counts[m] == 1 for m in every), "each message has exactly one label"
        recorded = [m for u in USERS for _, m in ledger_rows(tmp_path, u)]
        assert sorted(recorded) == sorted(every), "each message recorded exactly once"
    finally:
        watch.send_signal(signal.SIGTERM)
        out, err = watch.communicate(timeout=30)
    assert watch.returncode == 0, err
    assert "Traceback" not in err


def test_sigterm_finishes_the_batch_in_hand_and_exits_0(server: Server, tmp_path: Path) -> None:
    prepare(server)
    config = write_config(tmp_path, server)
    watch = start_watch(config)
    assert wait_until(lambda: all(len(_watermarks(tmp_path, u)) == 2 for u in USERS), 60)
    with client(server, USERS[0]) as c:
        for n in range(60):
            c.append("INBOX", mail(300 + n))
    wait_until(lambda: ledger_rows(tmp_path, USERS[0]), 20)  # mid-way through the backlog
    sent = time.monotonic()
    watch.send_signal(signal.SIGTERM)
    out, err = watch.communicate(timeout=30)
    took = time.monotonic() - sent
    print(f"\nSIGTERM to exit: {took:.2f} s")
    assert watch.returncode == 0, err
    assert took < BOUND
    on_server = {m for m, n in labelled(server, USERS[0], "INBOX").items() if n}
    recorded = {m for f, m in ledger_rows(tmp_path, USERS[0]) if f == "INBOX"}
    assert on_server == recorded, "nothing half-done: labelled on the server iff recorded"


def test_a_refused_login_stops_watch_with_exit_3_after_one_attempt(server: Server,
                                                                   tmp_path: Path) -> None:
    prepare(server)
    config = write_config(tmp_path, server)
    env = {**os.environ, PASSWORD_ENV: "wrong-password"}
    watch = start_watch(config, env=env)
    out, err = watch.communicate(timeout=60)
    assert watch.returncode == 3, err
    assert "refused the login" in err and "Traceback" not in err
    time.sleep(1)
    attempts = re.findall(r"auth failed, (\d+) attempts", server.log_text())
    assert [int(a) for a in attempts] == [1], "exactly one refused login, never a retry"


def _watermarks(tmp: Path, user: str) -> list[str]:
    path = ledger_path(tmp / "state", user)
    if not path.exists():
        return []
    try:
        with sqlite3.connect(path) as db:
            return [str(r[0]) for r in db.execute("SELECT folder FROM folders")]
    except sqlite3.Error:
        return []


__all__ = ["wait_for_greeting"]
