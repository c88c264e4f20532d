"""An account's session: its lock, its secret, its ledger and its connections.

Shared by `run`, `watch`, `learn` and `doctor`, so each command holds the same lock, reads
the secret the same way and registers it for redaction before anything can log it.
"""

from __future__ import annotations

import datetime as dt
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from .classifier import Prediction, load_predictor
from .config import Account, Config
from .ledger import LockBusy, Ledger, account_lock, ledger_errors, ledger_path
from .mailbox import Mailbox
from .mailstore import MailboxError, MailStore
from .message import Message
from .runner import Predictor, RunOptions, Runner, Tally
from .secrets import SecretError, resolve_secret

SecretSink = Callable[[str], None]


class ModelOnce:
    """Loads the model on first use: a run with nothing new, or one that finds the lock
    taken, never pays for loading it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.model: Predictor | None = None
        self._lock = threading.Lock()

    def get(self) -> Predictor:
        with self._lock:
            if self.model is None:
                self.model = load_predictor(self.directory)
            return self.model

    def predict(self, messages: Sequence[Message]) -> list[Prediction]:
        """The model's predictions, loading it now if this is the first batch."""
        return self.get().predict(messages)


@dataclass(frozen=True)
class Session:
    """A locked account with its secret resolved and its ledger open."""

    config: Config
    account: Account
    secret: str
    ledger: Ledger

    def connect(self, deadline: float | None = None) -> MailStore:
        """A new logged-in connection; every wait on it ends by `deadline` (time.monotonic())."""
        return Mailbox.connect(self.account, self.secret, deadline)


@contextmanager
def open_session(config: Config, account: Account, on_secret: SecretSink) -> Iterator[Session]:
    """Hold the account's lock, resolve its secret (handed to `on_secret` first), open its ledger.

    Raises LockBusy when another triage holds the lock, SecretError when the secret
    cannot be read, LedgerError when the ledger is unusable.
    """
    with account_lock(config.state_dir, account.name):
        secret = resolve_secret(account)
        on_secret(secret)
        path = ledger_path(config.state_dir, account.name)
        with Ledger(path) as ledger, ledger_errors(path):
            ledger.claim(account.name)
            yield Session(config, account, secret, ledger)


def run_options(account: Account, dry_run: bool = False, since: dt.date | None = None) -> RunOptions:
    """The account's retry and deadline settings as RunOptions."""
    return RunOptions(dry_run=dry_run, retries=account.retries,
                      backoff_seconds=account.retry_backoff,
                      deadline_seconds=account.run_deadline, since=since)


@dataclass(frozen=True)
class AccountResult:
    """How one account's run ended: a tally, another run holding the lock, or an error."""

    account: str
    tally: Tally | None = None
    busy: str = ""
    error: SecretError | MailboxError | None = None


def run_account(config: Config, account: Account, model: ModelOnce, options: RunOptions,
                on_secret: SecretSink, report: Callable[[str], None]) -> AccountResult:
    """One `triage run` of one account; errors that belong to the account are returned."""
    try:
        with open_session(config, account, on_secret) as session:
            runner = Runner(config, account, model, session.ledger,
                            lambda: session.connect(runner.deadline), options, report)
            return AccountResult(account.name, tally=runner.run())
    except LockBusy as exc:
        return AccountResult(account.name, busy=str(exc))
    except (SecretError, MailboxError) as exc:
        return AccountResult(account.name, error=exc)
