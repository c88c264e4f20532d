"""The only module that speaks IMAP: connect, find new mail, fetch, label, move, draft, idle.

Wraps IMAPClient and turns its many exception types into the errors of mailstore.py. Every
byte the server sends is read through the bounds of transport.py (line, literal and answer
sizes, and the run's deadline inside every wait); breaking one is a `ServerFault`, running
out of time a `DeadlineError`, and neither is retried.

Server differences handled here: Gmail (X-GM-EXT-1: labels instead of keywords, `[Gmail]/All
Mail` is a second view of every message), servers without MOVE or UIDPLUS (no moves), servers
that ignore APPEND flags, servers that refuse APPEND into a folder selected read-only
(Courier), and servers whose `UID SEARCH UID n:*` misses new mail (GNU Mailutils).
"""

from __future__ import annotations

import datetime as dt
import imaplib
import logging
import re
import socket
import ssl
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.exceptions import ProtocolError as IMAPClientProtocolError
from imapclient.imap4 import IMAP4WithTimeout
from imapclient.imapclient import _literal
from imapclient.response_types import SearchIds
from imapclient.tls import IMAP4_TLS

from .config import Account
from .diagnose import certificate_problem, connect_failure, mechanism_problem
from .mailstore import (AuthError, DeadlineError, Fetched, FolderError, FolderState, MailboxError,
                        ProtocolError, ServerFault, TLSError, ValidityChanged)
from .transport import MAX_LINE_BYTES, BoundedReads, DeadlinePassed, LimitExceeded, Limits

__all__ = ["AuthError", "DeadlineError", "Fetched", "FolderError", "FolderState", "Mailbox",
           "MailboxError", "ProtocolError", "ServerFault", "TLSError", "ValidityChanged", "chunks",
           "search_value"]

log = logging.getLogger(__name__)

CHUNK = 200  # UIDs per FETCH/STORE command, keeps lines far below server limits
DRAFT_FOLDER_NAMES = ("Drafts", "INBOX.Drafts", "INBOX/Drafts", "Draft", "[Gmail]/Drafts",
                      "Entwürfe", "Brouillons", "Borradores", "Concepten")
_APPENDUID = re.compile(rb"APPENDUID (\d+) (\d+)")
_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]{1,500}>)", re.I | re.M)
MAX_UID = 4294967295  # RFC 3501: UIDs are 32-bit
MAX_LOOKUP_IDS = 8  # Message-IDs per thread/draft look-up: one SEARCH, bounded whatever the mail says
IDLE_RENEW = 25 * 60  # re-issue IDLE well before the 29-minute limit of RFC 2177
_SEARCHABLE = re.compile(r"^[\x21-\x7e\u00a0-\U0010ffff]{1,998}$")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
BODY_BYTES_PER_FETCH = 32 * 1024 * 1024  # bodies in one FETCH answer, at most
FETCH_OVERHEAD = 4096  # bytes of FETCH syntax around each body, generously


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
        self.limits = limits  # what the server may send (transport.py); None: imaplib's own
        self.selected: str | None = None
        self.readonly = False
        self.state: FolderState | None = None  # of the selected folder
        self.stop = threading.Event()  # set by `triage watch` to end a wait early
        self._noted: set[str] = set()

    @classmethod
    def connect(cls, account: Account, secret: str, deadline: float | None = None) -> Mailbox:
        """Connect, secure (TLS or mandatory STARTTLS) and log in; raise our errors only.

        `deadline` (a `time.monotonic()` value) ends every wait on this connection;
        connect_timeout bounds the TCP connect, the TLS handshake and the greeting.
        """
        limits = Limits(account.connect_timeout,  # the greeting, too, within connect_timeout
                        max(account.max_message_bytes + 1, MAX_LINE_BYTES), deadline,
                        account.run_deadline)
        try:
            left = limits.seconds_left()
            connect = account.connect_timeout if left is None else min(account.connect_timeout, left)
            tls = account.security == "tls"  # STARTTLS makes its context later; plain needs none
            client = _BoundedClient(limits, account.host, port=account.port, ssl=tls,
                                    ssl_context=tls_context(account) if tls else None,
                                    timeout=SocketTimeout(connect=connect, read=account.read_timeout))
        except Exception as exc:  # noqa: BLE001 - every cause is translated into words
            raise _connect_error(account, exc) from None
        limits.read_timeout = account.read_timeout  # every later answer within read_timeout
        try:
            if account.security == "starttls":
                _starttls(client, account)
            _login(client, account, secret)
            _enable_condstore(client)
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

    @property
    def gmail(self) -> bool:
        """True on Gmail (X-GM-EXT-1): labels are X-GM-LABELS, not keywords."""
        return self.has("X-GM-EXT-1")

    def can_move(self) -> bool:
        """MOVE, or COPY + UID EXPUNGE of only our UIDs (UIDPLUS); else moving would leave
        originals flagged \\Deleted for the next expunge by any client to delete."""
        return self.has("MOVE") or self.has("UIDPLUS")

    def is_all_mail(self, folder: str) -> bool:
        """True for Gmail's \\All folder, which shows every message a second time."""
        return self.gmail and self.special_folder(b"\\All") == folder

    def _note_once(self, key: str, text: str, *args: object) -> None:
        if key not in self._noted:
            self._noted.add(key)
            log.warning(text, *args)

    # -- reading ---------------------------------------------------------------------
    def select(self, folder: str, readonly: bool = False) -> FolderState:
        """SELECT (or EXAMINE) `folder` and report UIDVALIDITY, UIDNEXT and keyword support."""
        with _translated(f"selecting {folder}", folder):
            info = self.client.select_folder(folder, readonly=readonly)
        self.selected, self.readonly = folder, readonly
        permanent = [_text(f) for f in info.get(b"PERMANENTFLAGS", ())]
        validity = _number(info.get(b"UIDVALIDITY"))
        if validity is None:
            raise ServerFault(f"the server sent no valid UIDVALIDITY for {folder!r} "
                               f"(got {_text(info.get(b'UIDVALIDITY'))[:40]!r}); without it UIDs "
                               "cannot be trusted, so nothing in this folder is touched")
        self.state = FolderState(folder, validity, _number(info.get(b"UIDNEXT")) or 0,
                                 "\\*" in permanent or self.gmail,
                                 _number(info.get(b"EXISTS")) or 0,
                                 _number(info.get(b"HIGHESTMODSEQ"), bits=63) or 0)
        return self.state

    def new_uids(self, after_uid: int, since: dt.date | None) -> list[int]:
        """UIDs above `after_uid` (optionally arrived since a date), ascending.

        Filters the result, because `UID SEARCH UID n:*` returns the highest UID even when
        nothing is new; and when the scan finds nothing although the server reports mail
        above `after_uid`, scans again with an explicit upper bound (GNU Mailutils answers
        `UID n:*` with nothing).
        """
        found = self._search_uids(f"{int(after_uid) + 1}:*", since, after_uid)
        if found or self._highest_uid() <= after_uid:
            return found
        found = self._search_uids(f"{after_uid + 1}:{MAX_UID}", since, after_uid)
        if found:
            self._note_once("uid-star", "%s: the server's answer to UID SEARCH UID %d:* missed "
                            "%d new messages; using an explicit upper bound instead",
                            self.selected, after_uid + 1, len(found))
        return found

    def _search_uids(self, uid_set: str, since: dt.date | None, after_uid: int) -> list[int]:
        criteria: list[object] = ["UID", uid_set] + (["SINCE", since] if since else [])
        with _translated("searching for new mail"):
            found: SearchIds = self.client.search(criteria)
        return sorted(int(u) for u in found if int(u) > after_uid)

    def _highest_uid(self) -> int:
        """The highest UID the selected folder holds, from what SELECT reported (or a FETCH)."""
        state = self.state
        if state is None or state.exists == 0:
            return 0
        if state.uidnext:
            return state.uidnext - 1
        with _translated("fetching the UID of the newest message"):
            self.client.use_uid = False
            try:
                response = self.client.fetch([state.exists], ["UID"])
            finally:
                self.client.use_uid = True
        return max((int(d.get(b"UID", 0)) for d in response.values()), default=0)

    def fetch(self, uids: Sequence[int], max_bytes: int) -> list[Fetched]:
        """Flags, then at most `max_bytes` of each message (BODY.PEEK: never sets \\Seen).

        Every body is a bounded partial fetch, so the cap holds on the bytes received
        whatever RFC822.SIZE claims; one byte more than the cap is asked for to tell a
        message of exactly `max_bytes` from a longer one.
        """
        out: list[Fetched] = []
        per_fetch = max(1, BODY_BYTES_PER_FETCH // (max_bytes + 1))
        for chunk in chunks(uids):
            items = ["RFC822.SIZE", "FLAGS"] + (["X-GM-LABELS"] if self.gmail else [])
            with _translated("fetching sizes and flags"):
                meta = self.client.fetch(chunk, items)
            present = [u for u in chunk if u in meta]
            bodies: dict[int, bytes] = {}
            for group in chunks(present, per_fetch):
                bodies.update(self._bodies(group, max_bytes + 1))
            for uid in present:
                if uid in bodies:
                    raw, size = bodies[uid], _number(meta[uid].get(b"RFC822.SIZE")) or 0
                    flags = tuple(_text(f) for f in (*meta[uid].get(b"FLAGS", ()),
                                                       *meta[uid].get(b"X-GM-LABELS", ())))
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
            out[int(uid)] = raw.decode("utf-8", "surrogateescape")  # 8-bit bytes kept
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
        """STORE +FLAGS.SILENT keyword on these UIDs (a Gmail label on Gmail), per chunk."""
        for chunk in chunks(uids):
            with _translated(f"storing keyword {keyword}"):
                if self.gmail:
                    self.client.add_gmail_labels(chunk, [keyword])
                else:
                    self.client.add_flags(chunk, [keyword], silent=True)

    def remove_keyword(self, uids: Sequence[int], keyword: str) -> None:
        """STORE -FLAGS.SILENT keyword on these UIDs (the Gmail label on Gmail), per chunk."""
        for chunk in chunks(uids):
            with _translated(f"removing keyword {keyword}"):
                if self.gmail:
                    self.client.remove_gmail_labels(chunk, [keyword])
                else:
                    self.client.remove_flags(chunk, [keyword], silent=True)

    def move(self, uids: Sequence[int], folder: str) -> None:
        """MOVE when offered; else COPY, then flag and UID EXPUNGE only those UIDs (UIDPLUS).

        Refused without both: a COPY and `\\Deleted` would leave the originals for any
        client's next EXPUNGE to delete, and triage never deletes mail.
        """
        if not self.can_move():
            raise ProtocolError(f"the server offers neither MOVE nor UIDPLUS, so a move to "
                                 f"{folder!r} could delete mail; not moved (keyword only)")
        if not self.folder_exists(folder):
            raise FolderError(f"folder {folder!r} does not exist; create it in your mail client "
                              "or change move_to in the config")
        for chunk in chunks(uids):
            with _translated(f"moving to {folder}", folder, writing=True):
                if self.client.has_capability("MOVE"):
                    self.client.move(chunk, folder)
                    continue
                self.client.copy(chunk, folder)
                self.client.add_flags(chunk, [b"\\Deleted"], silent=True)
                self.client.uid_expunge(chunk)

    def keyword_uids(self, keyword: str, since: dt.date | None = None,
                     changed_since: int = 0) -> list[int]:
        """UIDs in the selected folder that carry `keyword` (the label on Gmail), ascending;
        with `changed_since`, only those whose flags changed after that mod-sequence."""
        kind = "X-GM-LABELS" if self.gmail else "KEYWORD"
        criteria: list[object] = [kind, keyword] + (["SINCE", since] if since else [])
        with _translated(f"searching for keyword {keyword}"):
            if changed_since > 0 and "modseq-search" not in self._noted:
                try:
                    return sorted(int(u) for u in self.client.search(
                        [*criteria, "MODSEQ", int(changed_since) + 1]))
                except IMAPClientError as exc:  # Hoodiecrow: CONDSTORE listed, MODSEQ refused
                    if isinstance(exc, imaplib.IMAP4.abort):
                        raise
                    self._noted.add("modseq-search")  # works, only slower: info, not warning
                    log.info("%s refused SEARCH MODSEQ (%s); keywords are searched in full",
                             self.selected, _text(str(exc))[:100])
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
        """True only when LIST returns exactly this name (a server may answer with another)."""
        with _translated("listing folders"):
            listed = self.client.list_folders("", folder)
        return any(_same_folder(str(name), folder) for _, _, name in listed)

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

    def find_by_message_id(self, folder: str, message_ids: Sequence[str]) -> list[int]:
        """UIDs in `folder` (EXAMINEd unless selected) whose Message-ID is one of the last few ids.

        One SEARCH whatever the message claims (a few most recent ids, ORed), each id sent
        as a literal so no character of it can change the command.
        """
        wanted = [v for v in (search_value(i) for i in message_ids[-MAX_LOOKUP_IDS:]) if v]
        if not wanted:
            return []
        criteria: list[object] = ["HEADER", "Message-ID", wanted[0]]
        for value in wanted[1:]:
            criteria = ["OR", "HEADER", "Message-ID", value, *criteria]
        if self.selected != folder:  # a folder already selected (even read-write) will do
            self.select(folder, readonly=True)
        with _translated(f"searching {folder}"):
            return sorted(int(u) for u in self.client.search(criteria))

    def threaded_replies(self, folder: str, message_ids: Sequence[str]) -> set[str]:
        """Of `message_ids`, those answered by a message in `folder` (EXAMINEd): one SEARCH per
        id on In-Reply-To or References, the id sent as a literal; unsearchable ids never match."""
        self.select(folder, readonly=True)
        answered = set()
        for message_id in message_ids:
            value = search_value(message_id)
            if value is None:
                continue
            criteria = ["OR", "HEADER", "In-Reply-To", value, "HEADER", "References", value]
            with _translated(f"searching {folder} for replies"):
                if self.client.search(criteria):
                    answered.add(message_id)
        return answered

    def append_draft(self, folder: str, raw: bytes, keyword: str | None = None) -> int | None:
        """APPEND with \\Draft and \\Seen (the user's own draft is not new mail) and `keyword`
        if the server takes it; the new UID when the server reports APPENDUID (or a
        search finds it).

        Never appends to a folder this connection holds read-only (Courier refuses that):
        after the EXAMINE of a look-up, the folder is SELECTed read-write first (CLOSE is
        not an option: pymap refuses it on a read-only folder; SELECT changes nothing). On
        servers that drop APPEND flags, \\Draft is STOREd afterwards.
        """
        if self.selected == folder and self.readonly:
            self.select(folder)
        flags = [b"\\Draft", b"\\Seen"]
        with _translated(f"appending a draft to {folder}", folder, writing=True):
            try:
                response = self.client.append(folder, raw,
                                              flags=flags + ([keyword.encode()] if keyword else []))
            except IMAPClientError as exc:  # NO/BAD: nothing appended; some refuse keywords
                if not keyword or isinstance(exc, imaplib.IMAP4.abort):
                    raise
                log.warning("%s refused keyword %s on a draft; appending without it", folder, keyword)
                response = self.client.append(folder, raw, flags=flags)
        match = _APPENDUID.search(response if isinstance(response, bytes) else b"")
        uid = int(match.group(2)) if match else None
        return self._ensure_draft_flag(folder, raw, uid)

    def _ensure_draft_flag(self, folder: str, raw: bytes, uid: int | None) -> int | None:
        """STORE \\Draft on the appended message when the server did not keep it."""
        if self.selected != folder or self.readonly:
            self.select(folder)
        if uid is None:
            message_id = _MESSAGE_ID.search(raw.split(b"\r\n\r\n", 1)[0])
            value = search_value(message_id.group(1).decode("ascii", "replace")) if message_id else None
            if value is None:
                return None
            with _translated(f"searching {folder}"):
                found = self.client.search(["HEADER", "Message-ID", value])
            uid = max((int(u) for u in found), default=None)
            if uid is None:
                return None
        with _translated(f"checking the flags of the draft in {folder}"):
            found = self.client.get_flags([uid])
            if uid not in found:  # a server that shows appended mail only after a new SELECT
                self.select(folder)
                found = self.client.get_flags([uid])
            flags = found.get(uid, ())
            if b"\\Draft" not in flags:
                self._note_once("draft-flag", "%s dropped the \\Draft flag given with APPEND; "
                                "storing it afterwards", folder)
                self.client.add_flags([uid], [b"\\Draft"], silent=True)
        return uid

    # -- waiting ---------------------------------------------------------------------
    def wait_for_news(self, seconds: float) -> bool:
        """Wait on the selected folder up to `seconds`: IDLE where offered, else NOOP polls.

        Returns True as soon as the server reports EXISTS or RECENT, including a report that
        arrived while IDLE was starting (mail that landed after the last scan). Ends early,
        returning False, when `self.stop` is set; IDLE is renewed before RFC 2177's limit.
        """
        deadline = time.monotonic() + seconds
        if not self.has("IDLE"):
            return self._poll(deadline)
        while time.monotonic() < deadline and not self.stop.is_set():
            with _translated("waiting in IDLE"):
                if self._idle_once(min(deadline, time.monotonic() + IDLE_RENEW)):
                    return True
        return False

    def _idle_once(self, until: float) -> bool:
        _pending_untagged(self.client)  # stale: the counts SELECT reported, already scanned
        self.client.idle()
        news = _announces_mail(_pending_untagged(self.client))
        try:
            while not news and time.monotonic() < until and not self.stop.is_set():
                slice_ = max(0.05, min(1.0, until - time.monotonic()))
                news = _announces_mail(self.client.idle_check(timeout=slice_))
        finally:
            done = self.client.idle_done()
        return news or _announces_mail(done[1] if isinstance(done, tuple) else [])

    def _poll(self, deadline: float) -> bool:
        """No IDLE: NOOP every few seconds until the server reports mail or time is up."""
        while time.monotonic() < deadline and not self.stop.is_set():
            with _translated("polling with NOOP"):
                if _announces_mail(self.client.noop()[1]):
                    return True
            self.stop.wait(min(5.0, max(0.0, deadline - time.monotonic())))
        return False


def search_value(value: str) -> bytes | None:
    """`value` as an IMAP literal for SEARCH, or None when it cannot be searched safely.

    A literal carries any byte verbatim (no atom or quoted-string rule to break), so a
    Message-ID such as `<a(b@x>` or `<x{5}@y>` can never alter the command. Values with
    spaces, control or non-ASCII characters are never Message-IDs worth looking up.
    """
    if not _SEARCHABLE.match(value) or not value.isascii():
        return None
    return _literal(value.encode("ascii"))


def _announces_mail(responses: object) -> bool:
    if not isinstance(responses, (list, tuple)):
        return False
    return any(isinstance(r, tuple) and len(r) > 1 and r[1] in (b"EXISTS", b"RECENT")
               for r in responses)


def _pending_untagged(client: IMAPClient) -> list[tuple[int, bytes]]:
    """EXISTS/RECENT that imaplib stored while IDLE was starting (sent before "+ idling")."""
    stored = getattr(getattr(client, "_imap", None), "untagged_responses", {})
    out = []
    for kind in ("EXISTS", "RECENT"):
        for value in stored.pop(kind, []) or []:
            out.append((_number(value) or 0, kind.encode()))
    return out


def _number(value: object, bits: int = 32) -> int | None:
    """A non-negative number below 2**bits from a server value (UIDs are 32-bit, mod-sequences
    63-bit), or None when it is not one."""
    if isinstance(value, int):
        number = value
    else:
        text = _text(value).strip() if value is not None else ""
        if not text.isdigit() or len(text) > 19:
            return None
        number = int(text)
    return number if 0 <= number < 2 ** bits else None


def _starttls(client: IMAPClient, account: Account) -> None:
    """Mandatory STARTTLS: any failure aborts before credentials are sent."""
    with _translated("reading capabilities"):
        offered = client.has_capability("STARTTLS")
    if not offered:
        raise TLSError(f"{account.host}:{account.port} does not offer STARTTLS; refusing to log in "
                       "without encryption (use security = \"tls\" on port 993 if it has it)")
    with _translated("starting TLS"):
        try:
            client.starttls(tls_context(account))
        except ssl.SSLCertVerificationError as exc:
            raise certificate_problem(account, exc) from None


def _enable_condstore(client: IMAPClient) -> None:
    """ENABLE CONDSTORE where offered, so SELECT reports HIGHESTMODSEQ (Dovecot sends it only
    then) and a poll asks only for flags changed since the last one. Refused: no harm."""
    with _translated("reading capabilities"):
        if not (client.has_capability("CONDSTORE") and client.has_capability("ENABLE")):
            return
        try:
            client.enable("CONDSTORE")
        except IMAPClientError as exc:  # listed yet refused: keywords are searched in full
            if isinstance(exc, imaplib.IMAP4.abort):
                raise
            log.info("the server refused ENABLE CONDSTORE (%s); corrections are found by full "
                     "scans", _text(str(exc))[:120])


def _login(client: IMAPClient, account: Account, secret: str) -> None:
    with _translated("reading capabilities"):
        offered = {_text(c).upper() for c in client.capabilities()}
    problem = mechanism_problem(account, offered)
    if problem:
        raise AuthError(problem)
    with _translated("logging in"):
        try:
            if account.auth == "xoauth2":
                client.oauth2_login(account.username, secret)
            elif account.auth == "oauthbearer":
                client.oauthbearer_login(account.username, secret)
            elif secret.isascii():
                client.login(account.username, secret)
            else:
                _login_utf8(client, account, secret)
        except (LoginError, imaplib.IMAP4.error) as exc:
            if _behind(exc, imaplib.IMAP4.abort):  # imapclient turns a broken answer into a
                raise                                # LoginError: not a refusal, not exit 3
            if account.auth != "password":
                raise AuthError(f"{account.host} refused the OAuth2 access token for "
                                f"{account.username!r} ({_reason(exc)}); check that the "
                                f"token_command of account {account.name!r} prints a fresh "
                                "access token for this user with IMAP scope") from None
            raise AuthError(f"{account.host} refused the login for {account.username!r} "
                            f"({_reason(exc)}); check the password source of account "
                            f"{account.name!r}") from None


def _same_folder(listed: str, wanted: str) -> bool:
    """Folder names compare exactly, except INBOX, which is case-insensitive (RFC 3501)."""
    return listed == wanted or (listed.upper() == "INBOX" and wanted.upper() == "INBOX")


def _login_utf8(client: IMAPClient, account: Account, secret: str) -> None:
    """LOGIN can carry only ASCII; SASL PLAIN carries UTF-8. Never let the secret reach an
    encoding error (its message would quote the character)."""
    if not client.has_capability("AUTH=PLAIN"):
        raise AuthError(f"the password of account {account.name!r} has non-ASCII characters and "
                        f"{account.host} offers no AUTH=PLAIN to send them; use an ASCII password")
    client.plain_login(account.username, secret)


def _behind(exc: BaseException | None, kind: type[BaseException]) -> BaseException | None:
    """The first `kind` in `exc`'s chain: imaplib and imapclient re-raise errors as new ones
    ("command: X => …", LoginError), keeping the original only as the cause or context."""
    for _ in range(10):
        if exc is None or isinstance(exc, kind):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _parser_crash(exc: BaseException) -> bool:
    """True for an unexpected error raised inside imapclient or imaplib themselves (a garbled
    answer they could not parse, e.g. no CAPABILITY line), not in triage's own code."""
    if not isinstance(exc, (AttributeError, TypeError, IndexError, KeyError)):
        return False
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    name = tb.tb_frame.f_code.co_filename if tb is not None else ""
    return "imapclient" in Path(name).parts or Path(name).name == "imaplib.py"


def _reason(exc: BaseException) -> str:
    """The error's words on one line, control characters removed, at most 200 characters."""
    text = " ".join(_CONTROLS.sub(" ", str(exc)).split())
    return text if len(text) < 200 else text[:200] + "…"


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class _BoundedClient(IMAPClient):
    """IMAPClient whose every read goes through transport.BoundedReads with these `limits`."""

    def __init__(self, limits: Limits, host: str, **kwargs: object) -> None:
        self.limits = limits
        super().__init__(host, **kwargs)

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


def _connect_error(account: Account, exc: BaseException) -> MailboxError:
    """A broken limit or the deadline as `_translated` names them; any other cause diagnosed."""
    if _behind(exc, DeadlinePassed) or _behind(exc, LimitExceeded):
        try:
            with _translated(f"connecting to {account.host}:{account.port}"):
                raise exc
        except MailboxError as translated:
            return translated
    return connect_failure(account, exc)


class _translated:
    """Context manager mapping socket, TLS and IMAP errors to MailboxError subclasses.

    A NO about `folder` is a FolderError; when writing into it (`writing`), only when the
    server says the folder is missing (TRYCREATE, NONEXISTENT): a full quota is not a
    configuration problem.
    """

    def __init__(self, doing: str, folder: str | None = None, writing: bool = False) -> None:
        self.doing, self.folder, self.writing = doing, folder, writing

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, _tb: object) -> None:
        if exc is None or isinstance(exc, MailboxError):
            return None
        violation = _behind(exc, DeadlinePassed) or _behind(exc, LimitExceeded)
        if isinstance(violation, DeadlinePassed):
            raise DeadlineError(f"{self.doing}: {violation}") from None
        if violation is not None:
            raise ServerFault(f"{self.doing}: {violation}") from None
        if isinstance(exc, ssl.SSLCertVerificationError):
            raise TLSError(f"{self.doing}: the server's certificate failed verification "
                           f"({exc.verify_message}); if it is self-signed, set ca_file to its "
                           "certificate") from None
        if isinstance(exc, ssl.SSLError):
            raise TLSError(f"{self.doing}: TLS failed ({exc.reason or exc})") from None
        if isinstance(exc, (IMAPClientProtocolError, ValueError)) or _parser_crash(exc):
            raise ServerFault(f"{self.doing}: the server's answer is not valid IMAP "
                              f"({type(exc).__name__}: {_reason(exc)})") from None
        if isinstance(exc, (socket.timeout, TimeoutError)):
            raise MailboxError(f"{self.doing}: the server did not answer in time") from None
        if isinstance(exc, (OSError, EOFError, imaplib.IMAP4.abort)):
            raise MailboxError(f"{self.doing}: connection lost ({_reason(exc) or type(exc).__name__})") from None
        if isinstance(exc, (IMAPClientError, imaplib.IMAP4.error)):
            if " command error: BAD " in str(exc) or str(exc).startswith("BAD"):
                raise ProtocolError(f"{self.doing}: the server answered BAD ({_reason(exc)}); "
                                    "this is a bug in triage or the server: please report it "
                                    "with this line") from None
            missing = re.search(r"\[(TRYCREATE|NONEXISTENT)\]", str(exc))
            if self.folder and (missing or not self.writing):
                raise FolderError(f"folder {self.folder!r} cannot be used ({_reason(exc)}); create "
                                  "it in your mail client or fix the config") from None
            raise ProtocolError(f"{self.doing}: the server refused ({_reason(exc)})") from None
        return None


def _close_quietly(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - the connection may already be gone
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001
            pass
