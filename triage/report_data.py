"""Gather one account's report: its ledger's records of the window and the server's word on
its drafts. The only part of `triage report` that touches files and the network."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

from .config import Account, Config
from .ledger import Ledger, ledger_path
from .mailbox import Mailbox
from .mailstore import MailboxError
from .report import Report, build_report, draft_outcomes
from .secrets import SecretError, resolve_secret


def account_report(config: Config, account: Account, days: int, ask_server: bool,
                   on_secret: Callable[[str], None], now: float | None = None
                   ) -> tuple[Report, SecretError | MailboxError | None]:
    """The account's report, and why the server could not be asked about drafts (if so).

    Reads the ledger only, so it needs no lock and may run while `triage run` does."""
    now = time.time() if now is None else now
    since = now - days * 86400
    with Ledger(ledger_path(config.state_dir, account.name)) as ledger:
        decided = ledger.decided_since(since)
        corrections = ledger.corrections(limit=1_000_000)
        drafts = ledger.drafts_since(since)
    outcomes, note, error = None, "", None
    if not ask_server:
        note = "draft outcomes not looked up (--no-server)"
    elif drafts:
        try:
            outcomes = _outcomes(account, drafts, on_secret)
        except (SecretError, MailboxError) as exc:
            note, error = f"draft outcomes unknown: {exc}", exc
    return build_report(account.name, decided, corrections, drafts, outcomes, days, now, note), error


def _outcomes(account: Account, drafts: list, on_secret: Callable[[str], None]) -> dict[str, str]:
    secret = resolve_secret(account)
    on_secret(secret)
    mbox = Mailbox.connect(account, secret)
    try:
        return draft_outcomes(mbox, drafts)
    finally:
        mbox.close()


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` (mode 0600: it describes the user's mail), replacing it whole."""
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(temporary, path)
