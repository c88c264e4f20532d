"""Local state in SQLite: per-folder watermarks, per-message decisions, drafts; and the run lock.

One ledger file and one lock per account, named by `state_name` (slug plus hash, so no two
accounts share them), created 0600 inside a 0700 directory, never through a symbolic link.
A new ledger is built aside and linked into place whole. Every write is a committed
transaction (SQLite's journal makes it atomic), and a ledger that is empty, not a valid
database or of an unknown schema is reported, never silently replaced: starting over from
UID 1 would re-draft every message.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .statefiles import (LockBusy, StateError, account_lock, check_file, corrections_dir,
                         fsync_dir, ledger_path, new_temp, open_file, private_dir)
# LockBusy, account_lock, corrections_dir and ledger_path live in statefiles; imported here
# so that callers keep finding them in the ledger module.


SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS folders (
    folder TEXT NOT NULL, uidvalidity INTEGER NOT NULL, last_uid INTEGER NOT NULL,
    since TEXT NOT NULL, updated_at REAL NOT NULL, PRIMARY KEY (folder, uidvalidity));
CREATE TABLE IF NOT EXISTS messages (
    folder TEXT NOT NULL, uidvalidity INTEGER NOT NULL, uid INTEGER NOT NULL,
    fingerprint TEXT NOT NULL, message_id TEXT NOT NULL, subject TEXT NOT NULL,
    sender TEXT NOT NULL, label TEXT, best TEXT, confidence REAL, status TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 1, decided_at REAL NOT NULL,
    PRIMARY KEY (folder, uidvalidity, uid));
CREATE INDEX IF NOT EXISTS messages_fingerprint ON messages (fingerprint);
CREATE TABLE IF NOT EXISTS drafts (
    draft_message_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, folder TEXT NOT NULL,
    draft_uid INTEGER, source_subject TEXT NOT NULL, recruiter TEXT NOT NULL,
    company TEXT NOT NULL, label TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS corrections (
    fingerprint TEXT PRIMARY KEY, label TEXT NOT NULL, predicted TEXT, source TEXT NOT NULL,
    subject TEXT NOT NULL, file TEXT NOT NULL, corrected_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS pending_drafts (
    folder TEXT NOT NULL, uidvalidity INTEGER NOT NULL, uid INTEGER NOT NULL,
    label TEXT NOT NULL, reason TEXT NOT NULL, since REAL NOT NULL,
    PRIMARY KEY (folder, uidvalidity, uid));
"""
DONE, FAILED, GAVE_UP = "done", "failed", "gave-up"
MAX_ATTEMPTS = 3


class LedgerError(StateError):
    """Raised when the ledger file is corrupt, empty, truncated, unwritable or from a newer triage."""


@dataclass(frozen=True)
class Decision:
    """One message's outcome as recorded: a label for `done`, a reason for `failed`."""

    folder: str
    uidvalidity: int
    uid: int
    fingerprint: str
    message_id: str
    subject: str
    sender: str
    label: str | None
    best: str | None
    confidence: float | None
    status: str
    note: str = ""


@dataclass(frozen=True)
class Correction:
    """A label the user gave a message: by moving it to a correction folder or by keyword."""

    fingerprint: str
    label: str
    predicted: str | None
    source: str
    subject: str
    file: str
    corrected_at: float = 0.0


@dataclass(frozen=True)
class DraftRecord:
    """A draft triage appended (or found already present) for a source message."""

    draft_message_id: str
    fingerprint: str
    folder: str
    draft_uid: int | None
    source_subject: str
    recruiter: str
    company: str
    label: str
    created_at: float = 0.0


def ensure_private_dir(path: Path) -> None:
    """Create `path` (and parents) as a real 0700 folder of ours; refuse a symbolic link."""
    private_dir(path)


@contextmanager
def ledger_errors(path: Path) -> Iterator[None]:
    """Turn SQLite failures (disk full, I/O error, locked) into one-line LedgerErrors."""
    try:
        yield
    except sqlite3.Error as exc:
        raise LedgerError(f"ledger {path} could not be written ({exc}); free disk space or fix "
                          "its permissions, then run again: the next run resumes") from None


class Ledger:
    """The state of one account. Use as a context manager or call close()."""

    def __init__(self, path: Path) -> None:
        self.path = path
        private_dir(path.parent)
        if not check_file(path):
            _create(path)
        _refuse_empty(path)
        with ledger_errors(path):
            self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self._check_and_migrate()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def _check_and_migrate(self) -> None:
        try:
            self.db.execute("PRAGMA synchronous = FULL")
            ok = self.db.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                raise sqlite3.DatabaseError(ok)
            self.db.executescript(SCHEMA)
            version = self.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise LedgerError(f"ledger {self.path} is corrupt or truncated ({exc}); restore it from a "
                              "backup, or move it aside to start afresh (server keywords then keep "
                              "labelled mail from being processed again)") from None
        if version is None:
            with ledger_errors(self.path):
                self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            return
        if not str(version[0]).isdigit():
            self.db.close()
            raise LedgerError(f"ledger {self.path} has an unknown schema version {str(version[0])[:40]!r}; "
                              "it was not written by triage or is damaged: restore it from a backup "
                              "or move it aside")
        if int(version[0]) > SCHEMA_VERSION:
            self.db.close()
            raise LedgerError(f"ledger {self.path} was written by a newer triage (schema "
                              f"{version[0]}); upgrade triage")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def claim(self, account: str) -> None:
        """Record which account this ledger belongs to (the first claim stays)."""
        self.db.execute("INSERT OR IGNORE INTO meta VALUES ('account', ?)", (account,))

    # -- one-time notices ----------------------------------------------------------------
    def noted(self, key: str) -> bool:
        """True once `note(key)` was called, in any earlier run."""
        return self.db.execute("SELECT 1 FROM meta WHERE key = ?", (f"noted:{key}",)).fetchone() is not None

    def note(self, key: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO meta VALUES (?, '1')", (f"noted:{key}",))

    # -- watermarks -------------------------------------------------------------------
    def watermark(self, folder: str, uidvalidity: int) -> int | None:
        """The last UID fully processed in this folder incarnation, or None if never seen."""
        row = self.db.execute("SELECT last_uid FROM folders WHERE folder = ? AND uidvalidity = ?",
                              (folder, uidvalidity)).fetchone()
        return None if row is None else int(row[0])

    def since(self, folder: str) -> str | None:
        """The baseline date (YYYY-MM-DD) of the first run on this folder, any UIDVALIDITY."""
        row = self.db.execute("SELECT since FROM folders WHERE folder = ? ORDER BY updated_at "
                              "LIMIT 1", (folder,)).fetchone()
        return None if row is None else str(row[0])

    def known_validities(self, folder: str) -> list[int]:
        return [int(r[0]) for r in self.db.execute(
            "SELECT uidvalidity FROM folders WHERE folder = ?", (folder,))]

    def set_watermark(self, folder: str, uidvalidity: int, last_uid: int, since: str) -> None:
        self.db.execute(
            "INSERT INTO folders VALUES (?, ?, ?, ?, ?) ON CONFLICT (folder, uidvalidity) DO UPDATE "
            "SET last_uid = max(last_uid, excluded.last_uid), updated_at = excluded.updated_at",
            (folder, uidvalidity, last_uid, since, time.time()))

    def retire(self, folder: str, uidvalidity: int) -> None:
        """Forget the UID numbering of a folder whose UIDs changed under the same UIDVALIDITY.

        Decisions stay (their fingerprints still prevent repeats) under a retired key.
        """
        retired = -int(time.time() * 1000)
        with self.transaction():
            self.db.execute("UPDATE messages SET uidvalidity = ? WHERE folder = ? AND uidvalidity = ?",
                            (retired, folder, uidvalidity))
            self.db.execute("UPDATE folders SET last_uid = 0 WHERE folder = ? AND uidvalidity = ?",
                            (folder, uidvalidity))
            self.db.execute("UPDATE pending_drafts SET uidvalidity = ? WHERE folder = ? AND "
                            "uidvalidity = ?", (retired, folder, uidvalidity))  # old UIDs: void

    def fingerprints_at(self, folder: str, uidvalidity: int, up_to: int, limit: int = 3) -> dict[int, str]:
        """The highest recorded UIDs ≤ `up_to` whose fingerprint is a Message-ID → that id."""
        rows = self.db.execute(
            "SELECT uid, fingerprint FROM messages WHERE folder = ? AND uidvalidity = ? AND uid <= ? "
            "AND fingerprint LIKE 'mid:%' ORDER BY uid DESC LIMIT ?", (folder, uidvalidity, up_to, limit))
        return {int(uid): fp[4:] for uid, fp in rows}

    # -- decisions --------------------------------------------------------------------
    def record(self, decision: Decision) -> None:
        """Insert or update a decision; a repeated failure increments its attempt counter."""
        self.db.execute(
            "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) "
            "ON CONFLICT (folder, uidvalidity, uid) DO UPDATE SET label = excluded.label, "
            "best = excluded.best, confidence = excluded.confidence, note = excluded.note, "
            "status = CASE WHEN excluded.status = 'failed' AND messages.attempts + 1 >= ? "
            "THEN 'gave-up' ELSE excluded.status END, "
            "attempts = messages.attempts + 1, decided_at = excluded.decided_at",
            (decision.folder, decision.uidvalidity, decision.uid, decision.fingerprint,
             decision.message_id, decision.subject, decision.sender, decision.label, decision.best,
             decision.confidence, decision.status, decision.note, time.time(), MAX_ATTEMPTS))

    def settled_uids(self, folder: str, uidvalidity: int) -> set[int]:
        """UIDs that need no more work: done, or failed too often."""
        return {int(r[0]) for r in self.db.execute(
            "SELECT uid FROM messages WHERE folder = ? AND uidvalidity = ? AND status IN (?, ?)",
            (folder, uidvalidity, DONE, GAVE_UP))}

    def settled_among(self, folder: str, uidvalidity: int, uids: list[int]) -> set[int]:
        """Of these UIDs, those that need no more work (done, or failed too often)."""
        return {uid for uid, status in self._statuses(folder, uidvalidity, uids).items()
                if status in (DONE, GAVE_UP)}

    def failed_at(self, folder: str, uidvalidity: int, uids: list[int]) -> set[int]:
        """Of these UIDs, those whose last attempt failed and will be tried again."""
        return {uid for uid, status in self._statuses(folder, uidvalidity, uids).items()
                if status == FAILED}

    def _statuses(self, folder: str, uidvalidity: int, uids: list[int]) -> dict[int, str]:
        found: dict[int, str] = {}
        for start in range(0, len(uids), 500):
            chunk = [int(u) for u in uids[start:start + 500]]
            marks = ",".join("?" * len(chunk))
            for uid, status in self.db.execute(
                    f"SELECT uid, status FROM messages WHERE folder = ? AND uidvalidity = ? "
                    f"AND uid IN ({marks})", (folder, uidvalidity, *chunk)):
                found[int(uid)] = str(status)
        return found

    def baseline(self, folder: str, uidvalidity: int) -> int | None:
        """The highest UID when this folder incarnation was first scanned (date limit below it)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?",
                              (f"baseline:{uidvalidity}:{folder}",)).fetchone()
        return int(row[0]) if row and str(row[0]).isdigit() else None

    def set_baseline(self, folder: str, uidvalidity: int, floor: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                        (f"baseline:{uidvalidity}:{folder}", str(int(floor))))

    def harvested_modseq(self, folder: str, uidvalidity: int) -> int:
        """HIGHESTMODSEQ of this folder incarnation when its keywords were last harvested; 0."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?",
                              (f"modseq:{uidvalidity}:{folder}",)).fetchone()
        return int(row[0]) if row and str(row[0]).isdigit() else 0

    def set_harvested_modseq(self, folder: str, uidvalidity: int, modseq: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                        (f"modseq:{uidvalidity}:{folder}", str(int(modseq))))

    def done_fingerprints(self, fingerprints: list[str]) -> dict[str, str | None]:
        """Of these fingerprints, those already decided (any folder incarnation) → label."""
        found: dict[str, str | None] = {}
        for start in range(0, len(fingerprints), 500):
            chunk = fingerprints[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for fp, label in self.db.execute(
                    f"SELECT fingerprint, label FROM messages WHERE status = 'done' AND "
                    f"fingerprint IN ({marks})", chunk):
                found[fp] = label
        return found

    def labels_at(self, folder: str, uidvalidity: int, uids: list[int]) -> dict[int, tuple[str, str | None]]:
        """For decided UIDs among `uids`: uid → (fingerprint, label triage gave it)."""
        found: dict[int, tuple[str, str | None]] = {}
        for start in range(0, len(uids), 500):
            chunk = uids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for uid, fp, label in self.db.execute(
                    f"SELECT uid, fingerprint, label FROM messages WHERE folder = ? AND uidvalidity = ? "
                    f"AND status = 'done' AND uid IN ({marks})", (folder, uidvalidity, *chunk)):
                found[int(uid)] = (str(fp), label)
        return found

    def decisions(self, limit: int = 50) -> list[Decision]:
        """The most recent decisions, newest first."""
        rows = self.db.execute(
            "SELECT folder, uidvalidity, uid, fingerprint, message_id, subject, sender, label, best, "
            "confidence, status, note FROM messages ORDER BY decided_at DESC, uid DESC LIMIT ?",
            (limit,))
        return [Decision(*row) for row in rows]

    def count(self, status: str | None = None) -> int:
        if status is None:
            return int(self.db.execute("SELECT count(*) FROM messages").fetchone()[0])
        return int(self.db.execute("SELECT count(*) FROM messages WHERE status = ?",
                                   (status,)).fetchone()[0])

    # -- drafts -----------------------------------------------------------------------
    def draft_for(self, draft_message_id: str) -> DraftRecord | None:
        row = self.db.execute("SELECT * FROM drafts WHERE draft_message_id = ?",
                              (draft_message_id,)).fetchone()
        return None if row is None else DraftRecord(*row)

    def record_draft(self, draft: DraftRecord) -> None:
        self.db.execute("INSERT OR IGNORE INTO drafts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (draft.draft_message_id, draft.fingerprint, draft.folder, draft.draft_uid,
                         draft.source_subject, draft.recruiter, draft.company, draft.label,
                         time.time()))

    def drafts(self, limit: int = 20) -> list[DraftRecord]:
        rows = self.db.execute("SELECT * FROM drafts ORDER BY created_at DESC LIMIT ?", (limit,))
        return [DraftRecord(*row) for row in rows]

    def add_pending_draft(self, folder: str, uidvalidity: int, uid: int, label: str,
                          reason: str) -> None:
        """A labelled message whose draft waits for a usable Drafts folder."""
        self.db.execute("INSERT OR IGNORE INTO pending_drafts VALUES (?, ?, ?, ?, ?, ?)",
                        (folder, uidvalidity, uid, label, reason[:300], time.time()))

    def pending_drafts(self, folder: str, uidvalidity: int) -> dict[int, str]:
        """UID → label of this folder's messages whose drafts are still to be made."""
        return {int(uid): str(label) for uid, label in self.db.execute(
            "SELECT uid, label FROM pending_drafts WHERE folder = ? AND uidvalidity = ? "
            "ORDER BY uid", (folder, uidvalidity))}

    def adopt_pending_drafts(self, folder: str, uidvalidity: int, found: dict[str, int]) -> None:
        """Pending drafts recorded under an older numbering of `folder` move to the UIDs their
        messages (fingerprint → UID in `found`) have now."""
        if not found:
            return
        rows = self.db.execute(
            "SELECT p.uidvalidity, p.uid, m.fingerprint FROM pending_drafts p JOIN messages m ON "
            "m.folder = p.folder AND m.uidvalidity = p.uidvalidity AND m.uid = p.uid "
            "WHERE p.folder = ? AND p.uidvalidity != ?", (folder, uidvalidity)).fetchall()
        for old_validity, old_uid, key in rows:
            if key in found:
                self.db.execute("UPDATE OR IGNORE pending_drafts SET uidvalidity = ?, uid = ? WHERE "
                                "folder = ? AND uidvalidity = ? AND uid = ?",
                                (uidvalidity, found[key], folder, old_validity, old_uid))

    def drop_pending_draft(self, folder: str, uidvalidity: int, uid: int) -> None:
        self.db.execute("DELETE FROM pending_drafts WHERE folder = ? AND uidvalidity = ? AND uid = ?",
                        (folder, uidvalidity, uid))

    # -- corrections ------------------------------------------------------------------
    def correction(self, fingerprint: str) -> Correction | None:
        row = self.db.execute("SELECT * FROM corrections WHERE fingerprint = ?",
                              (fingerprint,)).fetchone()
        return None if row is None else Correction(*row)

    def record_correction(self, correction: Correction) -> None:
        """Insert or replace: the latest correction of a message wins."""
        self.db.execute("INSERT OR REPLACE INTO corrections VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (correction.fingerprint, correction.label, correction.predicted,
                         correction.source, correction.subject, correction.file, time.time()))

    def corrections(self, limit: int = 1000) -> list[Correction]:
        rows = self.db.execute("SELECT * FROM corrections ORDER BY corrected_at DESC LIMIT ?", (limit,))
        return [Correction(*row) for row in rows]

    def corrected_labels(self, fingerprints: list[str]) -> dict[str, str]:
        """Of these fingerprints, those the user corrected → the label the user gave."""
        found: dict[str, str] = {}
        for start in range(0, len(fingerprints), 500):
            chunk = fingerprints[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for fp, label in self.db.execute(
                    f"SELECT fingerprint, label FROM corrections WHERE fingerprint IN ({marks})", chunk):
                found[str(fp)] = str(label)
        return found

    def forget_correction(self, fingerprint: str) -> Correction | None:
        """Delete a correction (the caller removes its stored file); the deleted one, if any.

        A tombstone keeps the unchanged server keyword from teaching it again."""
        found = self.correction(fingerprint)
        if found is not None:
            with self.transaction():
                self.db.execute("DELETE FROM corrections WHERE fingerprint = ?", (fingerprint,))
                self.note(f"forgotten:{fingerprint}:{found.label}")
        return found

    def forgotten(self, fingerprint: str, label: str) -> bool:
        """True when the user forgot this correction (`triage learn --forget`)."""
        return self.noted(f"forgotten:{fingerprint}:{label}")

    # -- history (for `triage report`) ------------------------------------------------------
    def decided_since(self, since: float) -> list[tuple[Decision, float]]:
        """Done decisions made at or after `since` (epoch seconds), oldest first, with their time."""
        rows = self.db.execute(
            "SELECT folder, uidvalidity, uid, fingerprint, message_id, subject, sender, label, best, "
            "confidence, status, note, decided_at FROM messages WHERE status = ? AND decided_at >= ? "
            "ORDER BY decided_at, uid", (DONE, since))
        return [(Decision(*row[:12]), float(row[12])) for row in rows]

    def drafts_since(self, since: float) -> list[DraftRecord]:
        """Drafts made at or after `since`, oldest first."""
        rows = self.db.execute("SELECT * FROM drafts WHERE created_at >= ? ORDER BY created_at",
                               (since,))
        return [DraftRecord(*row) for row in rows]


def _create(path: Path) -> None:
    """Build an empty ledger aside and link it into place whole (never over an existing one)."""
    temporary = new_temp(path)
    try:
        with ledger_errors(path):
            db = sqlite3.connect(temporary, isolation_level=None)
            try:
                db.executescript(SCHEMA)
                db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            finally:
                db.close()
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process created it first: use theirs
        fsync_dir(path.parent)
    except OSError as exc:
        raise LedgerError(f"ledger {path} could not be created ({exc.strerror}); free disk space "
                          "or fix the folder's permissions") from None
    finally:
        temporary.unlink(missing_ok=True)


def _refuse_empty(path: Path) -> None:
    """A 0-byte ledger is damage (a truncation), never a fresh start."""
    fd = open_file(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    if size == 0:
        raise LedgerError(f"ledger {path} is empty (0 bytes): it was truncated; restore it from a "
                          "backup, or move it aside to start afresh (server keywords then keep "
                          "labelled mail from being processed again)")
