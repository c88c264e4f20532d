"""The mailbox as the rest of triage sees it: a declared interface, its records and its errors.

`triage.mailbox.Mailbox` implements `MailStore` over IMAP (the only module that imports
imapclient); `tests/fakes.FakeMailbox` implements it in memory for unit tests. mypy checks
both against this Protocol, so the engine never depends on one server's wire details.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Protocol, Sequence


class MailboxError(RuntimeError):
    """Raised when the connection fails, times out or breaks protocol (transient: retry)."""


class AuthError(MailboxError):
    """Raised when the server refuses the credentials (never retried)."""


class SetupError(MailboxError):
    """Raised when the settings cannot reach an IMAP server at all (a host name that does not
    resolve, a port where something else listens): a configuration problem, never retried."""


class TLSError(SetupError):
    """Raised when TLS cannot be established or verified (a setup problem, never retried)."""


class FolderError(MailboxError):
    """Raised when a folder is missing or cannot be used (a configuration problem)."""


class ProtocolError(MailboxError):
    """Raised when the server answers a command with NO or BAD: the connection is fine, the
    command is not (a BAD names the command and the server's words for a bug report)."""


class ServerFault(MailboxError):
    """Raised when what the server sends breaks a limit or the protocol mid-answer (a flood,
    an oversized line or literal, unparsable data, no UIDVALIDITY): the connection is
    abandoned and the run not retried, since the server would do it again."""


class DeadlineError(MailboxError):
    """Raised when the run's deadline passes while waiting for the server (never retried)."""


class ValidityChanged(MailboxError):
    """Raised when a folder's UIDVALIDITY changes during a run: its UIDs mean other messages now."""


@dataclass(frozen=True)
class FolderState:
    """What SELECT told us about a folder."""

    name: str
    uidvalidity: int
    uidnext: int
    keywords_allowed: bool
    exists: int = 0
    highestmodseq: int = 0  # CONDSTORE (RFC 7162): grows with every flag change; 0 = unknown


@dataclass(frozen=True)
class Fetched:
    """One fetched message: raw bytes (maybe only the first part), size and flags."""

    uid: int
    raw: bytes
    size: int
    flags: tuple[str, ...]
    truncated: bool


class MailStore(Protocol):
    """One logged-in connection to one account, in triage's own terms.

    Every method raises only the errors above. Methods that act on "the selected folder"
    act on the folder of the last `select`.
    """

    selected: str | None  # the folder of the last `select`
    readonly: bool  # whether that select was read-only (EXAMINE)
    stop: threading.Event  # set it to end `wait_for_news` early

    def close(self) -> None:
        """Log out; never raises."""

    def select(self, folder: str, readonly: bool = False) -> FolderState:
        """Open `folder` (read-only when asked) and report its state."""

    def new_uids(self, after_uid: int, since: dt.date | None) -> list[int]:
        """UIDs above `after_uid` in the selected folder (arrived since `since`), ascending."""

    def fetch(self, uids: Sequence[int], max_bytes: int) -> list[Fetched]:
        """Peek at these messages (never sets \\Seen), each at most `max_bytes` long."""

    def message_ids(self, uids: Sequence[int]) -> dict[int, str]:
        """The raw Message-ID header line of each UID that still exists."""

    def add_keyword(self, uids: Sequence[int], keyword: str) -> None:
        """Add `keyword` to these messages of the selected folder."""

    def remove_keyword(self, uids: Sequence[int], keyword: str) -> None:
        """Take `keyword` off these messages of the selected folder."""

    def threaded_replies(self, folder: str, message_ids: Sequence[str]) -> set[str]:
        """Of `message_ids`, those that a message in `folder` answers (In-Reply-To/References)."""

    def move(self, uids: Sequence[int], folder: str) -> None:
        """Move these messages of the selected folder to `folder`; never deletes anything else."""

    def keyword_uids(self, keyword: str, since: dt.date | None = None,
                     changed_since: int = 0) -> list[int]:
        """UIDs of the selected folder carrying `keyword`; with `changed_since` (a mod-sequence
        from FolderState.highestmodseq) only those whose flags changed after it."""

    def can_move(self) -> bool:
        """True when `move` is safe here (MOVE, or UIDPLUS to expunge only the moved UIDs)."""

    def is_all_mail(self, folder: str) -> bool:
        """True for Gmail's \\All folder, which shows every message a second time."""

    def hierarchy(self) -> tuple[str, str]:
        """The personal namespace prefix and the hierarchy delimiter."""

    def create_folder(self, folder: str) -> bool:
        """Create `folder` unless it exists; True when created."""

    def folder_exists(self, folder: str) -> bool:
        """True when `folder` exists."""

    def special_folder(self, attribute: bytes) -> str | None:
        """The folder marked with a SPECIAL-USE attribute such as b"\\\\Sent", if any."""

    def drafts_folder(self, configured: str | None) -> str:
        """Where drafts go: \\Drafts by special-use, else `configured`, else a common name."""

    def find_by_message_id(self, folder: str, message_ids: Sequence[str]) -> list[int]:
        """UIDs in `folder` whose Message-ID is one of `message_ids` (one bounded search)."""

    def append_draft(self, folder: str, raw: bytes, keyword: str | None = None) -> int | None:
        """APPEND a draft (\\Draft, \\Seen, and `keyword` if the server takes it); its new UID
        when the server reports one."""

    def wait_for_news(self, seconds: float) -> bool:
        """Wait on the selected folder up to `seconds`; True when the server reported new mail."""
