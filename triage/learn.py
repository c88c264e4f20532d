"""Harvest the user's corrections, so `triage train` learns from them.

A correction is something the user did: moved a message into a per-label correction folder
(`Triage/targeted`, `Triage/other`, …) or changed the triage keyword on a labelled message.
Each corrected message is kept as `<label>/<hash>.eml` in the account's private corrections
store, keyed by its fingerprint (Message-ID), so the latest correction of a message wins.
The model never trains on its own unreviewed guesses: nothing else goes into the store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .apply import apply_markers
from .config import LABELS, Account, Config
from .correct import plan_correction
from .ledger import Correction, Ledger, ensure_private_dir
from .mailbox import chunks
from .mailstore import Fetched, FolderState, MailStore, ValidityChanged
from .message import fingerprint, parse_message, valid_message_ids
from .statefiles import atomic_write

log = logging.getLogger(__name__)

RECENT_KEYWORD_DAYS = 90  # a run looks for changed keywords this far back; `triage learn`: all


@dataclass
class Harvest:
    """What one harvest found."""

    account: str
    learned: Counter = field(default_factory=Counter)
    unreadable: int = 0
    remarked: int = 0  # messages whose server markers were changed to the corrected label
    missing: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return sum(self.learned.values())

    def line(self, stored: dict[str, int]) -> str:
        """One line for `triage learn`."""
        found = ", ".join(f"{n} {label}" for label, n in sorted(self.learned.items())) or "none new"
        total = sum(stored.values())
        line = (f"triage: {self.account}: {self.count} corrections learned ({found}); "
                f"{total} in the store")
        if self.remarked:
            line += f"; {self.remarked} relabelled on the server"
        if self.unreadable:
            line += f"; {self.unreadable} unreadable, skipped"
        if self.missing:
            line += f"; missing folders: {', '.join(self.missing)} (create them with " \
                    "`triage learn --create-folders`)"
        return line


class CorrectionStore:
    """Corrected messages on disk: `<directory>/<label>/<hash>.eml`, private to the user."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def save(self, key: str, label: str, raw: bytes) -> Path:
        """Write the message under `label`, removing any copy of it under another label."""
        name = _file_name(key)
        for other in LABELS:
            if other != label:
                (self.directory / other / name).unlink(missing_ok=True)
        folder = self.directory / label
        ensure_private_dir(self.directory)
        ensure_private_dir(folder)
        path = folder / name
        atomic_write(path, raw, 0o600)
        return path

    def remove(self, key: str) -> None:
        """Delete the stored copy of this message, under whatever label."""
        name = _file_name(key)
        for label in LABELS:
            (self.directory / label / name).unlink(missing_ok=True)

    def counts(self) -> dict[str, int]:
        """Stored corrections per label."""
        return {label: len(list((self.directory / label).glob("*.eml"))) for label in LABELS
                if (self.directory / label).is_dir()}


def _file_name(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32] + ".eml"


def shown_id(key: str) -> str:
    """How a correction's message is named to the user: its Message-ID, else its fingerprint."""
    return key[4:] if key.startswith("mid:") else key


def correction_key(text: str) -> str | None:
    """The fingerprint a user-given Message-ID (or `sha:` fingerprint) stands for; None if neither."""
    text = text.strip()
    if re.fullmatch(r"sha:[0-9a-f]{32}", text):
        return text
    candidate = text if text.startswith("<") else f"<{text}>"
    return f"mid:{candidate}" if valid_message_ids(candidate) == (candidate,) else None


def correction_folders(mbox: MailStore, account: Account) -> dict[str, str]:
    """label → the full name of its correction folder on this server ({} when turned off)."""
    if not account.corrections_folder:
        return {}
    prefix, delimiter = mbox.hierarchy()
    root = account.corrections_folder
    if prefix and not root.startswith(prefix) and root.upper() != "INBOX":
        root = prefix + root
    return {label: f"{root}{delimiter}{label}" for label in LABELS}


def create_correction_folders(mbox: MailStore, account: Account) -> list[str]:
    """Create the correction folders that are missing (only on the user's request)."""
    created = []
    for folder in correction_folders(mbox, account).values():
        if mbox.create_folder(folder):
            created.append(folder)
    return created


class Harvester:
    """Finds corrections on one connection and records them in the ledger and the store."""

    def __init__(self, config: Config, account: Account, mbox: MailStore, ledger: Ledger,
                 store: CorrectionStore) -> None:
        self.config, self.account, self.mbox = config, account, mbox
        self.ledger, self.store = ledger, store
        self.result = Harvest(account.name)

    def harvest(self, keyword_days: int | None = RECENT_KEYWORD_DAYS) -> Harvest:
        """Correction folders first, then changed keywords in the watched folders."""
        missing = []
        for label, folder in correction_folders(self.mbox, self.account).items():
            if any(folder.upper() == f.upper() for f in (*self.account.folders, "INBOX")):
                log.warning("correction folder %r is a folder triage processes; refused (its "
                            "mail is not a correction)", folder)
            elif self.mbox.folder_exists(folder):
                self.from_folder(label, folder)
            else:
                missing.append(folder)
        self.result.missing = tuple(missing)
        since = None if keyword_days is None else dt.date.today() - dt.timedelta(days=keyword_days)
        for folder in self.account.folders:
            self.from_keywords(folder, since, incremental=keyword_days is not None)
        return self.result

    def from_folder(self, label: str, folder: str) -> None:
        """Every message that arrived in `folder` since the last harvest is a `label` example;
        its markers become `label`'s at once (SELECTed read-write for that; fetching only peeks)."""
        state = self.mbox.select(folder)
        last = self.ledger.watermark(folder, state.uidvalidity) or 0
        for batch in chunks(self.mbox.new_uids(last, None), self.account.batch_size):
            fetched = self.mbox.fetch(batch, self.account.max_message_bytes)
            self.correct_markers(state, fetched, {entry.uid: label for entry in fetched})
            with self.ledger.transaction():
                for entry in fetched:
                    self.learn(entry.raw, label, f"moved to {folder}")
                self.ledger.set_watermark(folder, state.uidvalidity, max(batch),
                                          dt.date.today().isoformat())

    def from_keywords(self, folder: str, since: dt.date | None, incremental: bool = True) -> None:
        """Messages triage labelled whose label keyword the user changed. Where the server keeps
        mod-sequences (CONDSTORE), only messages whose flags changed since the last harvest are
        searched, and a folder whose HIGHESTMODSEQ did not move is not searched at all."""
        state = self.mbox.select(folder, readonly=True)  # EXAMINE: PERMANENTFLAGS is empty
        last = self.ledger.harvested_modseq(folder, state.uidvalidity) if incremental else 0
        if state.highestmodseq and last > state.highestmodseq:
            log.warning("%s: HIGHESTMODSEQ went back from %d to %d; searching every keyword",
                        folder, last, state.highestmodseq)
            last = 0
        if state.highestmodseq and last == state.highestmodseq:
            return  # no flag in the folder changed since the last harvest
        self._correct_keywords(folder, state, self._tagged(since, last))
        if state.highestmodseq:
            self.ledger.set_harvested_modseq(folder, state.uidvalidity, state.highestmodseq)

    def _tagged(self, since: dt.date | None, changed_since: int) -> dict[int, set[str]]:
        """UID → the labels whose keywords it carries (flags changed after `changed_since`)."""
        tagged: dict[int, set[str]] = {}
        for label in LABELS:
            keyword = self.config.actions[label].keyword
            if keyword:
                for uid in self.mbox.keyword_uids(keyword, since, changed_since):
                    tagged.setdefault(uid, set()).add(label)
        return tagged

    def _correct_keywords(self, folder: str, state: FolderState, tagged: dict[int, set[str]]) -> None:
        """Learn the messages whose one new label keyword differs from the label triage gave."""
        wanted: dict[int, str] = {}
        for uid, (key, given) in self.ledger.labels_at(folder, state.uidvalidity, sorted(tagged)).items():
            added = tagged[uid] - {given}
            if len(added) != 1:
                continue  # unchanged, or ambiguous (two new labels)
            label = added.pop()
            prior = self.ledger.correction(key)
            if (prior is None or prior.label != label) and not self.ledger.forgotten(key, label):
                wanted[uid] = label
        if not wanted:
            return
        state = self._reselect(state)
        for batch in chunks(sorted(wanted), self.account.batch_size):
            fetched = self.mbox.fetch(batch, self.account.max_message_bytes)
            self.correct_markers(state, fetched, wanted)
            with self.ledger.transaction():
                for entry in fetched:
                    self.learn(entry.raw, wanted[entry.uid], f"keyword changed in {folder}")

    def _reselect(self, examined: FolderState) -> FolderState:
        """The folder again, read-write, so its keywords can change; its UIDs must still hold."""
        state = self.mbox.select(examined.name)
        if state.uidvalidity != examined.uidvalidity:
            raise ValidityChanged(f"UIDVALIDITY of {examined.name} changed during the harvest; "
                                  "its corrections are looked for again next run")
        return state

    def correct_markers(self, state: FolderState, fetched: list[Fetched],
                        labels: dict[int, str]) -> None:
        """Make the server markers of corrected messages those of their new label."""
        planned = {entry.uid: plan_correction(entry.uid, labels[entry.uid], entry.flags, state.name,
                                              self.config, state.keywords_allowed)
                   for entry in fetched}
        refused = apply_markers(self.mbox, [a for actions in planned.values() for a in actions])
        for uids, problem in refused:
            log.warning("%s UIDs %s: correction learned, but its server marker was not changed: %s",
                        state.name, uids, problem)
        failed = {uid for uids, _ in refused for uid in uids}
        self.result.remarked += sum(1 for uid, actions in planned.items()
                                    if actions and uid not in failed)

    def learn(self, raw: bytes, label: str, source: str) -> None:
        """Store one corrected message, unless it is unreadable or already known as `label`."""
        try:
            message = parse_message(raw)
        except Exception as exc:  # noqa: BLE001 - one broken message never stops a harvest
            self.result.unreadable += 1
            log.warning("a message %s could not be read (%s: %s); skipped", source,
                        type(exc).__name__, str(exc)[:120])
            return
        key = fingerprint(message, raw)
        prior = self.ledger.correction(key)
        if prior is not None and prior.label == label:
            return
        path = self.store.save(key, label, raw)
        predicted = self.ledger.done_fingerprints([key]).get(key)
        self.ledger.record_correction(Correction(key, label, predicted, source,
                                                 message.subject[:200], str(path)))
        self.result.learned[label] += 1
        log.info("learned %s: %r (%s; triage said %s)", label, message.subject[:60], source,
                 predicted or "nothing")
