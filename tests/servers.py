"""Throwaway IMAP servers on loopback for the integration tests: Dovecot and pymap.

Dovecot runs as `nobody` when the tests run as root (Dovecot refuses to log users in as
root); pymap runs as the calling user from this virtual environment.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PASSWORD = "s3cret-Pa55"
DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)

DOVECOT_CONF = """\
instance_name = triage-test-{port}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = {ssl}
{ssl_files}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 0
mail_location = maildir:~/Maildir
mail_fsync = never
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={root}/home/%n allow_all_users=yes
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Drafts {{
    auto = subscribe
    special_use = \\Drafts
  }}
  mailbox Sent {{
    auto = subscribe
    special_use = \\Sent
  }}
  mailbox Junk {{
    auto = subscribe
    special_use = \\Junk
  }}
}}
protocol imap {{
  mail_max_userip_connections = 100
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_greeting(port: int, seconds: float = 15.0, tls: bool = False) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                if tls:
                    return
                if s.recv(200).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"no IMAP greeting on 127.0.0.1:{port} within {seconds} s")


@dataclass
class Server:
    """A running server: where it listens, how to reach its files, how to stop it."""

    name: str
    port: int
    process: subprocess.Popen
    root: Path
    tls_port: int | None = None
    cert: Path | None = None

    def maildir(self, user: str) -> Path:
        return self.root / "home" / user / "Maildir"

    def log_text(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _as_service_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "nobody", "--", *command] if os.geteuid() == 0 else command


def make_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost/127.0.0.1."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def start_dovecot(root: Path) -> Server:
    """Dovecot 2.3 with plain IMAP (STARTTLS offered) and implicit TLS, self-signed."""
    if DOVECOT is None:
        raise RuntimeError("dovecot is not installed")
    root.mkdir(parents=True, exist_ok=True)
    for sub in ("run", "state", "home"):
        (root / sub).mkdir(exist_ok=True)
    cert, key = make_cert(root)
    port, tls_port = free_port(), free_port()
    if os.geteuid() == 0:
        user, group = "nobody", "nogroup"
        subprocess.run(["chown", "-R", "nobody:nogroup", str(root)], check=True)
        os.chmod(root, 0o755)
    else:
        import grp
        import pwd
        user, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    conf = root / "dovecot.conf"
    conf.write_text(DOVECOT_CONF.format(
        root=root, port=port, tls_port=tls_port, user=user, group=group, password=PASSWORD,
        ssl="yes", ssl_files=f"ssl_cert = <{cert}\nssl_key = <{key}"))
    os.chmod(conf, 0o644)
    os.chmod(key, 0o644)
    process = subprocess.Popen(_as_service_user([DOVECOT, "-F", "-c", str(conf)]),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_greeting(port)
    except RuntimeError:
        process.kill()
        raise RuntimeError(f"dovecot did not start: {process.stderr.read().decode() if process.stderr else ''}"
                           f"{(root / 'dovecot.log').read_text() if (root / 'dovecot.log').exists() else ''}")
    return Server("dovecot", port, process, root, tls_port=tls_port, cert=cert)


def start_pymap(root: Path, user: str = "alice") -> Server:
    """pymap's in-memory backend with one user; no SPECIAL-USE, no custom keywords."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    pymap = Path(sys.executable).parent / "pymap"
    process = subprocess.Popen([str(pymap), "--host", "127.0.0.1", "--port", str(port), "--no-tls",
                                "dict", "--demo-user", user, "--demo-password", PASSWORD],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_greeting(port)
    return Server("pymap", port, process, root)


def restart_dovecot(server: Server) -> None:
    """Start a stopped Dovecot again on the same ports with the same mail (a server restart)."""
    server.process = subprocess.Popen(
        _as_service_user([str(DOVECOT), "-F", "-c", str(server.root / "dovecot.conf")]),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_greeting(server.port)


def deliver_to_maildir(server: Server, user: str, raw: bytes, folder: str = "INBOX") -> None:
    """Put a message straight into a user's Maildir, as a local delivery agent does."""
    base = server.maildir(user) if folder == "INBOX" else server.maildir(user) / f".{folder}"
    name = f"{time.time_ns()}.{os.getpid()}_{uuid_hex()}.triage-test"
    tmp, new = base / "tmp" / name, base / "new" / name
    tmp.write_bytes(raw.replace(b"\r\n", b"\n"))
    if os.geteuid() == 0:
        shutil.chown(tmp, "nobody", "nogroup")
    os.rename(tmp, new)


def uuid_hex() -> str:
    import uuid
    return uuid.uuid4().hex[:12]

CACHE = Path(__file__).resolve().parent.parent / ".cache"
HOODIECROW_MODULES = CACHE / "hoodiecrow" / "node_modules"
COURIER_TREE = CACHE / "courier" / "root"
NODE = shutil.which("node")
TOKEN = "ya29.test-access-token"  # the OAuth2 access token Hoodiecrow accepts


def hoodiecrow_missing() -> str | None:
    """Why Hoodiecrow cannot run here, or None."""
    if NODE is None:
        return "node is not installed (apt-get install nodejs npm)"
    if not (HOODIECROW_MODULES / "hoodiecrow-imap").is_dir():
        return "hoodiecrow-imap is not in .cache/ (run tests/setup-servers.sh)"
    return None


def courier_missing() -> str | None:
    """Why Courier-IMAP cannot run here, or None."""
    if not (COURIER_TREE / "usr/bin/imapd").exists():
        return "Courier-IMAP is not unpacked in .cache/ (run tests/setup-servers.sh)"
    return None


def _start_announcing(name: str, command: list[str], root: Path, port: int,
                      env: dict[str, str] | None = None) -> Server:
    """Start a server that prints "ready PORT" when listening; fail with its output if not."""
    log = (root / f"{name}.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, **(env or {})})
    try:
        wait_for_greeting(port)
    except RuntimeError:
        process.kill()
        raise RuntimeError(f"{name} did not start: {(root / f'{name}.log').read_text()}")
    return Server(name, port, process, root)


def start_hoodiecrow(root: Path, mode: str, user: str = "alice") -> Server:
    """Hoodiecrow 2.1 in `mode` "plain" (special-use Drafts) or "gmail" (X-GM-EXT-1, [Gmail]/…)."""
    assert NODE is not None
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    script = Path(__file__).resolve().parent / "hoodiecrow.js"
    return _start_announcing(f"hoodiecrow-{mode}",
                             [NODE, str(script), str(port), mode, user, PASSWORD, TOKEN], root,
                             port, {"NODE_PATH": str(HOODIECROW_MODULES)})


def start_courier(root: Path) -> Server:
    """Courier-IMAP 5.0 from Debian's packages behind tests/courierfront.py's login."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "home").mkdir(exist_ok=True)
    port = free_port()
    front = Path(__file__).resolve().parent / "courierfront.py"
    return _start_announcing("courier", [sys.executable, str(front), str(COURIER_TREE),
                                         str(root / "home"), str(port), PASSWORD], root, port)
