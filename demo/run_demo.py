"""`make demo`: the whole pipeline against a throwaway local IMAP server (pymap) with sample mail.

Starts pymap on a free loopback port, creates the user's Drafts folder, delivers the
messages in demo/mail/, runs `triage run` twice (the second run finds nothing new),
then shows what was labelled and the drafted replies.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from imapclient import IMAPClient

HERE = Path(__file__).resolve().parent
WORK = HERE.parent / ".demo"
USER, PASSWORD = "dana", "demo-password"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int) -> subprocess.Popen:
    server = subprocess.Popen([str(BIN / "pymap"), "--host", "127.0.0.1", "--port", str(port),
                               "--no-tls", "dict", "--demo-user", USER, "--demo-password", PASSWORD],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(100).startswith(b"* OK"):
                    return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    sys.exit("demo: pymap did not start")


def seed(port: int) -> int:
    messages = sorted((HERE / "mail").glob("*.eml"))
    with IMAPClient("127.0.0.1", port=port, ssl=False) as client:
        client.login(USER, PASSWORD)
        client.create_folder("Drafts")  # what a mail client does on first use
        for path in messages:
            client.append("INBOX", path.read_bytes())
    return len(messages)


def write_config(port: int) -> Path:
    config = WORK / "config.toml"
    config.write_text(f"""[[accounts]]
name = "demo"
host = "127.0.0.1"
port = {port}
security = "plain"            # allowed only because the host is loopback
username = "{USER}"
password_env = "TRIAGE_DEMO_PASSWORD"
folders = ["INBOX"]

[me]
name = "Dana Smith"
email = "dana@example.com"
stance = "selective"
phone = "+44 161 555 0142"
availability = "Tuesday or Thursday after 14:00"

[state]
dir = "{WORK / 'state'}"
""")
    return config


def triage(*args: str) -> None:
    env = {**os.environ, "TRIAGE_DEMO_PASSWORD": PASSWORD}
    print(f"\n$ triage {' '.join(args)}", flush=True)
    done = subprocess.run([str(BIN / "triage"), *args], env=env)
    if done.returncode != 0:
        sys.exit(f"demo: triage {args[0]} exited with {done.returncode}")


def show_drafts(port: int) -> int:
    with IMAPClient("127.0.0.1", port=port, ssl=False) as client:
        client.login(USER, PASSWORD)
        client.select_folder("Drafts", readonly=True)
        uids = client.search(["ALL"])
        fetched = client.fetch(uids, ["FLAGS", "BODY.PEEK[]"]) if uids else {}
    for uid in uids:
        draft = message_from_bytes(fetched[uid][b"BODY[]"], policy=default)
        flags = " ".join(f.decode() for f in fetched[uid][b"FLAGS"])
        print(f"\n----- Drafts UID {uid} [{flags}] " + "-" * 40)
        for header in ("From", "To", "Subject", "In-Reply-To"):
            print(f"{header}: {draft[header]}")
        body = draft.get_content().strip().splitlines()
        print()
        print("\n".join(body[:24]) + ("\n> …" if len(body) > 24 else ""))
    return len(uids)


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    port = free_port()
    server = start_server(port)
    try:
        count = seed(port)
        print(f"demo: pymap IMAP server on 127.0.0.1:{port}, {count} messages in INBOX")
        config = write_config(port)
        triage("run", "--config", str(config), "-v")
        triage("run", "--config", str(config))
        triage("log", "--config", str(config), "-n", str(count))
        triage("drafts", "--config", str(config))
        drafts = show_drafts(port)
        print(f"\ndemo: done. {drafts} draft(s) are waiting in Drafts; nothing was sent, deleted or "
              f"marked read. Files: {WORK}")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
