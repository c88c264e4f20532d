"""The only module that speaks IMAP: connect, find new mail, fetch, label, move, draft, idle.

Wraps IMAPClient and turns its many exception types into ours: `AuthError` (never
retried), `FolderError` (a configuration problem), `ProtocolError` and `DeadlineError`
(the server broke a limit or the protocol, or the run ran out of time: not retried) and
`MailboxError` (the connection broke or timed out: retry on a new connection). Everything
the server sends is read through the bounds of transport.py.
"""

from __future__ import annotations

import datetime as dt
import imaplib
import logging
import re
import socket
import ssl
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.exceptions import ProtocolError as IMAPClientProtocolError
from imapclient.imap4 import IMAP4WithTimeout
from imapclient.response_types import SearchIds
from imapclient.tls import IMAP4_TLS

from .config import Account
from .transport import MAX_LINE_BYTES, BoundedReads, DeadlinePassed, LimitExceeded, Limits

log = logging.getLogger(__name__)

CHUNK = 200  # UIDs per FETCH/STORE command, keeps lines far below server limits
DRAFT_FOLDER_NAMES = ("Drafts", "INBOX.Drafts", "INBOX/Drafts", "Draft", "[Gmail]/Drafts",
                      "Entwürfe", "Brouillons", "Borradores", "Concepten")
_APPENDUID = re.compile(rb"APPENDUID (\d+) (\d+)")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
THREAD_IDS = 5  # most recent References searched for a thread look-up
_QUOTABLE = re.compile(r"[\x20-\x7e]{1,998}")
_ATOM = re.compile(r"[A-Za-z0-9-]{1,76}")
BODY_BYTES_PER_FETCH = 32 * 1024 * 1024  # bodies in one FETCH answer, at most
FETCH_OVERHEAD = 4096  # bytes of FETCH syntax around each body, generously


class MailboxError(RuntimeError):
    """Raised when the connection fails, times out or the server breaks protocol (transient)."""


class AuthError(MailboxError):
    """Raised when the server refuses the credentials (never retried)."""


class TLSError(MailboxError):
    """Raised when TLS cannot be established or verified (a setup problem, never retried)."""


class FolderError(MailboxError):
    """Raised when a folder is missing or cannot be used (a configuration problem)."""


class ProtocolError(MailboxError):
    """Raised when the server breaks the protocol or a size limit (never retried)."""


class DeadlineError(MailboxError):
    """Raised when the run's deadline passes while waiting for the server (never retried)."""


@dataclass(frozen=True)
class FolderState:
    """What SELECT told us about a folder."""

    name: str
    uidvalidity: int
    uidnext: int
    keywords_allowed: bool


@dataclass(frozen=True)
class Fetched:
    """One fetched message: raw bytes (maybe only the first part), size and flags."""

    uid: int
    raw: bytes
    size: int
    flags: tuple[str, ...]
    truncated: bool


def chunks(uids: Sequence[int], size: int = CHUNK) -> Iterator[list[int]]:
    """Consecutive slices of at most `size` UIDs, as lists of ints (imapclient #666)."""
    for start in range(0, len(uids), size):
        yield [int(u) for u in uids[start:start + size]]


def tls_context(account: Account) -> ssl.SSLContext:
    """A verifying context; `ca_file` adds a trusted CA (e.g. a self-signed server's cert)."""
    return ssl.create_default_context(cafile=account.ca_file)


class Mailbox:
    """One logged-in IMAP connection. `client` is the seam tests swap."""

    def __init__(self, client: IMAPClient, limits: Limits | None = None) -> None:
        self.client = client
        self.limits = limits
        self.selected: str | None = None

    @classmethod
    def connect(cls, account: Account, secret: str, deadline: float | None = None) -> Mailbox:
        """Connect, secure (TLS or mandatory STARTTLS) and log in; raise our errors only.

        `deadline` (a `time.monotonic()` value) ends every wait on this connection.
        """
        limits = Limits(account.read_timeout, max(account.max_message_bytes + 1, MAX_LINE_BYTES),
                        deadline, account.run_deadline)
        with _translated(f"connecting to {account.host}:{account.port}"):
            left = limits.seconds_left()
            connect = account.connect_timeout if left is None else min(account.connect_timeout, left)
            client = _BoundedClient(limits, account.host, port=account.port,
                                    ssl=account.security == "tls", ssl_context=tls_context(account),
                                    timeout=SocketTimeout(connect=connect, read=account.read_timeout))
        try:
            if account.security == "starttls":
                _starttls(client, account)
            _login(client, account, secret)
        except BaseException:
            _close_quietly(client)
            raise
        return cls(client, limits)

    def close(self) -> None:
        """Log out, ignoring a connection that is already gone."""
        _close_quietly(self.client)

    def has(self, capability: str) -> bool:
        with _translated("reading capabilities"):
            return bool(self.client.has_capability(capability))

    # -- reading ---------------------------------------------------------------------
    def select(self, folder: str, readonly: bool = False) -> FolderState:
        """SELECT (or EXAMINE) `folder` and report UIDVALIDITY, UIDNEXT and keyword support."""
        with _translated(f"selecting {folder}", folder):
            info = self.client.select_folder(folder, readonly=readonly)
        self.selected = folder
        permanent = [f.decode() if isinstance(f, bytes) else str(f)
                     for f in info.get(b"PERMANENTFLAGS", ())]
        validity = info.get(b"UIDVALIDITY")
        if not isinstance(validity, int) or validity <= 0:
            raise ProtocolError(f"selecting {folder}: the server sent no UIDVALIDITY, which IMAP "
                                "requires (RFC 3501 6.3.1); without it triage cannot tell new mail "
                                "from old, so it does not process this server")
        return FolderState(folder, validity, int(info.get(b"UIDNEXT", 0)), "\\*" in permanent)

    def new_uids(self, after_uid: int, since: dt.date | None) -> list[int]:
        """UIDs above `after_uid` (optionally arrived since a date), ascending.

        Filters the result, because `UID SEARCH UID n:*` returns the highest UID even when
        nothing is new.
        """
        criteria: list[object] = ["UID", f"{after_uid + 1}:*"]
        if since is not None:
            criteria += ["SINCE", since]
        with _translated("searching for new mail"):
            found: SearchIds = self.client.search(criteria)
        return sorted(int(u) for u in found if int(u) > after_uid)

    def fetch(self, uids: Sequence[int], max_bytes: int) -> list[Fetched]:
        """Flags, then at most `max_bytes` of each message (BODY.PEEK: never sets \\Seen).

        Every body is a bounded partial fetch, so the cap holds on the bytes received
        whatever RFC822.SIZE claims; one byte more than the cap is asked for to tell a
        message of exactly `max_bytes` from a longer one.
        """
        out: list[Fetched] = []
        per_fetch = max(1, BODY_BYTES_PER_FETCH // (max_bytes + 1))
        for chunk in chunks(uids):
            with _translated("fetching sizes and flags"):
                meta = self.client.fetch(chunk, ["RFC822.SIZE", "FLAGS"])
            present = [u for u in chunk if u in meta]
            bodies: dict[int, bytes] = {}
            for group in chunks(present, per_fetch):
                bodies.update(self._bodies(group, max_bytes + 1))
            for uid in present:
                if uid in bodies:
                    raw, size = bodies[uid], _int(meta[uid].get(b"RFC822.SIZE", 0))
                    flags = tuple(_text(f) for f in meta[uid].get(b"FLAGS", ()))
                    out.append(Fetched(uid, raw[:max_bytes], size, flags,
                                       len(raw) > max_bytes or size > max_bytes))
        return out

    def message_ids(self, uids: Sequence[int]) -> dict[int, str]:
        """The Message-ID header of each of these UIDs that still exists (peek only)."""
        if not uids:
            return {}
        with _translated("fetching Message-IDs"):
            response = self.client.fetch(list(uids), ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        out = {}
        for uid, data in response.items():
            raw = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER")), b"") or b""
            out[int(uid)] = raw.decode("utf-8", "replace")
        return out

    def _bodies(self, uids: list[int], limit: int) -> dict[int, bytes]:
        """The first `limit` bytes of each message; the answer may be no larger than that."""
        if not uids:
            return {}
        with self._allowing(len(uids) * (limit + FETCH_OVERHEAD)), \
                _translated("fetching message bodies"):
            response = self.client.fetch(uids, [f"BODY.PEEK[]<0.{limit}>"])
        return {int(u): bytes(next((v for k, v in data.items() if k.startswith(b"BODY[")), b"")
                              or b"") for u, data in response.items()}

    @contextmanager
    def _allowing(self, answer_bytes: int) -> Iterator[None]:
        """Let the next commands' answers be up to `answer_bytes` (default: transport's limit)."""
        if self.limits is None:
            yield
            return
        before = self.limits.command_bytes
        self.limits.command_bytes = max(before, answer_bytes)
        try:
            yield
        finally:
            self.limits.command_bytes = before

    # -- labelling ---------------------------------------------------------------------
    def add_keyword(self, uids: Sequence[int], keyword: str) -> None:
        """STORE +FLAGS.SILENT keyword on these UIDs, one command per chunk."""
        for chunk in chunks(uids):
            with _translated(f"storing keyword {keyword}"):
                self.client.add_flags(chunk, [keyword], silent=True)

    def move(self, uids: Sequence[int], folder: str) -> None:
        """MOVE when offered; else COPY, then flag and UID EXPUNGE only those UIDs (UIDPLUS)."""
        if not self.folder_exists(folder):
            raise FolderError(f"folder {folder!r} does not exist; create it in your mail client "
                              "or change move_to in the config")
        for chunk in chunks(uids):
            with _translated(f"moving to {folder}", folder):
                if self.client.has_capability("MOVE"):
                    self.client.move(chunk, folder)
                    continue
                self.client.copy(chunk, folder)
                self.client.add_flags(chunk, [b"\\Deleted"], silent=True)
                if self.client.has_capability("UIDPLUS"):
                    self.client.uid_expunge(chunk)

    def keyword_uids(self, keyword: str, since: dt.date | None = None) -> list[int]:
        """UIDs in the selected folder that carry `keyword` (optionally arrived since), ascending."""
        criteria: list[object] = ["KEYWORD", keyword] + (["SINCE", since] if since else [])
        with _translated(f"searching for keyword {keyword}"):
            return sorted(int(u) for u in self.client.search(criteria))

    # -- folders -----------------------------------------------------------------------
    def hierarchy(self) -> tuple[str, str]:
        """The personal namespace prefix and hierarchy delimiter, e.g. ("", "/") or ("INBOX.", ".")."""
        with _translated("reading the folder namespace"):
            if self.client.has_capability("NAMESPACE"):
                personal = self.client.namespace().personal or ()
                if personal:
                    prefix, delimiter = personal[0]
                    return _text(prefix or ""), _text(delimiter or "") or "/"
            listed = self.client.list_folders("", "")
        delimiter = _text(listed[0][1]) if listed and listed[0][1] else "/"
        return "", delimiter

    def create_folder(self, folder: str) -> bool:
        """CREATE `folder` unless it exists; True when it was created."""
        if self.folder_exists(folder):
            return False
        with _translated(f"creating {folder}", folder):
            self.client.create_folder(folder)
        return True

    # -- drafts ------------------------------------------------------------------------
    def folder_exists(self, folder: str) -> bool:
        with _translated("listing folders"):
            return bool(self.client.folder_exists(folder))

    def special_folder(self, attribute: bytes) -> str | None:
        """The folder with a SPECIAL-USE attribute such as b"\\\\Drafts", if the server says."""
        with _translated("listing folders"):
            for flags, _, name in self.client.list_folders():
                if attribute in flags:
                    return str(name)
        return None

    def drafts_folder(self, configured: str | None) -> str:
        """\\Drafts by special-use, else the configured name, else a common name; never created."""
        special = self.special_folder(b"\\Drafts")
        if special:
            return special
        for name in ([configured] if configured else []) + list(DRAFT_FOLDER_NAMES):
            if self.folder_exists(name):
                return name
        raise FolderError("no Drafts folder: the server marks none with \\Drafts and none of "
                          f"{', '.join(([configured] if configured else []) + list(DRAFT_FOLDER_NAMES[:3]))} "
                          "exists; create one in your mail client or set drafts_folder")

    def find_header(self, folder: str, header: str, value: str) -> list[int]:
        """UIDs in `folder` (EXAMINEd) whose `header` contains `value`."""
        self.select(folder, readonly=True)
        with _translated(f"searching {folder}"):
            return [int(u) for u in self.client.search(["HEADER", header, value])]

    def find_any_header(self, folder: str, header: str, values: Sequence[str]) -> list[int]:
        """UIDs in `folder` whose `header` contains any of the last THREAD_IDS `values`.

        One SEARCH (`OR HEADER h v1 OR HEADER h v2 …`) however long `values` is, for thread
        look-ups: References lists the oldest first, so the most recent ids are last. Each
        value is sent quoted; a value that cannot be (not printable ASCII) is left out.
        """
        wanted = [v for v in values if _QUOTABLE.fullmatch(v)][-THREAD_IDS:]
        if len(wanted) < min(len(values), THREAD_IDS):
            log.info("%d non-ASCII ids left out of a look-up in %s", len(values) - len(wanted), folder)
        if not wanted or not _ATOM.fullmatch(header):
            return []
        terms = [f'HEADER {header} "{_quote(v)}"' for v in wanted]
        criteria = " ".join(["OR " + t for t in terms[:-1]] + terms[-1:])
        if self.selected != folder:
            self.select(folder, readonly=True)
        with _translated(f"searching {folder}"):
            return sorted(int(u) for u in self.client.search(criteria.encode("ascii")))

    def append_draft(self, folder: str, raw: bytes) -> int | None:
        """APPEND with \\Draft; the new UID when the server reports APPENDUID."""
        with _translated(f"appending a draft to {folder}", folder):
            response = self.client.append(folder, raw, flags=[b"\\Draft"])
        match = _APPENDUID.search(response if isinstance(response, bytes) else b"")
        return int(match.group(2)) if match else None

    # -- waiting -----------------------------------------------------------------------
    def idle_until_news(self, seconds: float) -> bool:
        """IDLE on the selected folder up to `seconds`; True if the server reported new mail."""
        with _translated("waiting in IDLE"):
            self.client.idle()
            try:
                responses = self.client.idle_check(timeout=seconds)
            finally:
                self.client.idle_done()
        return any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)


def _starttls(client: IMAPClient, account: Account) -> None:
    """Mandatory STARTTLS: any failure aborts before credentials are sent."""
    with _translated("reading capabilities"):
        offered = client.has_capability("STARTTLS")
    if not offered:
        raise TLSError(f"{account.host}:{account.port} does not offer STARTTLS; refusing to log in "
                       "without encryption (use security = \"tls\" on port 993 if it has it)")
    with _translated("starting TLS"):
        client.starttls(tls_context(account))


def _login(client: IMAPClient, account: Account, secret: str) -> None:
    with _translated("logging in"):
        try:
            if account.auth == "xoauth2":
                client.oauth2_login(account.username, secret)
            elif account.auth == "oauthbearer":
                client.oauthbearer_login(account.username, secret)
            else:
                client.login(account.username, secret)
        except (LoginError, imaplib.IMAP4.error) as exc:
            if isinstance(exc, imaplib.IMAP4.abort):
                raise
            raise AuthError(f"{account.host} refused the login for {account.username!r} "
                            f"({_reason(exc)}); check the password source of account "
                            f"{account.name!r}") from None


def _reason(exc: BaseException) -> str:
    """The error's words on one line, control characters removed, at most 200 characters."""
    text = " ".join(_CONTROLS.sub(" ", str(exc)).split())
    return text if len(text) < 200 else text[:200] + "…"


def _quote(value: str) -> str:
    """The inside of an IMAP quoted string (RFC 3501 quoted-specials escaped)."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _int(value: object) -> int:
    """A number the server sent, or 0 when it is not one."""
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0


class _BoundedClient(IMAPClient):
    """IMAPClient whose every read goes through transport.BoundedReads with these `limits`."""

    def __init__(self, limits: Limits, host: str, **kwargs: object) -> None:
        self.limits = limits
        super().__init__(host, **kwargs)  # type: ignore[arg-type]

    def _create_IMAP4(self) -> imaplib.IMAP4:
        connect = getattr(self._timeout, "connect", None)
        if self.ssl:
            return _BoundedTLS(self.limits, self.host, self.port, self.ssl_context, connect)
        return _BoundedPlain(self.limits, self.host, self.port, connect)


class _BoundedPlain(BoundedReads, IMAP4WithTimeout):
    def __init__(self, limits: Limits, host: str, port: int, timeout: float | None) -> None:
        self._bound(limits)
        IMAP4WithTimeout.__init__(self, host, port, timeout)


class _BoundedTLS(BoundedReads, IMAP4_TLS):
    def __init__(self, limits: Limits, host: str, port: int, context: ssl.SSLContext | None,
                 timeout: float | None) -> None:
        self._bound(limits)
        IMAP4_TLS.__init__(self, host, port, context, timeout)


class _translated:
    """Context manager mapping socket, TLS and IMAP errors to MailboxError subclasses."""

    def __init__(self, doing: str, folder: str | None = None) -> None:
        self.doing, self.folder = doing, folder

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, _tb: object) -> None:
        if exc is None or isinstance(exc, MailboxError):
            return None
        if isinstance(exc, ssl.SSLCertVerificationError):
            raise TLSError(f"{self.doing}: the server's certificate failed verification "
                           f"({exc.verify_message}); if it is self-signed, set ca_file to its "
                           "certificate") from None
        if isinstance(exc, ssl.SSLError):
            raise TLSError(f"{self.doing}: TLS failed ({exc.reason or exc})") from None
        if isinstance(exc, DeadlinePassed):
            raise DeadlineError(f"{self.doing}: {exc}") from None
        if isinstance(exc, LimitExceeded):
            raise ProtocolError(f"{self.doing}: {exc}") from None
        if isinstance(exc, (IMAPClientProtocolError, ValueError)):
            raise ProtocolError(f"{self.doing}: the server's answer is not valid IMAP "
                                f"({_reason(exc)})") from None
        if isinstance(exc, (socket.timeout, TimeoutError)):
            raise MailboxError(f"{self.doing}: the server did not answer in time") from None
        if isinstance(exc, (OSError, EOFError, imaplib.IMAP4.abort)):
            raise MailboxError(f"{self.doing}: connection lost ({_reason(exc) or type(exc).__name__})") from None
        if isinstance(exc, (IMAPClientError, imaplib.IMAP4.error)):
            if self.folder:
                raise FolderError(f"folder {self.folder!r} cannot be used ({_reason(exc)}); create "
                                  "it in your mail client or fix the config") from None
            raise MailboxError(f"{self.doing}: the server said {_reason(exc)}") from None
        return None


def _close_quietly(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - the connection may already be gone
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001
            pass
