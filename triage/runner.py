"""One account, folder by folder: scan → fetch → parse → classify → plan → apply → advance.

Progress is recorded per batch in the ledger before the watermark moves, so a run cut
short anywhere resumes where it stopped: work already done is recognised (ledger, server
keyword, or the draft's Message-ID in Drafts) and never repeated.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

from .apply import Applier, apply_markers
from .classifier import UNSURE, ModelError, Prediction
from .config import LABELS, Account, Config
from .correct import THREAD_NOTE, as_prediction, inherited_label, thread_fingerprints
from .learn import CorrectionStore, Harvester
from .ledger import Ledger, corrections_dir
from .mailstore import (AuthError, DeadlineError, Fetched, FolderError, FolderState, MailboxError,
                        MailStore, ProtocolError, ServerFault, SetupError, ValidityChanged)
from .message import Message, fingerprint, parse_message
from .plan import FAILURE, NEW, RECOGNISED, Draft, Item, Known, Move, Plan, label_action, \
    plan_failure, plan_new, plan_recognised, wants_draft
from .policy import draft_blocker
from .scan import Scan, scan_folder

if TYPE_CHECKING:  # replies (Jinja2, the extraction patterns) loads with the first draft
    from .replies import Reply

log = logging.getLogger(__name__)


class Predictor(Protocol):
    """What the runner needs of a model (the trained `Model`, or a stand-in in tests)."""

    def predict(self, messages: Sequence[Message]) -> list[Prediction]: ...


@dataclass(frozen=True)
class RunOptions:
    """How a run behaves: dry-run, retries of transient errors, deadline, deliberate backfill."""

    dry_run: bool = False
    retries: int = 3
    backoff_seconds: float = 2.0
    deadline_seconds: float = 1200.0
    since: dt.date | None = None  # `triage run --since`: also look below the watermark
    progress: Callable[[str, int, int], None] | None = None  # (folder, done, total) per batch


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
    pending_drafts: int = 0
    skipped_folders: list[str] = field(default_factory=list)
    folder_errors: list[str] = field(default_factory=list)

    @property
    def processed(self) -> int:
        return sum(self.labels.values())

    def count(self, plan: Plan) -> None:
        """Add one plan's outcome."""
        if plan.outcome == FAILURE:
            self.failed += 1
        elif plan.outcome == RECOGNISED:
            self.recognised += 1
        else:
            self.labels[plan.label or UNSURE] += 1

    def line(self) -> str:
        """The one summary line cron mails."""
        counts = ", ".join(f"{self.labels.get(label, 0)} {label}" for label in (*LABELS, UNSURE))
        extra = f"; {self.recognised} already done" if self.recognised else ""
        if self.corrections:
            extra += f"; {self.corrections} corrections learned"
        if self.pending_drafts:
            extra += (f"; {self.pending_drafts} drafts wait for a Drafts folder (create one, or "
                      "set drafts_folder; they are made on the next run)")
        if self.skipped_folders:
            extra += f"; not processed this run: {', '.join(self.skipped_folders)}"
        early = "; deadline reached, the rest next run" if self.stopped_early else ""
        dry = " (dry run: nothing changed)" if self.dry_run else ""
        return (f"triage: {self.account}: {self.processed} new ({counts}); {self.drafts} drafts; "
                f"{self.failed} failed{extra}{early}{dry}")


class Runner:
    """Processes one account; `run()` connects (and retries), `cycle()` works on a connection."""

    def __init__(self, config: Config, account: Account, model: Predictor, ledger: Ledger,
                 connect: Callable[[], MailStore], options: RunOptions = RunOptions(),
                 report: Callable[[str], None] = lambda _: None,
                 stop: threading.Event | None = None) -> None:
        # the account's own identity ([accounts.me] over [me]) drafts and is "me" for this run
        self.config = replace(config, me=account.identity or config.me)
        self.account, self.model, self.ledger = account, model, ledger
        self.connect, self.options, self.report = connect, options, report
        self.stop = stop or threading.Event()
        self.tally = Tally(account.name, dry_run=options.dry_run)
        self._templates: Any = None  # the Jinja2 environment, made for the first draft
        self.deadline = time.monotonic() + options.deadline_seconds
        self.last_state: dict[str, FolderState] = {}  # per folder: SELECT before the last scan
        self._sent: dict[int, str | None] = {}  # per connection: the \\Sent folder, looked up once

    def run(self) -> Tally:
        """All folders of the account, retrying a broken connection with backoff."""
        for attempt in range(self.options.retries + 1):
            try:
                mbox = self.connect()
                try:
                    self.cycle(mbox)
                finally:
                    mbox.close()
                return self.tally
            except MailboxError as exc:
                if not _retryable(exc) or attempt >= self.options.retries or self._out_of_time():
                    raise
                delay = min(self.options.backoff_seconds * 2 ** attempt,  # never past the deadline
                            max(0.0, self.deadline - time.monotonic()))
                log.warning("%s; retrying in %.0f s (attempt %d of %d)", exc, delay, attempt + 2,
                            self.options.retries + 1)
                self.stop.wait(delay)
        return self.tally  # pragma: no cover - the loop returns or raises

    def cycle(self, mbox: MailStore, folders: Sequence[str] | None = None,
              harvest: bool = True) -> None:
        """Process `folders` (default: all of the account's) on `mbox`, then harvest corrections."""
        for folder in folders or self.account.folders:
            if self._out_of_time():
                break
            try:
                self.process_folder(mbox, folder)
            except ValidityChanged as exc:
                log.warning("%s", exc)
                self.tally.skipped_folders.append(folder)
            except FolderError as exc:  # this folder only: the others are still processed
                log.error("%s", exc)
                self.tally.folder_errors.append(str(exc))
                self.tally.skipped_folders.append(folder)
        if harvest and not self.options.dry_run and not self._out_of_time():
            self.harvest_corrections(mbox)

    def _out_of_time(self) -> bool:
        if self.stop.is_set():
            return True
        if time.monotonic() > self.deadline:
            if not self.tally.stopped_early:
                log.warning("run deadline of %.0f s reached; the rest waits for the next run",
                            self.options.deadline_seconds)
            self.tally.stopped_early = True
            return True
        return False

    def harvest_corrections(self, mbox: MailStore) -> None:
        """Learn what the user corrected since the last run; a folder problem never fails the run."""
        if not self.account.corrections_folder:
            return
        store = CorrectionStore(corrections_dir(self.config.state_dir, self.account.name))
        try:
            found = Harvester(self.config, self.account, mbox, self.ledger, store).harvest()
        except (FolderError, ProtocolError, ValidityChanged) as exc:
            log.warning("corrections not harvested this run: %s", exc)
            return
        self.tally.corrections += found.count
        if found.missing:
            log.info("no correction folders (%s): create them with `triage learn --create-folders` "
                     "to teach triage by moving mail", ", ".join(found.missing))

    # -- one folder ----------------------------------------------------------------------
    def process_folder(self, mbox: MailStore, folder: str) -> None:
        """New mail of one folder, batch by batch, moving the watermark after each."""
        if mbox.is_all_mail(folder):
            log.warning("%s not processed: on Gmail it shows every message a second time; list "
                        "INBOX (or the labels you want sorted) in folders instead", folder)
            return
        state = mbox.select(folder, readonly=self.options.dry_run)
        self.last_state[folder] = state
        self._note_keyword_support(state)
        scan = scan_folder(mbox, self.ledger, state, self.account, self.options.since,
                           self.options.dry_run)
        applier = Applier(mbox, self.ledger, self.account.drafts_folder)
        for start in range(0, len(scan.todo), self.account.batch_size):
            self._progress(folder, start, len(scan.todo))
            if self._out_of_time():
                return
            batch = scan.todo[start:start + self.account.batch_size]
            plans = self.decide(mbox, state, batch)
            if self.options.dry_run:
                for plan in plans:
                    self.tally.count(plan)
                    self.tally.drafts += sum(isinstance(a, Draft) for a in plan.actions)
                    self.report("would: " + plan.describe())
                continue
            for plan in plans:
                log.info("%s", plan.describe())  # exactly what --dry-run prints
            applied = applier.apply(state, plans)
            self.tally.drafts += applied.drafts
            self.tally.pending_drafts += applied.pending
            for plan in applied.plans:
                self.tally.count(plan)
            scan.advance(self.ledger, batch)
        self._progress(folder, len(scan.todo), len(scan.todo))
        if not scan.todo and scan.candidates and not self.options.dry_run:
            scan.advance(self.ledger, [])
        if not self.options.dry_run and not self.tally.pending_drafts:
            self.make_pending_drafts(mbox, state, applier)

    def make_pending_drafts(self, mbox: MailStore, state: FolderState, applier: Applier) -> None:
        """Drafts that waited for a Drafts folder (their messages are labelled): make them now."""
        pending = self.ledger.pending_drafts(state.name, state.uidvalidity)
        if not pending:
            return
        if mbox.selected != state.name:
            mbox.select(state.name, readonly=True)
        fetched = {e.uid: e for e in mbox.fetch(sorted(pending), self.account.max_message_bytes)}
        recorded = self.ledger.labels_at(state.name, state.uidvalidity, sorted(pending))
        moves: list[Move] = []
        for uid, label in pending.items():
            item = self._parse(state, fetched[uid]) if uid in fetched else None
            if item is not None and recorded.get(uid, ("",))[0] != item.fingerprint:
                item = None  # the UID now holds another message (renumbered): never reply to it
            if item is not None:  # the user's correction meanwhile wins over the stored label
                label = self.ledger.corrected_labels([item.fingerprint]).get(item.fingerprint, label)
            reply = self._reply(item, label)[0] if item else None
            blocker = draft_blocker(item.message, item.flags, self.config.me.email,
                                    self._thread_answered(mbox, item, label)) \
                if item is not None and item.message is not None else ""
            if item is None or reply is None or blocker:
                log.warning("%s UID %d: the pending draft is dropped: %s", state.name, uid,
                            "the message is gone or renumbered" if item is None else
                            blocker or "no reply can be built")
                reply = None
            try:
                made = applier.make_draft(item, label, reply) if item and reply else None
                if made:
                    self.ledger.record_draft(made)
                    self.tally.drafts += int(made.appended)
            except FolderError:
                self.tally.pending_drafts += len(pending)
                return
            except ProtocolError as exc:  # this draft's problem: it waits, the run goes on
                log.error("%s UID %d: pending draft not made: %s", state.name, uid, exc)
                self.tally.pending_drafts += 1
                continue
            destination = label_action(self.config, label).move_to
            if destination and item is not None:
                moves.append(Move(uid, destination))  # held back while the draft waited
            self.ledger.drop_pending_draft(state.name, state.uidvalidity, uid)
        if moves:
            applier._reselect(state)
            apply_markers(mbox, moves)

    def _progress(self, folder: str, done: int, total: int) -> None:
        if self.options.progress is not None and total:
            self.options.progress(folder, done, total)

    def _note_keyword_support(self, state: FolderState) -> None:
        key = f"no-keywords:{state.name}"
        if state.keywords_allowed or self.options.dry_run or self.ledger.noted(key):
            return
        log.warning("%s does not allow custom keywords (no \\* in PERMANENTFLAGS): labels are kept "
                    "in the local ledger only", state.name)
        self.ledger.note(key)

    # -- fetch, parse, classify, plan ----------------------------------------------------
    def decide(self, mbox: MailStore, state: FolderState, uids: list[int]) -> list[Plan]:
        """The plan for each of these UIDs; nothing is changed yet."""
        if mbox.selected != state.name:  # a Sent or Drafts look-up moved away (dry run: no apply)
            now = mbox.select(state.name, readonly=self.options.dry_run)
            if now.uidvalidity != state.uidvalidity:
                raise ValidityChanged(f"UIDVALIDITY of {state.name} changed during the run; the "
                                      "next run re-scans it")
        items = [self._parse(state, entry) for entry in mbox.fetch(uids, self.account.max_message_bytes)]
        unanswered = sorted(set(uids) - {i.uid for i in items})  # else it holds the watermark, untold
        if unanswered:  # expunged meanwhile: gone, nothing to report; still there: a failure
            present = mbox.message_ids(unanswered)
            unanswered = [uid for uid in unanswered if uid in present]
        items = sorted(items + [Item(state.name, state.uidvalidity, uid, (), False, None,
                                     f"uid:{state.uidvalidity}:{uid}",
                                     "the server returned nothing for it (gone or unreadable)")
                                for uid in unanswered], key=lambda i: i.uid)
        done = self.ledger.done_fingerprints([i.fingerprint for i in items if i.message])
        done.update(self.ledger.corrected_labels(list(done)))  # the user's label wins
        retrying = self.ledger.failed_at(state.name, state.uidvalidity, [i.uid for i in items])
        keywords = {a.keyword: label for label, a in self.config.actions.items() if a.keyword}
        plans: dict[int, Plan] = {}
        fresh: list[Item] = []
        for item in items:
            on_server = [keywords[f] for f in item.flags if f in keywords]
            if item.message is None:
                plans[item.uid] = plan_failure(item, item.problem)
            elif item.fingerprint in done:
                plans[item.uid] = plan_recognised(item, done[item.fingerprint] or UNSURE,
                                                  "recognised from ledger", self.config,
                                                  state.keywords_allowed)
            elif on_server and item.uid not in retrying:
                plans[item.uid] = plan_recognised(item, on_server[0], "labelled on the server before",
                                                  self.config, state.keywords_allowed)
            else:
                fresh.append(item)
        inherited = self._thread_corrections(fresh)
        for item in fresh:
            if item.uid in inherited:
                plans[item.uid] = self._plan_new(mbox, state, item,
                                                 as_prediction(inherited[item.uid]), THREAD_NOTE)
        fresh = [i for i in fresh if i.uid not in inherited]
        for item, prediction in zip(fresh, self._classify(fresh)):
            if isinstance(prediction, str):
                plans[item.uid] = plan_failure(item, prediction)
            else:
                plans[item.uid] = self._plan_new(mbox, state, item, prediction)
        return [plans[i.uid] for i in items]

    def _parse(self, state: FolderState, entry: Fetched) -> Item:
        try:
            message = parse_message(entry.raw, truncated=entry.truncated)
            key = fingerprint(message, entry.raw)
            return Item(state.name, state.uidvalidity, entry.uid, entry.flags, entry.truncated,
                        message, key)
        except Exception as exc:  # noqa: BLE001 - one broken message never stops a run
            reason = f"unparsable: {type(exc).__name__}: {str(exc)[:120]}"
            log.warning("%s UID %d: %s", state.name, entry.uid, reason)
            return Item(state.name, state.uidvalidity, entry.uid, entry.flags, entry.truncated,
                        None, f"uid:{state.uidvalidity}:{entry.uid}", reason)

    def _thread_corrections(self, items: list[Item]) -> dict[int, str]:
        """UID → the label the user gave an earlier message of its thread (before classifying)."""
        keys = [k for i in items if i.message for k in thread_fingerprints(i.message)]
        corrected = self.ledger.corrected_labels(keys) if keys else {}
        labels = {i.uid: inherited_label(i.message, corrected) for i in items if i.message}
        return {uid: label for uid, label in labels.items() if label}

    def _classify(self, items: list[Item]) -> list[Prediction | str]:
        """A prediction per item, or the reason it could not be classified."""
        messages = [i.message for i in items if i.message is not None]
        if not messages:
            return []
        try:
            return list(self.model.predict(messages))
        except ModelError:
            raise  # no usable model: the run stops (exit 6), nothing is marked failed
        except Exception:  # noqa: BLE001 - one at a time, to isolate the culprit
            return [self._predict_one(i) for i in items]

    def _predict_one(self, item: Item) -> Prediction | str:
        try:
            assert item.message is not None
            return self.model.predict([item.message])[0]
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001
            return f"classifier failed: {type(exc).__name__}"

    def _plan_new(self, mbox: MailStore, state: FolderState, item: Item,
                  prediction: Prediction, reason: str = "") -> Plan:
        reply, problem = self._reply(item, prediction.label)
        known = Known(thread_answered=self._thread_answered(mbox, item, prediction.label),
                      draft_recorded=bool(reply and any(self.ledger.draft_for(known)
                                                        for known in reply.known_ids)))
        return plan_new(item, prediction, known, self.config, state.keywords_allowed, reply, problem,
                        reason)

    def _reply(self, item: Item, label: str) -> tuple[Reply | None, str]:
        if not wants_draft(self.config, label) or item.message is None:
            return None, ""
        from .replies import build_reply, template_environment, template_for
        try:
            if self._templates is None:
                self._templates = template_environment(self.config.template_dir)
            return build_reply(item.message, item.fingerprint, self.config.me, self._templates,
                               template_for(label, self.config.me.stance)), ""
        except Exception as exc:  # noqa: BLE001 - a template or content problem, not the run's
            log.error("%s UID %d: reply not built: %s: %s", item.folder, item.uid,
                      type(exc).__name__, str(exc)[:160])
            return None, f"reply not built ({type(exc).__name__}: {str(exc)[:120]})"

    def _thread_answered(self, mbox: MailStore, item: Item, label: str) -> bool:
        """For draft candidates that are replies: did the user already write in this thread?"""
        message = item.message
        if not wants_draft(self.config, label) or message is None or not message.in_reply_to:
            return False
        if id(mbox) not in self._sent:
            self._sent = {id(mbox): mbox.special_folder(b"\\Sent")}
        sent = self._sent[id(mbox)]
        ids = [*message.references, message.in_reply_to]
        return bool(sent and mbox.find_by_message_id(sent, ids))


def _retryable(exc: MailboxError) -> bool:
    """A dropped connection or timeout is retried; refusals, setup problems (TLS included), a
    server breaking limits and the run's deadline are not."""
    return not isinstance(exc, (AuthError, SetupError, FolderError, ProtocolError, ServerFault,
                                DeadlineError))


__all__ = ["RunOptions", "Runner", "Scan", "Tally", "NEW"]
