"""The IMAP figures of `make bench`, against Dovecot on loopback (the test suite's recipe).

For each folder size a fresh user's Maildir is filled with copies of the corpus (each with its
own Message-ID), Dovecot indexes it once (a SELECT), then, each as a whole process on one core:
`triage run` (the first backfill: fetch, parse, classify, label, draft, record), the same
folder read with raw imapclient `FETCH BODY.PEEK[]` (the I/O floor), `triage run` again with
nothing new, and a raw imapclient login + select + search (the floor of a poll).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from servers import DOVECOT, PASSWORD, Server, start_dovecot  # noqa: E402

BIN = Path(sys.executable).parent
ONE_CORE = ["taskset", "-c", "0"]
LABELS_ONLY_SIZE = 5000  # a backfill with `[drafts] enabled = false` too: what drafting costs

RAW_FETCH = """
import sys, time
from imapclient import IMAPClient
c = IMAPClient("127.0.0.1", port=int(sys.argv[1]), ssl=False, timeout=120)
c.login(sys.argv[2], sys.argv[3])
c.select_folder("INBOX", readonly=True)
uids = c.search(["ALL"])
total = 0
for i in range(0, len(uids), 200):
    for data in c.fetch(uids[i:i + 200], ["BODY.PEEK[]"]).values():
        total += len(data[b"BODY[]"])
c.logout()
"""

RAW_POLL = """
import sys
from imapclient import IMAPClient
c = IMAPClient("127.0.0.1", port=int(sys.argv[1]), ssl=False, timeout=120)
c.login(sys.argv[2], sys.argv[3])
c.select_folder("INBOX", readonly=True)
c.search(["UID", "1000000:*"])
c.logout()
"""


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process, which must succeed."""
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        err = child.stderr.read().decode(errors="replace") if child.stderr else ""
        raise RuntimeError(f"{' '.join(command[:4])}… exited {child.returncode}: {err[-400:]}")
    return seconds, usage.ru_maxrss / 1024


def fill_maildir(server: Server, user: str, raws: list[bytes], count: int) -> None:
    """`count` messages in the user's INBOX, cycling through `raws`, each with its own Message-ID."""
    cur = server.maildir(user) / "cur"
    for sub in ("cur", "new", "tmp"):
        (server.maildir(user) / sub).mkdir(parents=True, exist_ok=True)
    now = int(time.time())
    for i in range(count):
        raw = f"Message-ID: <bench-{user}-{i}@bench.example>\r\n".encode() + raws[i % len(raws)]
        (cur / f"{now}.M{i}P1.bench,S={len(raw)}:2,").write_bytes(raw)
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "nobody:nogroup", str(server.root / "home" / user)], check=True)


def write_config(directory: Path, server: Server, user: str, drafts: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.toml"
    path.write_text(f"""[[accounts]]
name = "bench"
host = "127.0.0.1"
port = {server.port}
security = "plain"
username = "{user}"
password_env = "TRIAGE_BENCH_PASSWORD"
folders = ["INBOX"]

[me]
name = "Dana Smith"
email = "dana@example.com"

[state]
dir = "{directory / 'state'}"
""" + ("" if drafts else "\n[drafts]\nenabled = false\n"))
    return path


def run_figures(raws: list[bytes], sizes: tuple[int, ...], repeats: int,
                backfill_repeats: dict[int, int]) -> dict[str, list[float]]:
    """Measurements by name, e.g. `backfill/5000`, `fetch/5000`, `poll/100`, `rawpoll/100`."""
    if DOVECOT is None:
        raise RuntimeError("dovecot is not installed (apt-get install dovecot-imapd)")
    root = Path(tempfile.mkdtemp(prefix="triage-bench-"))
    os.chmod(root, 0o755)
    server = start_dovecot(root / "dovecot")
    env = {**os.environ, "TRIAGE_BENCH_PASSWORD": PASSWORD}
    results: dict[str, list[float]] = {}
    try:
        for size in sizes:
            for r in range(backfill_repeats.get(size, 1)):
                user = f"b{size}r{r}"
                fill_maildir(server, user, raws, size)
                raw = [sys.executable, "-c", RAW_FETCH, str(server.port), user, PASSWORD]
                timed(raw)  # Dovecot builds its index on first SELECT; not part of either figure
                config = write_config(root / user, server, user)
                seconds, peak = timed([*ONE_CORE, str(BIN / "triage"), "run", "--config", str(config)], env)
                results.setdefault(f"backfill/{size}", []).append(size / seconds)
                results.setdefault(f"memory/{size}", []).append(peak)
                results.setdefault(f"fetch/{size}", []).append(size / timed([*ONE_CORE, *raw])[0])
                if r == 0 and size == LABELS_ONLY_SIZE:  # the same backfill without drafting
                    bare = f"b{size}labels"
                    fill_maildir(server, bare, raws, size)
                    timed([sys.executable, "-c", RAW_FETCH, str(server.port), bare, PASSWORD])
                    labels_only = write_config(root / bare, server, bare, drafts=False)
                    seconds, _ = timed([*ONE_CORE, str(BIN / "triage"), "run", "--config",
                                        str(labels_only)], env)
                    results.setdefault(f"labelsonly/{size}", []).append(size / seconds)
                if r == 0:
                    for _ in range(repeats):
                        poll = [*ONE_CORE, str(BIN / "triage"), "run", "--config", str(config)]
                        results.setdefault(f"poll/{size}", []).append(timed(poll, env)[0])
                        rawpoll = [*ONE_CORE, sys.executable, "-c", RAW_POLL, str(server.port), user,
                                   PASSWORD]
                        results.setdefault(f"rawpoll/{size}", []).append(timed(rawpoll)[0])
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return results
