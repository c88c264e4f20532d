"""Small fake servers on loopback for connection diagnosis: a port that never speaks, one that
speaks another protocol, a TLS port with a chosen certificate, a plain IMAP greeting with
chosen capabilities. Each records what the client sent, to prove no credentials left."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from pathlib import Path

CA_CONFIG = """[ca]
default_ca = d
[d]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = p
copy_extensions = copy
x509_extensions = ext
[p]
commonName = supplied
[ext]
basicConstraints = critical,CA:TRUE
subjectAltName = {names}
"""


class Listener:
    """Accepts connections on 127.0.0.1; `serve(conn)` is what each one gets."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.received = bytearray()
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.open.append(conn)
            threading.Thread(target=self._serve_quietly, args=(conn,), daemon=True).start()

    def _serve_quietly(self, conn: socket.socket) -> None:
        try:
            self.serve(conn)
        except OSError:
            pass

    def serve(self, conn: socket.socket) -> None:
        """Default: accept and say nothing (the connection stays open until close())."""

    def close(self) -> None:
        self.sock.close()
        for conn in self.open:
            try:
                conn.close()
            except OSError:
                pass


class Banner(Listener):
    """Greets with a fixed line, as an SSH or SMTP server does, then keeps the line open."""

    def __init__(self, banner: bytes) -> None:
        self.banner = banner
        super().__init__()

    def serve(self, conn: socket.socket) -> None:
        conn.sendall(self.banner)
        conn.settimeout(30)
        while data := conn.recv(4096):
            self.received += data


class PlainIMAP(Listener):
    """A plain IMAP greeting with these capabilities; answers CAPABILITY and LOGOUT only."""

    def __init__(self, capabilities: str) -> None:
        self.capabilities = capabilities
        super().__init__()

    def serve(self, conn: socket.socket) -> None:
        conn.sendall(f"* OK [CAPABILITY {self.capabilities}] fake ready\r\n".encode())
        conn.settimeout(30)
        for line in conn.makefile("rb"):
            self.received += line
            tag, _, command = line.decode(errors="replace").strip().partition(" ")
            if command.upper() == "CAPABILITY":
                conn.sendall(f"* CAPABILITY {self.capabilities}\r\n{tag} OK done\r\n".encode())
            elif command.upper() == "LOGOUT":
                conn.sendall(f"* BYE\r\n{tag} OK bye\r\n".encode())
                return
            else:
                conn.sendall(f"{tag} BAD not here\r\n".encode())


class TLSPort(Listener):
    """Implicit TLS with the given certificate, then an IMAP greeting."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        super().__init__()

    def serve(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            tls = self.context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            return
        tls.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake ready\r\n")
        while data := tls.recv(4096):
            self.received += data


def certificate(directory: Path, names: str, start: str = "", end: str = "") -> tuple[Path, Path]:
    """A self-signed CA:TRUE certificate for `names` (e.g. "DNS:localhost,IP:127.0.0.1"),
    valid from `start` to `end` (YYYYMMDDHHMMSSZ; default: from now for 2 days)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "index.txt").write_text("")
    (directory / "serial").write_text("01\n")
    (directory / "ca.cnf").write_text(CA_CONFIG.format(names=names))
    key, csr, cert = directory / "key.pem", directory / "req.csr", directory / "cert.pem"
    subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(csr), "-subj", "/CN=test"], check=True, capture_output=True)
    dates = ["-startdate", start, "-enddate", end] if start else ["-days", "2"]
    subprocess.run(["openssl", "ca", "-selfsign", "-batch", "-notext", "-config", "ca.cnf",
                    "-keyfile", str(key), "-in", str(csr), "-out", str(cert), *dates],
                   check=True, capture_output=True, cwd=directory)
    return cert, key
