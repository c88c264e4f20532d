"""Why a connection failed, in words: the cause and the setting that fixes it.

Called only after `Mailbox.connect` failed (a working setup never pays for it). Where the
exception alone is ambiguous (a TLS error, a timeout, an odd greeting) it looks at the port
again with plain sockets for a few seconds: does it greet as IMAP, speak TLS, say something
else, or nothing? The probes send no credentials and no IMAP command; the only bytes they
send are a TLS ClientHello. Whatever the server says is quoted, bounded and stripped of
control characters before it reaches a message.
"""

from __future__ import annotations

import errno
import imaplib
import re
import socket
import ssl
from typing import Any

from .config import Account
from .mailstore import MailboxError, SetupError, TLSError

PROBE_SECONDS = 3.0  # each look at the port after a failure
BANNER_CHARS = 60  # of a non-IMAP greeting, quoted in the message
_IMAP_GREETING = re.compile(rb"^\* (OK|PREAUTH|BYE)\b", re.IGNORECASE)
_EXPIRED, _NOT_YET_VALID = 10, 9  # OpenSSL X509_V_ERR_* codes
_WRONG_NAME = (62, 64)  # hostname mismatch, IP address mismatch
_UNREACHABLE = (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL)


def connect_failure(account: Account, exc: BaseException) -> MailboxError:
    """The error to raise for `exc` from opening the connection (before any login)."""
    if isinstance(exc, MailboxError):
        return exc
    if isinstance(exc, socket.gaierror):
        return _dns_failure(account, exc)
    if isinstance(exc, ConnectionRefusedError):
        return MailboxError(f"{_where(account)}: connection refused: nothing listens on port "
                            f"{account.port}; check port of account {account.name!r} "
                            f"({_usual_ports()}) and that the server runs")
    if isinstance(exc, OSError) and exc.errno in _UNREACHABLE:
        return MailboxError(f"{_where(account)}: cannot reach the host ({exc.strerror}); check "
                            f"this machine's network, or host of account {account.name!r}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return certificate_problem(account, exc)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return _silence(account)
    if isinstance(exc, ssl.SSLError):
        return _tls_refused(account, exc)
    if isinstance(exc, (imaplib.IMAP4.error, EOFError, OSError)):
        return _odd_greeting(account, exc)
    return MailboxError(f"{_where(account)}: connecting failed ({_short(str(exc))})")


def certificate_problem(account: Account, exc: ssl.SSLCertVerificationError) -> TLSError:
    """Which certificate problem it is (expired, untrusted, wrong name), and the fix."""
    cert = f"the certificate of {_where(account)} failed verification"
    if exc.verify_code == _EXPIRED:
        return TLSError(f"{cert}: it has expired; its administrator must renew it (ca_file "
                        "cannot fix an expired certificate; check this machine's clock too)")
    if exc.verify_code == _NOT_YET_VALID:
        return TLSError(f"{cert}: it is not valid yet; check this machine's clock")
    if exc.verify_code in _WRONG_NAME:
        names = certificate_names(account)
        named = f"it names {', '.join(names)}" if names else "it names another host"
        return TLSError(f"{cert}: {named}, not {account.host!r}; set host of account "
                        f"{account.name!r} to a name the certificate carries")
    trusted = (f"the CA in ca_file {account.ca_file!r}" if account.ca_file
               else "an authority this machine trusts")
    return TLSError(f"{cert}: {exc.verify_message or 'untrusted'}, not signed by {trusted}; if "
                    "you trust this server, save its certificate (or its CA) as a PEM file and "
                    f"set ca_file to that file for account {account.name!r}")


def certificate_names(account: Account) -> list[str]:
    """The names the server's certificate carries, when it is trusted apart from the name."""
    context = ssl.create_default_context(cafile=account.ca_file)
    context.check_hostname = False
    try:
        with socket.create_connection((account.host, account.port), PROBE_SECONDS) as raw:
            with context.wrap_socket(raw) as tls:
                cert = tls.getpeercert() or {}
    except (OSError, ValueError):
        return []
    alt: Any = cert.get("subjectAltName", ())
    names = [str(pair[1]) for pair in alt if pair[0] in ("DNS", "IP Address")]
    return [_printable(n, 80) for n in names[:5]]


def mechanism_problem(account: Account, capabilities: set[str]) -> str | None:
    """Why the configured way of logging in cannot work with these (pre-login) capabilities."""
    wanted = {"xoauth2": "AUTH=XOAUTH2", "oauthbearer": "AUTH=OAUTHBEARER"}.get(account.auth)
    offered = ", ".join(sorted(c for c in capabilities if c.startswith("AUTH="))[:8]) or "none"
    if wanted and wanted not in capabilities:
        return (f"{account.host} does not offer {wanted} (it offers: {offered}); set auth of "
                f"account {account.name!r} to one it offers (\"password\" for LOGIN)")
    if not wanted and "LOGINDISABLED" in capabilities:
        return (f"{account.host} refuses LOGIN on this connection (LOGINDISABLED): it wants TLS "
                f"first; set security = \"tls\" or \"starttls\" for account {account.name!r}")
    return None


# -- the causes ------------------------------------------------------------------------
def _dns_failure(account: Account, exc: socket.gaierror) -> MailboxError:
    reason = exc.strerror or str(exc)
    if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
        return SetupError(f"{_where(account)}: the host name {account.host!r} does not resolve "
                          f"({reason}); check host of account {account.name!r}")
    return MailboxError(f"{_where(account)}: looking up {account.host!r} failed ({reason}); "
                        "check the network and DNS of this machine")


def _silence(account: Account) -> MailboxError:
    """A timeout: no TCP connection at all, or a port that accepts but does not greet."""
    seconds = f"{account.connect_timeout:g} s (connect_timeout)"
    if not _accepts(account):
        return MailboxError(f"{_where(account)}: no answer to the connection within {seconds}: "
                            "the host is down, or a firewall drops the connection")
    tls = _speaks_tls(account)
    if account.security != "tls" and tls:
        return _expects_tls(account)
    what = ("TLS handshake answer" if not tls else "IMAP greeting after the TLS handshake"
            ) if account.security == "tls" else "IMAP greeting"
    return SetupError(f"{_where(account)}: connected, but no {what} within {seconds}; is port "
                      f"{account.port} an IMAP port? ({_usual_ports()})")


def _tls_refused(account: Account, exc: ssl.SSLError) -> MailboxError:
    """The TLS handshake failed: often a plain IMAP port, or no IMAP server at all."""
    try:
        first = _first_bytes(account)
    except OSError:
        first = b""
    if first:
        return _classified(account, first)
    return TLSError(f"{_where(account)}: TLS failed ({_short(str(exc.reason or exc))})")


def _odd_greeting(account: Account, exc: BaseException) -> MailboxError:
    """The connection opened, then closed (transient: retried, no probe) or said something
    imaplib could not read (look again at what it says)."""
    reason = _short(str(exc)) or type(exc).__name__
    if isinstance(exc, (EOFError, ConnectionResetError, BrokenPipeError)) or "EOF" in reason:
        return MailboxError(f"{_where(account)}: the connection closed before the IMAP greeting "
                            f"({reason})")
    try:
        first = _first_bytes(account)
    except OSError:
        first = b""
    if first and not _IMAP_GREETING.match(first):
        return _not_imap(account, first)
    return MailboxError(f"{_where(account)}: the server's greeting could not be read ({reason})")


def _classified(account: Account, first: bytes) -> MailboxError:
    """A port answered in plain text: plain IMAP (when TLS was wanted) or not IMAP at all."""
    if not _IMAP_GREETING.match(first):
        return _not_imap(account, first)
    if account.security == "tls":
        return TLSError(f"{_where(account)} speaks plain IMAP, not TLS: set security = "
                        f"\"starttls\" for this port, or use the server's TLS port (usually 993) "
                        f"for account {account.name!r}")
    return MailboxError(f"{_where(account)}: the server greeted but then closed the connection; "
                        "try again later")


def _not_imap(account: Account, first: bytes) -> SetupError:
    banner = _printable(first.split(b"\n", 1)[0].decode("latin-1"), BANNER_CHARS)
    return SetupError(f"{_where(account)} is not an IMAP server: it said {banner!r}; check port "
                      f"of account {account.name!r} ({_usual_ports()})")


def _expects_tls(account: Account) -> TLSError:
    return TLSError(f"{_where(account)} expects TLS from the first byte, not a plain IMAP "
                    f"greeting: set security = \"tls\" for this port (STARTTLS is usually on "
                    f"port 143) for account {account.name!r}")


# -- probes ----------------------------------------------------------------------------
def _first_bytes(account: Account) -> bytes:
    """What the port says unprompted within a few seconds (b"" for nothing); OSError if closed."""
    with socket.create_connection((account.host, account.port), PROBE_SECONDS) as sock:
        sock.settimeout(PROBE_SECONDS)
        try:
            return sock.recv(256)
        except (socket.timeout, TimeoutError):
            return b""


def _accepts(account: Account) -> bool:
    """Does the port accept a TCP connection within a few seconds?"""
    try:
        socket.create_connection((account.host, account.port), PROBE_SECONDS).close()
    except OSError:
        return False
    return True


def _speaks_tls(account: Account) -> bool:
    """Does the port complete a TLS handshake? (Certificate not checked: nothing is sent.)"""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((account.host, account.port), PROBE_SECONDS) as raw:
            raw.settimeout(PROBE_SECONDS)
            with context.wrap_socket(raw):
                return True
    except (OSError, ValueError):
        return False


# -- wording ---------------------------------------------------------------------------
def _where(account: Account) -> str:
    return f"{account.host}:{account.port}"


def _usual_ports() -> str:
    return "IMAP is port 993 with security = \"tls\", 143 with \"starttls\""


def _printable(text: str, limit: int) -> str:
    clean = "".join(c if c.isprintable() else "?" for c in text.strip())
    return clean if len(clean) <= limit else clean[:limit] + "…"


def _short(text: str) -> str:
    return _printable(text, 200)


__all__ = ["PROBE_SECONDS", "certificate_names", "certificate_problem", "connect_failure",
           "mechanism_problem"]
