"""`triage watch`: every configured account and folder, each on a connection of its own.

Each folder's thread processes new mail on the connection that saw it, then waits (IDLE
where the server offers it, NOOP polls otherwise) and goes again without a gap: before
waiting it re-selects the folder and compares UIDNEXT/EXISTS with what the last scan saw,
and a report that arrives while IDLE starts counts as news. A dropped connection is retried
with exponential backoff and jitter; a refused login stops everything (never a second
attempt, so an account is not locked out); SIGTERM/SIGINT let each thread finish its batch,
record it and log out.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Callable

from .config import Account, Config
from .ledger import Ledger
from .mailstore import AuthError, FolderError, FolderState, MailboxError, MailStore, SetupError
from .runner import RunOptions, Runner, Tally
from .secrets import SecretError
from .session import ModelOnce, Session, open_session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchOptions:
    """How long one wait lasts before a re-check, and the reconnect backoff."""

    interval: float = 600.0
    backoff_start: float = 1.0
    backoff_max: float = 60.0
    quiet: bool = False


class Backoff:
    """Exponential backoff with ±25 % jitter: start, 2×start, … up to `most` seconds."""

    def __init__(self, start: float, most: float) -> None:
        self.start, self.most, self.attempt = start, most, 0

    def next_delay(self) -> float:
        delay = min(self.most, self.start * 2 ** self.attempt)
        self.attempt += 1
        return delay * random.uniform(0.75, 1.25)

    def reset(self) -> None:
        self.attempt = 0


class Watch:
    """Runs one thread per (account, folder) until stopped or a login is refused."""

    def __init__(self, config: Config, accounts: list[Account], model: ModelOnce,
                 options: WatchOptions, on_secret: Callable[[str], None],
                 report: Callable[[str], None]) -> None:
        self.config, self.accounts, self.model = config, accounts, model
        self.options, self.on_secret = options, on_secret
        self._report, self._print_lock = report, threading.Lock()
        self.stop = threading.Event()
        self.error: SecretError | MailboxError | None = None

    def run(self) -> SecretError | MailboxError | None:
        """Watch until `stop` is set or an account's login is refused; the error, if any."""
        self.model.get()
        with ExitStack() as stack:
            sessions = [stack.enter_context(open_session(self.config, a, self.on_secret))
                        for a in self.accounts]
            first: dict[str, MailStore] = {}
            for session in sessions:  # one login per account before any thread: a refusal ends here
                try:
                    first[session.account.name] = session.connect()
                except MailboxError as exc:
                    for mbox in first.values():
                        mbox.close()
                    if self._fatal(session.account, exc):
                        return self.error
                    log.warning("%s: %s; each folder retries on its own", session.account.name, exc)
            threads = [threading.Thread(
                target=self._guarded, name=f"watch {s.account.name} {folder}", daemon=True,
                args=(s, folder, i == 0, first.pop(s.account.name, None) if i == 0 else None))
                for s in sessions for i, folder in enumerate(s.account.folders)]
            for thread in threads:
                thread.start()
            while any(t.is_alive() for t in threads):
                for thread in threads:
                    thread.join(0.2)
        return self.error

    def report(self, line: str) -> None:
        with self._print_lock:
            self._report(line)

    def _guarded(self, session: Session, folder: str, harvest: bool,
                 initial: MailStore | None) -> None:
        try:
            self._watch_folder(session, folder, harvest, initial)
        except Exception as exc:  # noqa: BLE001 - a thread must never die silently
            log.exception("watching %s of %s stopped: %s", folder, session.account.name, exc)

    def _watch_folder(self, session: Session, folder: str, harvest: bool,
                      initial: MailStore | None) -> None:
        backoff = Backoff(self.options.backoff_start, self.options.backoff_max)
        with Ledger(session.ledger.path) as ledger:
            while not self.stop.is_set():
                try:
                    mbox, initial = initial or session.connect(), None
                    backoff.reset()
                    try:
                        self._serve(session, ledger, mbox, folder, harvest)
                    finally:
                        mbox.close()
                except MailboxError as exc:
                    if self._fatal(session.account, exc):
                        return
                    self._pause(backoff, session.account, folder, exc)

    def _serve(self, session: Session, ledger: Ledger, mbox: MailStore, folder: str,
               harvest: bool) -> None:
        """Process, re-check, wait, on one connection, until it breaks or watch stops."""
        account = session.account
        mbox.stop = self.stop
        runner = Runner(self.config, account, self.model, ledger, lambda: mbox,
                        RunOptions(retries=0, deadline_seconds=account.run_deadline),
                        stop=self.stop)
        while not self.stop.is_set():
            runner.tally = Tally(account.name)
            runner.deadline = time.monotonic() + account.run_deadline
            runner.cycle(mbox, [folder], harvest=harvest)
            tally = runner.tally
            if tally.processed or tally.failed or (tally.corrections and not self.options.quiet):
                self.report(tally.line())
            if runner.tally.stopped_early:
                continue  # the deadline cut a backlog short: go on with it, do not wait
            if runner.tally.folder_errors:
                raise FolderError(runner.tally.folder_errors[0])
            if self._arrived_meanwhile(mbox, folder, runner.last_state.get(folder)):
                continue
            mbox.wait_for_news(self.options.interval)

    @staticmethod
    def _arrived_meanwhile(mbox: MailStore, folder: str, seen: FolderState | None) -> bool:
        """Re-select before waiting: did UIDNEXT (or EXISTS) move since the scan began?"""
        now = mbox.select(folder)
        if seen is None:
            return False
        if now.uidnext and seen.uidnext:
            return now.uidnext != seen.uidnext
        return now.exists > seen.exists

    def _fatal(self, account: Account, exc: MailboxError) -> bool:
        """A refused login or a setup problem (TLS included) ends watch; a folder that cannot be
        used ends the watch of that folder only (the others go on); a dropped connection ends
        nothing."""
        if isinstance(exc, (AuthError, SetupError, FolderError)):
            log.error("%s: %s%s", account.name, exc, "; the other folders are still watched"
                      if isinstance(exc, FolderError) else "")
            if self.error is None or isinstance(self.error, FolderError):
                self.error = exc
            if not isinstance(exc, FolderError):
                self.stop.set()
            return True
        return False

    def _pause(self, backoff: Backoff, account: Account, folder: str, exc: MailboxError) -> None:
        delay = backoff.next_delay()
        log.warning("%s %s: %s; reconnecting in %.1f s", account.name, folder, exc, delay)
        self.stop.wait(delay)
