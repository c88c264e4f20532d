"""`--json` output: one JSON object per line (JSON Lines) for `run`, `log`, `drafts`, `doctor`.

Each function turns one record the core already produces into a plain dict with stable,
documented keys; the CLI prints them with `line()`. Text from mail (subjects, names) is
carried as JSON strings, so no character of it can break a line or forge a record.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from .classifier import UNSURE
from .config import LABELS
from .ledger import Decision, DraftRecord
from .runner import Tally

if TYPE_CHECKING:
    from .doctor import Check

Record = dict[str, Any]


def line(record: Record) -> str:
    """One JSON Lines line (UTF-8 text kept readable)."""
    return json.dumps(record, ensure_ascii=False, sort_keys=False)


def run_summary(tally: Tally, planned: list[str], exit_code: int) -> Record:
    """The summary of one account's run (`triage run --json`)."""
    return {"account": tally.account, "status": "ok", "processed": tally.processed,
            "labels": {label: tally.labels.get(label, 0) for label in (*LABELS, UNSURE)},
            "drafts": tally.drafts, "drafts_waiting_for_folder": tally.pending_drafts,
            "failed": tally.failed, "already_done": tally.recognised,
            "corrections": tally.corrections, "dry_run": tally.dry_run,
            "stopped_early": tally.stopped_early, "skipped_folders": list(tally.skipped_folders),
            "folder_errors": list(tally.folder_errors),
            "plan": planned, "exit_code": exit_code}


def run_problem(account: str, status: str, detail: str, exit_code: int) -> Record:
    """An account whose run did not happen: "busy" (another run holds the lock) or "error"."""
    return {"account": account, "status": status, "error" if status == "error" else "detail":
            detail, "exit_code": exit_code}


def decision(account: str, record: Decision, corrected_to: str | None = None) -> Record:
    """One ledger decision (`triage log --json`); `corrected_to`: the label you gave it."""
    return {"account": account, **asdict(record), "corrected_to": corrected_to}


def draft(account: str, record: DraftRecord) -> Record:
    """One drafted reply (`triage drafts --json`); `created` in UTC, ISO 8601."""
    created = dt.datetime.fromtimestamp(record.created_at, dt.timezone.utc).isoformat()
    return {"account": account, **asdict(record), "created": created}


def check(record: Check) -> Record:
    """One line of `triage doctor --json`: status is "ok", "note" or "fail"."""
    return {"status": record.status.lower(), "subject": record.subject, "detail": record.detail,
            "kind": record.kind}
