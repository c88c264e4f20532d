"""Courier-IMAP for the tests, run unprivileged from a `dpkg -x` tree (no system install).

Courier splits a session in two: `imaplogin` checks the password through courier-authlib's
root daemon, then execs `imapd`, which serves the logged-in session. This front end plays
`imaplogin` (greeting, CAPABILITY, LOGIN against one test password) and then hands the socket
to the real Courier `imapd`, started with Debian's own `/etc/courier/imapd` settings; every
command after LOGIN is answered by Courier itself. It also runs gamin's `gam_server` from the
tree, which Courier uses to watch folders (without it, every SELECT waits ~1 s for it).

Usage: python courierfront.py TREE HOME_ROOT PORT PASSWORD
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

GREETING = (b"* OK [CAPABILITY IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT "
            b"THREAD=REFERENCES SORT QUOTA IDLE AUTH=PLAIN] Courier-IMAP ready. "
            b"(test front end, see tests/courierfront.py)\r\n")
LOGIN = re.compile(rb'^(\S+) LOGIN ("(?:[^"\\]|\\.)*"|\S+) ("(?:[^"\\]|\\.)*"|\S+)\r?\n$', re.I)
FOLDERS = (".Drafts", ".Sent", ".Trash")  # what Courier's maildirmake + a mail client leave


def unquote(word: bytes) -> str:
    if word.startswith(b'"'):
        word = re.sub(rb"\\(.)", rb"\1", word[1:-1])
    return word.decode()


def make_maildir(path: Path) -> None:
    for folder in ("", *FOLDERS):
        for sub in ("cur", "new", "tmp"):
            (path / folder / sub).mkdir(parents=True, exist_ok=True)
        if folder:
            (path / folder / "maildirfolder").touch()
    subscribed = path / "courierimapsubscribed"
    if not subscribed.exists():
        subscribed.write_text("".join(f"INBOX{f}\n" for f in FOLDERS))


def serve(conn: socket.socket, tree: Path, homes: Path, password: str) -> None:
    reader = conn.makefile("rb")
    conn.sendall(GREETING)
    for line in reader:
        tag, _, rest = line.partition(b" ")
        command = rest.strip().upper()
        login = LOGIN.match(line)
        if login and unquote(login.group(3)) == password:
            user = unquote(login.group(2))
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", user):
                conn.sendall(tag + b" NO Invalid user name\r\n")
                continue
            return start_imapd(conn, tree, homes / user, login.group(1).decode())
        if login:
            conn.sendall(tag + b" NO Login failed.\r\n")
        elif command == b"CAPABILITY":
            conn.sendall(GREETING.replace(b"OK [CAPABILITY", b"CAPABILITY").split(b"]")[0]
                         + b"\r\n" + tag + b" OK CAPABILITY completed\r\n")
        elif command == b"NOOP":
            conn.sendall(tag + b" OK NOOP completed\r\n")
        elif command == b"LOGOUT":
            conn.sendall(b"* BYE Courier-IMAP server shutting down\r\n" + tag + b" OK LOGOUT completed\r\n")
            break
        else:
            conn.sendall(tag + b" BAD Log in first\r\n")
    conn.close()


def start_gam_server(tree: Path, client_id: str) -> subprocess.Popen | None:
    """gamin's file-watch server for Courier's IDLE; None when it cannot run here."""
    binary = tree / "usr/libexec/gam_server"
    if not binary.exists():
        return None
    return subprocess.Popen([str(binary), "--notimeout", client_id], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={"GAM_CLIENT_ID": client_id,
                                                            "PATH": "/usr/bin:/bin"})


def start_imapd(conn: socket.socket, tree: Path, home: Path, tag: str) -> None:
    """Exec Courier's imapd on the socket, as imaplogin does after a successful login."""
    make_maildir(home / "Maildir")
    libs = ":".join(str(tree / d) for d in ("usr/lib/x86_64-linux-gnu", "usr/lib",
                                            "usr/lib/courier-authlib"))
    settings = tree / "etc/courier/imapd"
    script = f'set -a; . "{settings}"; set +a; cd "$HOME"; exec "{tree}/usr/bin/imapd" Maildir'
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "AUTHENTICATED": home.name,
           "IMAPLOGINTAG": tag, "LD_LIBRARY_PATH": libs, "TCPREMOTEIP": "127.0.0.1",
           "TCPREMOTEPORT": "0", "GAM_CLIENT_ID": os.environ["GAM_CLIENT_ID"]}
    subprocess.Popen(["sh", "-c", script], stdin=conn.fileno(), stdout=conn.fileno(),
                     stderr=subprocess.DEVNULL, env=env, close_fds=True)
    conn.close()


def main() -> None:
    tree, homes, port, password = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    os.environ["GAM_CLIENT_ID"] = f"triage-courier-{port}"
    gam = start_gam_server(tree, os.environ["GAM_CLIENT_ID"])

    def stop(*_: object) -> None:
        if gam is not None:
            gam.terminate()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    listener = socket.create_server(("127.0.0.1", port))
    print(f"ready {port}", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, tree, homes, password), daemon=True).start()


if __name__ == "__main__":
    os.umask(0o077)
    main()
