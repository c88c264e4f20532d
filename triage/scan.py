"""Which UIDs of a folder need work, and how far the watermark may move after each batch.

`first_run_days` limits the first scan of a folder (and a re-scan after its UIDs changed)
only: the UIDs that existed then and arrived before that date are left alone; every UID
that appears afterwards is processed, whatever its date (mail moved in by a filter or
restored from an archive is not silently skipped). `triage run --since DATE` deliberately
looks below the watermark too.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from .config import Account
from .ledger import Ledger
from .mailstore import FolderState, MailStore
from .message import parse_message

log = logging.getLogger(__name__)


@dataclass
class Scan:
    """The candidates of one folder (ascending), those still to do, and the watermark walk."""

    state: FolderState
    candidates: list[int]
    todo: list[int]
    mark: int
    settled: set[int] = field(default_factory=set)
    _next: int = 0
    _blocked: bool = False

    def advance(self, ledger: Ledger, batch: list[int]) -> None:
        """After a batch: move the watermark over the settled prefix; a failure blocks it."""
        self.settled |= ledger.settled_among(self.state.name, self.state.uidvalidity, batch)
        top = max(batch, default=0)
        while not self._blocked and self._next < len(self.candidates):
            uid = self.candidates[self._next]
            if uid not in self.settled:
                self._blocked = uid <= top  # failed: the watermark waits for its retry
                break
            self.mark = max(self.mark, uid)
            self._next += 1
        ledger.set_watermark(self.state.name, self.state.uidvalidity, self.mark,
                             ledger.since(self.state.name) or dt.date.today().isoformat())


def scan_folder(mbox: MailStore, ledger: Ledger, state: FolderState, account: Account,
                backfill_since: dt.date | None, dry_run: bool) -> Scan:
    """Find the UIDs to process in the selected folder (re-baselining when UIDs changed)."""
    last = ledger.watermark(state.name, state.uidvalidity)
    if last and not dry_run and renumbered(mbox, ledger, state, last):
        log.warning("UIDs of %s were renumbered without a UIDVALIDITY change: re-scanning; messages "
                    "already handled are recognised by Message-ID and server keyword", state.name)
        ledger.retire(state.name, state.uidvalidity)
        ledger.set_baseline(state.name, state.uidvalidity, _floor(mbox, state))
        last = 0
    elif last is None and ledger.known_validities(state.name):
        log.warning("UIDVALIDITY of %s changed to %d: re-scanning; messages already handled are "
                    "recognised by Message-ID and server keyword", state.name, state.uidvalidity)
    since = dt.date.fromisoformat(ledger.since(state.name) or (
        dt.date.today() - dt.timedelta(days=account.first_run_days)).isoformat())
    if last is None:
        last = 0
        if not dry_run:
            ledger.set_watermark(state.name, state.uidvalidity, 0, since.isoformat())
            ledger.set_baseline(state.name, state.uidvalidity, _floor(mbox, state))
    floor = ledger.baseline(state.name, state.uidvalidity)
    if floor is None and dry_run and not ledger.watermark(state.name, state.uidvalidity):
        floor = _floor(mbox, state)
    candidates = _candidates(mbox, last, floor or 0, since)
    settled = ledger.settled_among(state.name, state.uidvalidity, candidates)
    todo = [u for u in candidates if u not in settled]
    if backfill_since is not None:
        below = [u for u in mbox.new_uids(0, backfill_since) if u <= last]
        todo = sorted(set(todo) | {u for u in below if u not in
                                   ledger.settled_among(state.name, state.uidvalidity, below)})
    return Scan(state, candidates, todo, last, settled)


def renumbered(mbox: MailStore, ledger: Ledger, state: FolderState, last: int) -> bool:
    """True when UIDNEXT fell below the watermark or recorded UIDs now hold other messages."""
    if state.uidnext and state.uidnext <= last:
        return True
    expected = ledger.fingerprints_at(state.name, state.uidvalidity, last)
    found = mbox.message_ids(sorted(expected))
    return any(not _holds_id(found[uid], mid) for uid, mid in expected.items() if uid in found)


def _holds_id(header: str, mid: str) -> bool:
    """True when this Message-ID header line, read as the fingerprint read it, names `mid`
    (an encoded word or 8-bit byte in it must not look like renumbering on every run)."""
    if mid in header:
        return True
    try:
        raw = header.encode("utf-8", "surrogateescape") + b"\r\n\r\n"
        return parse_message(raw).message_id == mid
    except Exception:  # noqa: BLE001 - an unreadable header names no id
        return False


def _floor(mbox: MailStore, state: FolderState) -> int:
    """The highest UID in the folder now: below it, the first-run date limit applies."""
    if state.uidnext:
        return state.uidnext - 1
    existing = mbox.new_uids(0, None)
    return max(existing, default=0)


def _candidates(mbox: MailStore, last: int, floor: int, since: dt.date) -> list[int]:
    """UIDs above the watermark: dated since `since` up to the floor, all of them above it."""
    found: set[int] = set()
    if last < floor:
        found |= {u for u in mbox.new_uids(last, since) if u <= floor}
    found |= set(mbox.new_uids(max(last, floor), None))
    return sorted(found)
