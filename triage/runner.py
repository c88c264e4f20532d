"""One run over one account: fetch → parse → classify → plan → act → record.

Progress is recorded per batch in the ledger before the watermark moves, so a run cut
short anywhere resumes where it stopped: work already done is recognised (ledger, server
keyword, or the draft's Message-ID in Drafts) and never repeated.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Sequence

from .classifier import UNSURE, Model, Prediction
from .config import LABELS, Account, Config, LabelAction
from .learn import CorrectionStore, Harvester
from .ledger import DONE, FAILED, Decision, DraftRecord, Ledger, corrections_dir
from .mailbox import FolderError, FolderState, Fetched, Mailbox, MailboxError, chunks
from .message import Message, fingerprint, parse_message
from .policy import Plan, plan_actions
from .replies import build_reply, template_environment, template_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    """How a run behaves: dry-run, retries of transient errors, and a whole-run deadline."""

    dry_run: bool = False
    retries: int = 3
    backoff_seconds: float = 2.0
    deadline_seconds: float = 1200.0


@dataclass
class Tally:
    """What a run did, for the summary line."""

    account: str
    labels: Counter = field(default_factory=Counter)
    drafts: int = 0
    failed: int = 0
    recognised: int = 0
    corrections: int = 0
    dry_run: bool = False
    stopped_early: bool = False

    @property
    def processed(self) -> int:
        return sum(self.labels.values())

    def line(self) -> str:
        """The one summary line cron mails."""
        counts = ", ".join(f"{self.labels.get(label, 0)} {label}" for label in (*LABELS, UNSURE))
        extra = f"; {self.recognised} already done" if self.recognised else ""
        early = "; deadline reached, the rest next run" if self.stopped_early else ""
        if self.corrections:
            extra += f"; {self.corrections} corrections learned"
        dry = " (dry run: nothing changed)" if self.dry_run else ""
        return (f"triage: {self.account}: {self.processed} new ({counts}); {self.drafts} drafts; "
                f"{self.failed} failed{extra}{early}{dry}")


@dataclass
class _Item:
    """A message moving through one batch."""

    fetched: Fetched
    message: Message
    fingerprint: str
    label: str = ""
    prediction: Prediction | None = None
    note: str = ""
    status: str = DONE


class Runner:
    """Processes one account over one connection; `run()` retries with a fresh one."""

    def __init__(self, config: Config, account: Account, model: Model, ledger: Ledger,
                 connect: Callable[[], Mailbox], options: RunOptions = RunOptions(),
                 report: Callable[[str], None] = lambda _: None) -> None:
        self.config, self.account, self.model, self.ledger = config, account, model, ledger
        self.connect, self.options, self.report = connect, options, report
        self.tally = Tally(account.name, dry_run=options.dry_run)
        self.templates = template_environment(config.template_dir)
        self.deadline = time.monotonic() + options.deadline_seconds
        self.mbox: Mailbox | None = None
        self._drafts_folder: str | None = None
        self._sent_folder: str | None | bool = False  # False: not looked up on this connection

    def run(self) -> Tally:
        """All folders of the account, retrying transient failures with backoff."""
        for attempt in range(self.options.retries + 1):
            try:
                self.mbox = self.connect()
                try:
                    for folder in self.account.folders:
                        self.process_folder(folder)
                    if not self.options.dry_run and not self.tally.stopped_early:
                        self.harvest_corrections()
                finally:
                    self.mbox.close()
                return self.tally
            except MailboxError as exc:
                retryable = type(exc) is MailboxError and attempt < self.options.retries
                if not retryable or time.monotonic() > self.deadline:
                    raise
                delay = self.options.backoff_seconds * 2 ** attempt
                log.warning("%s; retrying in %.0f s (attempt %d of %d)", exc, delay, attempt + 2,
                            self.options.retries + 1)
                time.sleep(delay)
                self._drafts_folder, self._sent_folder = None, False
        return self.tally  # pragma: no cover - the loop returns or raises

    def harvest_corrections(self) -> None:
        """Learn what the user corrected since the last run; a folder problem never fails the run."""
        if not self.account.corrections_folder or self.mbox is None:
            return
        store = CorrectionStore(corrections_dir(self.config.state_dir, self.account.name))
        try:
            found = Harvester(self.config, self.account, self.mbox, self.ledger, store).harvest()
        except FolderError as exc:
            log.warning("corrections not harvested this run: %s", exc)
            return
        self.tally.corrections += found.count
        if found.missing:
            log.info("no correction folders (%s): create them with `triage learn --create-folders` "
                     "to teach triage by moving mail", ", ".join(found.missing))

    # -- fetch ---------------------------------------------------------------------
    def process_folder(self, folder: str) -> None:
        """New mail of one folder, batch by batch, moving the watermark after each."""
        assert self.mbox is not None
        if self.mbox.is_all_mail(folder):
            log.warning("%s not processed: on Gmail it shows every message a second time; list "
                        "INBOX (or the labels you want sorted) in folders instead", folder)
            return
        state = self.mbox.select(folder, readonly=self.options.dry_run)
        self._note_keyword_support(state)
        last = self.ledger.watermark(folder, state.uidvalidity)
        if last and not self.options.dry_run and self._renumbered(state, last):
            log.warning("UIDs of %s were renumbered without a UIDVALIDITY change: re-scanning; "
                        "messages already handled are recognised by Message-ID and server keyword",
                        folder)
            self.ledger.retire(folder, state.uidvalidity)
            last = 0
        elif last is None and self.ledger.known_validities(folder):
            log.warning("UIDVALIDITY of %s changed to %d: re-scanning; messages already handled are "
                        "recognised by Message-ID and server keyword", folder, state.uidvalidity)
        since = self.ledger.since(folder) or (
            dt.date.today() - dt.timedelta(days=self.account.first_run_days)).isoformat()
        settled = self.ledger.settled_uids(folder, state.uidvalidity)
        above = self.mbox.new_uids(last or 0, dt.date.fromisoformat(since))
        uids = [u for u in above if u not in settled]
        if not self.options.dry_run and last is None:
            self.ledger.set_watermark(folder, state.uidvalidity, 0, since)
        for batch in chunks(uids, self.account.batch_size):
            if time.monotonic() > self.deadline:
                self.tally.stopped_early = True
                log.warning("run deadline of %.0f s reached; %s resumes next run",
                            self.options.deadline_seconds, folder)
                return
            self.process_batch(state, batch)
            if not self.options.dry_run:
                self._advance_watermark(state, above, since)
        if uids == [] and above and not self.options.dry_run:
            self._advance_watermark(state, above, since)

    def _renumbered(self, state: FolderState, last: int) -> bool:
        """True when UIDNEXT fell below the watermark or recorded UIDs now hold other messages."""
        assert self.mbox is not None
        if state.uidnext and state.uidnext <= last:
            return True
        expected = self.ledger.fingerprints_at(state.name, state.uidvalidity, last)
        found = self.mbox.message_ids(sorted(expected))
        return any(mid not in found[uid] for uid, mid in expected.items() if uid in found)

    def _note_keyword_support(self, state: FolderState) -> None:
        key = f"no-keywords:{state.name}"
        if state.keywords_allowed or state.readonly or self.ledger.noted(key):
            return
        log.warning("%s does not allow custom keywords (no \\* in PERMANENTFLAGS): labels are kept "
                    "in the local ledger only", state.name)
        if not self.options.dry_run:
            self.ledger.note(key)

    def _advance_watermark(self, state: FolderState, uids: Sequence[int], since: str) -> None:
        """Move the watermark over the longest run of settled UIDs above it (none is skipped)."""
        settled = self.ledger.settled_uids(state.name, state.uidvalidity)
        mark = self.ledger.watermark(state.name, state.uidvalidity) or 0
        for uid in uids:
            if uid not in settled:
                break
            mark = uid
        self.ledger.set_watermark(state.name, state.uidvalidity, mark, since)

    # -- parse, classify, plan -------------------------------------------------------
    def process_batch(self, state: FolderState, uids: list[int]) -> None:
        """Fetch, decide and act on one batch, then record every outcome in one transaction."""
        assert self.mbox is not None
        fetched = self.mbox.fetch(uids, self.account.max_message_bytes)
        items, failures = self._parse(state, fetched)
        fresh = self._recognise(items)
        self._classify(fresh)
        plans = [self._plan(item) for item in fresh]
        self._act(state, items, fresh, plans)
        self._record(state, items, failures)

    def _parse(self, state: FolderState, fetched: list[Fetched]) -> tuple[list[_Item], list[Decision]]:
        items, failures = [], []
        for entry in fetched:
            try:
                message = parse_message(entry.raw, truncated=entry.truncated)
                items.append(_Item(entry, message, fingerprint(message, entry.raw)))
            except Exception as exc:  # noqa: BLE001 - one broken message never stops a run
                reason = f"unparsable: {type(exc).__name__}: {str(exc)[:120]}"
                log.warning("%s UID %d: %s", state.name, entry.uid, reason)
                failures.append(Decision(state.name, state.uidvalidity, entry.uid,
                                         f"uid:{state.uidvalidity}:{entry.uid}", "", "", "", None,
                                         None, None, FAILED, reason))
        return items, failures

    def _recognise(self, items: list[_Item]) -> list[_Item]:
        """Mark items handled before (ledger fingerprint or server keyword); return the rest."""
        known = self.ledger.done_fingerprints([i.fingerprint for i in items])
        keywords = {a.keyword: label for label, a in self.config.actions.items() if a.keyword}
        fresh = []
        for item in items:
            on_server = [keywords[f] for f in item.fetched.flags if f in keywords]
            if item.fingerprint in known:
                item.label, item.note = known[item.fingerprint] or UNSURE, "recognised from ledger"
            elif on_server:
                item.label, item.note = on_server[0], "labelled on the server before"
            else:
                fresh.append(item)
                continue
            self.tally.recognised += 1
        return fresh

    def _classify(self, items: list[_Item]) -> None:
        predictions: list[Prediction | None]
        try:
            predictions = list(self.model.predict([i.message for i in items]))
        except Exception:  # noqa: BLE001 - fall back to one at a time to isolate the culprit
            predictions = [self._predict_one(i) for i in items]
        for item, prediction in zip(items, predictions):
            if prediction is None:
                continue
            item.prediction, item.label = prediction, prediction.label

    def _predict_one(self, item: _Item) -> Prediction | None:
        try:
            return self.model.predict([item.message])[0]
        except Exception as exc:  # noqa: BLE001
            item.status, item.note = FAILED, f"classifier failed: {type(exc).__name__}"
            return None

    def _plan(self, item: _Item) -> Plan:
        answered = "\\Answered" in item.fetched.flags
        return plan_actions(item.fetched.uid, item.message, item.label or UNSURE, item.fetched.flags,
                            self.config.actions, self.config.drafts, self.config.me.email,
                            thread_answered=not answered and self._thread_answered(item))

    def _thread_answered(self, item: _Item) -> bool:
        """Only for draft candidates that are replies: did the user already write in this thread?"""
        wanted = self.config.drafts.enabled and item.label in self.config.drafts.labels
        if not wanted or not item.message.in_reply_to or self.mbox is None:
            return False
        if self._sent_folder is False:
            self._sent_folder = self.mbox.special_folder(b"\\Sent")
        sent = self._sent_folder
        ids = [*item.message.references, item.message.in_reply_to]
        return isinstance(sent, str) and any(self.mbox.find_header(sent, "Message-ID", i) for i in ids)

    # -- act and record ------------------------------------------------------------------
    def _act(self, state: FolderState, items: list[_Item], fresh: list[_Item],
             plans: list[Plan]) -> None:
        by_uid = {i.fetched.uid: i for i in fresh}
        for plan in plans:
            item = by_uid[plan.uid]
            if item.status == FAILED:
                continue
            item.note = plan.draft_note
            if plan.draft:
                self._draft(item, plan)
            self._describe(state, item, plan)
        if self.options.dry_run:
            return
        assert self.mbox is not None
        if self.mbox.selected != state.name:
            self.mbox.select(state.name)
        self._store_keywords(state, items)
        self._move(items)

    def _describe(self, state: FolderState, item: _Item, plan: Plan) -> None:
        confidence = f"{item.prediction.confidence:.2f}" if item.prediction else "-"
        text = (f"{state.name} UID {plan.uid}: {plan.label} ({confidence}) "
                f"{item.message.subject[:60]!r}" + (f"; {item.note}" if item.note else ""))
        log.info(text)
        if self.options.dry_run:
            self.report("would label " + text)

    def _store_keywords(self, state: FolderState, items: list[_Item]) -> None:
        if not state.keywords_allowed:
            return
        groups: dict[str, list[int]] = {}
        for item in items:
            keyword = self._action(item).keyword
            if item.status != FAILED and keyword and keyword not in item.fetched.flags:
                groups.setdefault(keyword, []).append(item.fetched.uid)
        for keyword, uids in groups.items():
            assert self.mbox is not None
            self.mbox.add_keyword(uids, keyword)

    def _move(self, items: list[_Item]) -> None:
        groups: dict[str, list[int]] = {}
        for item in items:
            destination = self._action(item).move_to
            if item.status != FAILED and destination and not item.note.startswith("recognised"):
                groups.setdefault(destination, []).append(item.fetched.uid)
        assert self.mbox is not None
        if groups and not self.mbox.can_move():
            if not self.ledger.noted("no-move"):
                log.warning("messages are not moved on this server: it offers neither MOVE nor "
                            "UIDPLUS, so a move could delete mail; they keep their keyword")
                self.ledger.note("no-move")
            return
        for destination, uids in groups.items():
            self.mbox.move(uids, destination)

    def _action(self, item: _Item) -> LabelAction:
        return self.config.actions.get(item.label or UNSURE) or self.config.actions[UNSURE]

    def _draft(self, item: _Item, plan: Plan) -> None:
        """Append the reply unless the ledger or the Drafts folder already has it."""
        try:
            reply = build_reply(item.message, item.fingerprint, self.config.me, self.templates,
                                template_for(plan.label, self.config.me.stance))
        except Exception as exc:  # noqa: BLE001 - a template or content problem, not the run's
            item.status, item.note = FAILED, f"draft not built: {type(exc).__name__}: {exc}"[:200]
            log.error("UID %d: %s", plan.uid, item.note)
            return
        if self.ledger.draft_for(reply.message_id):
            item.note = "draft made in an earlier run"
            return
        if self.options.dry_run:
            item.note = f"would draft a reply to {reply.to}"
            return
        assert self.mbox is not None
        try:
            folder = self._drafts_folder or self.mbox.drafts_folder(self.account.drafts_folder)
        except FolderError as exc:
            item.status, item.note = FAILED, str(exc)
            log.error("%s", exc)
            return
        self._drafts_folder = folder
        try:
            existing = self.mbox.find_header(folder, "Message-ID", reply.message_id)
            uid = existing[0] if existing else self.mbox.append_draft(folder, reply.raw)
        except MailboxError as exc:
            if type(exc) is MailboxError:
                raise  # the connection broke: the whole run retries
            item.status, item.note = FAILED, f"draft not saved: {exc}"[:300]
            log.error("UID %d: %s", plan.uid, item.note)
            return
        details = reply.details
        self.ledger.record_draft(DraftRecord(reply.message_id, item.fingerprint, folder, uid,
                                             item.message.subject, details.first_name or reply.to,
                                             details.company, plan.label))
        item.note = f"draft {'found' if existing else 'added'} in {folder}"
        self.tally.drafts += 0 if existing else 1

    def _record(self, state: FolderState, items: list[_Item], failures: list[Decision]) -> None:
        decisions = failures + [self._decision(state, item) for item in items]
        for decision in decisions:
            if decision.status == FAILED:
                self.tally.failed += 1
            elif not decision.note.startswith(("recognised", "labelled on the server")):
                self.tally.labels[decision.label or UNSURE] += 1
        if self.options.dry_run:
            return
        with self.ledger.transaction():
            for decision in decisions:
                self.ledger.record(decision)

    def _decision(self, state: FolderState, item: _Item) -> Decision:
        sender = item.message.sender.email if item.message.sender else ""
        p = item.prediction
        return Decision(state.name, state.uidvalidity, item.fetched.uid, item.fingerprint,
                        item.message.message_id, item.message.subject[:200], sender,
                        item.label or None, p.best if p else None, p.confidence if p else None,
                        item.status, item.note + (" (oversize: classified on its first part)"
                                                  if item.fetched.truncated else ""))
