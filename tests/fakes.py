"""An in-memory mailbox with the interface of `triage.mailbox.Mailbox`, for unit tests only."""

from __future__ import annotations

import datetime as dt
import re
import threading
from dataclasses import dataclass, field
from typing import Sequence

from triage.mailstore import Fetched, FolderError, FolderState, MailboxError, MailStore


@dataclass
class FakeFolder:
    uidvalidity: int = 1000
    next_uid: int = 1
    messages: dict[int, bytes] = field(default_factory=dict)
    flags: dict[int, set[str]] = field(default_factory=dict)


class FakeMailbox:
    """Folders in dicts; `fail_on` makes a named operation raise MailboxError once."""

    def __init__(self, keywords: bool = True, special_drafts: bool = True) -> None:
        self.folders: dict[str, FakeFolder] = {"INBOX": FakeFolder(), "Drafts": FakeFolder(2000)}
        self.keywords, self.special_drafts = keywords, special_drafts
        self.selected: str | None = None
        self.readonly = False
        self.stop = threading.Event()
        self.calls: list[str] = []
        self.fail_on: set[str] = set()

    def deliver(self, raw: bytes, folder: str = "INBOX", flags: tuple[str, ...] = ()) -> int:
        box = self.folders[folder]
        uid = box.next_uid
        box.next_uid += 1
        box.messages[uid], box.flags[uid] = raw, set(flags)
        return uid

    def _maybe_fail(self, operation: str) -> None:
        self.calls.append(operation)
        if operation in self.fail_on:
            self.fail_on.discard(operation)
            raise MailboxError(f"{operation}: connection lost (injected)")

    def close(self) -> None:
        self.calls.append("close")

    def select(self, folder: str, readonly: bool = False) -> FolderState:
        self._maybe_fail("select")
        if folder not in self.folders:
            raise FolderError(f"folder {folder!r} cannot be used")
        self.selected, self.readonly = folder, readonly
        box = self.folders[folder]
        return FolderState(folder, box.uidvalidity, box.next_uid, self.keywords, len(box.messages))

    def new_uids(self, after_uid: int, since: dt.date | None) -> list[int]:
        self._maybe_fail("search")
        return sorted(u for u in self.folders[self.selected or "INBOX"].messages if u > after_uid)

    def fetch(self, uids: Sequence[int], max_bytes: int) -> list[Fetched]:
        self._maybe_fail("fetch")
        box = self.folders[self.selected or "INBOX"]
        return [Fetched(u, box.messages[u][:max_bytes], len(box.messages[u]),
                        tuple(sorted(box.flags[u])), len(box.messages[u]) > max_bytes)
                for u in uids if u in box.messages]

    def message_ids(self, uids: Sequence[int]) -> dict[int, str]:
        box = self.folders[self.selected or "INBOX"]
        out = {}
        for uid in uids:
            if uid in box.messages:
                head = box.messages[uid].split(b"\r\n\r\n")[0].decode("utf-8", "surrogateescape")
                out[uid] = "\r\n".join(l for l in head.split("\r\n") if l.lower().startswith("message-id"))
        return out

    def add_keyword(self, uids: Sequence[int], keyword: str) -> None:
        self._maybe_fail("store")
        for uid in uids:
            self.folders[self.selected or "INBOX"].flags[uid].add(keyword)

    def remove_keyword(self, uids: Sequence[int], keyword: str) -> None:
        self._maybe_fail("store")
        for uid in uids:
            self.folders[self.selected or "INBOX"].flags[uid].discard(keyword)

    def threaded_replies(self, folder: str, message_ids: Sequence[str]) -> set[str]:
        self._maybe_fail("search")
        texts = [raw.decode("utf-8", "replace") for raw in self.folders[folder].messages.values()]
        return {m for m in message_ids if any(
            re.search(rf"^(In-Reply-To|References):.*{re.escape(m)}", t, re.M | re.I)
            for t in texts)}

    def move(self, uids: Sequence[int], folder: str) -> None:
        self._maybe_fail("move")
        source = self.folders[self.selected or "INBOX"]
        for uid in uids:
            self.deliver(source.messages.pop(uid), folder, tuple(source.flags.pop(uid)))

    def keyword_uids(self, keyword: str, since: dt.date | None = None,
                     changed_since: int = 0) -> list[int]:
        self._maybe_fail("search")
        box = self.folders[self.selected or "INBOX"]
        return sorted(u for u, flags in box.flags.items() if keyword in flags)

    def can_move(self) -> bool:
        return True

    def is_all_mail(self, folder: str) -> bool:
        return False

    def hierarchy(self) -> tuple[str, str]:
        return "", "/"

    def create_folder(self, folder: str) -> bool:
        if folder in self.folders:
            return False
        self.folders[folder] = FakeFolder(3000 + len(self.folders))
        return True

    def special_folder(self, attribute: bytes) -> str | None:
        if attribute == b"\\Drafts" and self.special_drafts:
            return "Drafts"
        if attribute == b"\\Sent" and "Sent" in self.folders:
            return "Sent"
        return None

    def folder_exists(self, folder: str) -> bool:
        return folder in self.folders

    def drafts_folder(self, configured: str | None) -> str:
        if self.special_drafts or "Drafts" in self.folders:
            return "Drafts"
        raise FolderError("no Drafts folder")

    def find_by_message_id(self, folder: str, message_ids: Sequence[str]) -> list[int]:
        self.selected, self.readonly = folder, True
        out = []
        for value in message_ids[-8:]:
            pattern = re.compile(rf"^Message-ID:\s*{re.escape(value)}\s*$", re.M | re.I)
            out += [u for u, raw in self.folders[folder].messages.items()
                    if pattern.search(raw.decode("utf-8", "replace").replace("\r", ""))]
        return sorted(set(out))

    def append_draft(self, folder: str, raw: bytes, keyword: str | None = None) -> int | None:
        self._maybe_fail("append")
        if self.selected == folder and self.readonly:  # as Mailbox does: UNSELECT first
            self.selected, self.readonly = None, False
        return self.deliver(raw, folder, ("\\Draft", "\\Seen", *([keyword] if keyword else [])))

    def wait_for_news(self, seconds: float) -> bool:
        self._maybe_fail("idle")
        return False


def _conforms(box: FakeMailbox) -> MailStore:
    """mypy checks that the fake implements the declared interface."""
    return box
