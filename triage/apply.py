"""Carry out the plans of one batch on the server, then record them in the ledger.

The one place where decisions touch the mailbox and the ledger. Order per batch: drafts
(each idempotent: the ledger, then the Drafts folder, are asked first), then the source
folder is re-selected and its UIDVALIDITY checked, then keywords (one STORE per keyword)
and moves (one per destination), then every decision in one ledger transaction. A failure
that belongs to one message marks that message failed and the batch goes on; a broken
connection propagates, so the run retries on a new one and nothing is recorded twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Sequence

from .ledger import FAILED, DraftRecord, Ledger
from .mailstore import FolderError, FolderState, MailStore, ProtocolError, ValidityChanged
from .message import valid_message_ids
from .plan import FAILURE, RECOGNISED, Action, Draft, Item, Label, Move, Plan, Record, Unlabel
from .compose import DRAFT_KEYWORD

if TYPE_CHECKING:
    from .replies import Reply

log = logging.getLogger(__name__)
DRAFTS_INDEX_CHUNK = 5000  # Message-IDs fetched per command when Drafts is read


@dataclass(frozen=True)
class Made(DraftRecord):
    """A draft this run appended (or found in Drafts), to be recorded in the ledger."""

    appended: bool = True


@dataclass(frozen=True)
class Applied:
    """What applying a batch did: the plans as recorded, and how many drafts were appended."""

    plans: tuple[Plan, ...]
    drafts: int
    pending: int = 0  # drafts waiting for a usable Drafts folder (the messages are labelled)


class Applier:
    """Applies plans through one connection to the server and one ledger."""

    def __init__(self, mbox: MailStore, ledger: Ledger, drafts_folder: str | None) -> None:
        self.mbox, self.ledger = mbox, ledger
        self.configured_drafts = drafts_folder
        self._drafts: str | None = None
        self._in_drafts: dict[str, int] | None = None  # Message-ID → UID in Drafts, read once

    def apply(self, state: FolderState, plans: list[Plan]) -> Applied:
        """Drafts, then markers on the re-selected source folder, then one ledger commit."""
        done: list[Plan] = []
        pending: list[Plan] = []
        made: list[Made] = []
        for plan in plans:
            plan, record, waits = self._drafts_of(plan)
            made += [record] if record else []
            if waits:  # the message stays where its pending draft will look for it
                plan = replace(plan, actions=tuple(a for a in plan.actions
                                                   if not isinstance(a, Move)))
            done.append(plan)
            pending += [plan] if waits else []
        # one commit before any keyword: a kill after the STORE must lose no draft; a kill
        # before it leaves drafts the next run finds in Drafts by their Message-ID
        with self.ledger.transaction():
            for record in made:
                self.ledger.record_draft(record)
            for plan in pending:
                self.ledger.add_pending_draft(state.name, state.uidvalidity, plan.item.uid,
                                              plan.label, plan.note)
        self._reselect(state)
        done = self._markers(done)
        with self.ledger.transaction():
            for plan in done:
                for action in plan.actions:
                    if isinstance(action, Record):
                        self.ledger.record(action.decision)
            self.ledger.adopt_pending_drafts(state.name, state.uidvalidity, {
                p.item.fingerprint: p.item.uid for p in done if p.outcome == RECOGNISED})
        appended = sum(1 for r in made if r.appended)
        return Applied(tuple(done), appended, len(pending))

    # -- drafts ------------------------------------------------------------------------
    def _drafts_of(self, plan: Plan) -> tuple[Plan, Made | None, bool]:
        """The plan after its draft: (plan, the draft made or found, waiting for Drafts)."""
        for action in plan.actions:
            if not isinstance(action, Draft):
                continue
            try:
                made = self.make_draft(plan.item, plan.label, action.reply)
                where = f"draft {'added' if made and made.appended else 'found'} in {self._drafts}"
                return _noted(plan, where if made else "draft made earlier"), made, False
            except FolderError as exc:
                log.error("UID %d: draft waits: %s", plan.item.uid, exc)
                return _noted(plan, f"draft pending: {exc}"), None, True
            except ProtocolError as exc:
                log.error("UID %d: draft not made: %s", plan.item.uid, exc)
                return _failed(plan, f"draft not made: {exc}"), None, False
        return plan, None, False

    def make_draft(self, item: Item, label: str, reply: Reply) -> Made | None:
        """Append the draft unless it exists. None when the ledger already has it; else the
        record to keep (the caller commits it, with others, before labelling the message)."""
        if any(self.ledger.draft_for(known) for known in reply.known_ids):
            return None
        folder = self._drafts or self.mbox.drafts_folder(self.configured_drafts)
        self._drafts = folder
        existing = self._found_in_drafts(folder, reply.known_ids)
        uid = existing[0] if existing else self.mbox.append_draft(folder, reply.raw, DRAFT_KEYWORD)
        if uid and self._in_drafts is not None:
            self._in_drafts[reply.message_id] = uid
        message = item.message
        details = reply.details
        log.info("UID %d: draft %s in %s", item.uid, "found" if existing else "added", folder)
        return Made(reply.message_id, item.fingerprint, folder, uid,
                    message.subject if message else "", details.first_name or reply.to,
                    details.company, label, appended=not existing)

    def _found_in_drafts(self, folder: str, message_ids: Sequence[str]) -> list[int]:
        """UIDs in Drafts with one of these Message-IDs (a draft appended by a run killed before
        recording it). The folder's Message-IDs are read once per run, a FETCH per 5,000
        drafts: a header SEARCH per draft read every draft each time, quadratic in a backfill."""
        if self._in_drafts is None:
            if self.mbox.selected != folder:
                self.mbox.select(folder, readonly=True)
            uids = self.mbox.new_uids(0, None)
            index: dict[str, int] = {}
            for start in range(0, len(uids), DRAFTS_INDEX_CHUNK):
                for uid, header in self.mbox.message_ids(uids[start:start + DRAFTS_INDEX_CHUNK]).items():
                    for message_id in valid_message_ids(header):
                        index.setdefault(message_id, uid)
            self._in_drafts = index
        return sorted({self._in_drafts[m] for m in message_ids if m in self._in_drafts})

    # -- markers -----------------------------------------------------------------------
    def _reselect(self, state: FolderState) -> None:
        """Back to the source folder read-write; a new UIDVALIDITY means its UIDs are void."""
        if self.mbox.selected == state.name and not self.mbox.readonly:
            return
        now = self.mbox.select(state.name)
        if now.uidvalidity != state.uidvalidity:
            raise ValidityChanged(f"UIDVALIDITY of {state.name} changed from {state.uidvalidity} "
                                  f"to {now.uidvalidity} during the run; nothing more is done "
                                  "there this run, the next run re-scans it")

    def _markers(self, plans: list[Plan]) -> list[Plan]:
        """One STORE per keyword and one MOVE per destination, for plans that did not fail."""
        by_uid = {p.item.uid: p for p in plans}
        live = [a for p in by_uid.values() if p.outcome != FAILURE for a in p.actions]
        if any(isinstance(a, Move) for a in live) and not self.mbox.can_move():
            self._note_no_moves()
            live = [a for a in live if not isinstance(a, Move)]
        for uids, problem in apply_markers(self.mbox, live):
            for uid in uids:
                by_uid[uid] = _failed(by_uid[uid], problem)
        return [by_uid[p.item.uid] for p in plans]

    def _note_no_moves(self) -> None:
        """Without MOVE and UIDPLUS a move could delete mail: keywords only, said once."""
        if not self.ledger.noted("no-move"):
            log.warning("messages are not moved on this server: it offers neither MOVE nor "
                        "UIDPLUS, so a move could delete mail; they keep their keyword")
            self.ledger.note("no-move")


MARKERS = (Unlabel, Label, Move)  # in this order: a move last, so the keywords travel with it


def apply_markers(mbox: MailStore, actions: Sequence[Action]) -> list[tuple[list[int], str]]:
    """Keyword removals, keywords, then moves on the selected folder: one command per keyword or
    destination. Returns (UIDs, problem) for each command the server refused; a broken
    connection propagates, so the caller retries on a new one."""
    refused: list[tuple[list[int], str]] = []
    for kind in MARKERS:
        groups: dict[str, list[int]] = {}
        for action in actions:
            if isinstance(action, kind):
                key = action.folder if isinstance(action, Move) else action.keyword
                groups.setdefault(key, []).append(action.uid)
        for key, uids in groups.items():
            problem = _marker(mbox, kind, key, uids)
            if problem:
                refused.append((uids, problem))
    return refused


def _marker(mbox: MailStore, kind: type, key: str, uids: list[int]) -> str:
    """Apply one keyword change or one move to these UIDs; '' or the per-message problem."""
    try:
        if kind is Label:
            mbox.add_keyword(uids, key)
        elif kind is Unlabel:
            mbox.remove_keyword(uids, key)
        else:
            mbox.move(uids, key)
    except (FolderError, ProtocolError) as exc:  # a broken connection propagates: retry
        log.error("%s", exc)
        return str(exc)
    return ""


def _noted(plan: Plan, note: str) -> Plan:
    """The same plan with `note` added to what it says and records."""
    return _recorded_as(plan, "; ".join(p for p in (plan.note, note) if p))


def _failed(plan: Plan, reason: str) -> Plan:
    """The same plan, recorded as failed (retried next run) with `reason`."""
    return _recorded_as(plan, reason, FAILED)


def _recorded_as(plan: Plan, note: str, status: str | None = None) -> Plan:
    """`plan` whose note (and, if given, status) are `note` and `status`, in its Record too."""
    def changed(action: Action) -> Action:
        if not isinstance(action, Record):
            return action
        decision = replace(action.decision, note=note[:300],
                           status=status or action.decision.status)
        return replace(action, decision=decision)
    outcome = FAILURE if status == FAILED else plan.outcome
    return replace(plan, outcome=outcome, actions=tuple(map(changed, plan.actions)), note=note)
