"""`triage report`: what triage decided in the last N days and what the user made of it.

Pure over the ledger's records (decisions, corrections, drafts) and what one mailbox
look-up says about each draft (`draft_outcomes`): sent (a reply in Sent threaded to the
original, or the draft itself in Sent), deleted unsent, or still waiting. This is the
evidence a user needs before letting triage move mail: a decision the user never corrected
counts as right, so the verdict asks for enough decisions and a high lower bound.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Sequence

from .classifier import RECRUITER_LABELS, UNSURE
from .config import LABELS
from .ledger import Correction, Decision, DraftRecord
from .mailstore import MailStore

SENT, DELETED, WAITING, UNKNOWN = "sent", "deleted unsent", "waiting", "unknown"
OUTCOMES = (SENT, DELETED, WAITING, UNKNOWN)
DECIDED = (*LABELS, UNSURE)  # rows: what triage said
FINAL = (*LABELS, UNSURE)  # columns: what it is now (the user's correction, else triage's label)
MIN_DECISIONS = 30  # fewer decisions of a label are no evidence for moving it
MIN_PRECISION = 0.95  # the 95% lower bound (Wilson) of the share left uncorrected must reach this
Z95 = 1.96


@dataclass(frozen=True)
class LabelRow:
    """One label's decisions in the window and what became of them."""

    label: str
    decisions: int
    corrected: int
    corrected_to: dict[str, int]
    drafts: dict[str, int]
    lower_bound: float  # Wilson 95% lower bound of the share left uncorrected
    moves_supported: bool


@dataclass(frozen=True)
class Week:
    """Decisions made in one week (Monday first) and how many of them the user corrected."""

    start: str
    decisions: int
    corrected: int


@dataclass(frozen=True)
class Report:
    """Everything `triage report` shows for one account."""

    account: str
    days: int
    since: str
    until: str
    rows: tuple[LabelRow, ...]
    matrix: tuple[tuple[int, ...], ...]  # rows DECIDED × columns FINAL
    weeks: tuple[Week, ...]
    unsure: int
    unsure_resolved: dict[str, int]
    drafts: dict[str, int]
    verdict: str
    note: str = ""  # e.g. why draft outcomes are unknown


def draft_outcomes(mbox: MailStore, drafts: Sequence[DraftRecord]) -> dict[str, str]:
    """Draft Message-ID → sent, deleted unsent or waiting, as the server says now."""
    sent_folder = mbox.special_folder(b"\\Sent")
    originals = [d.fingerprint[4:] for d in drafts if d.fingerprint.startswith("mid:")]
    answered = mbox.threaded_replies(sent_folder, originals) if sent_folder and originals else set()
    out: dict[str, str] = {}
    for draft in drafts:
        original = draft.fingerprint[4:] if draft.fingerprint.startswith("mid:") else None
        if original in answered or (sent_folder and mbox.find_by_message_id(
                sent_folder, [draft.draft_message_id])):
            out[draft.draft_message_id] = SENT
        elif mbox.find_by_message_id(draft.folder, [draft.draft_message_id]):
            out[draft.draft_message_id] = WAITING
        else:
            out[draft.draft_message_id] = DELETED
    return out


def build_report(account: str, decided: Sequence[tuple[Decision, float]],
                 corrections: Sequence[Correction], drafts: Sequence[DraftRecord],
                 outcomes: dict[str, str] | None, days: int, now: float, note: str = "") -> Report:
    """The report over records already limited to the window (decisions, drafts)."""
    first = _first_decisions(decided)
    corrected = {c.fingerprint: c.label for c in corrections}
    pairs = [(d.label or UNSURE, corrected.get(d.fingerprint), when) for d, when in first.values()]
    matrix = [[0] * len(FINAL) for _ in DECIDED]
    for said, now_label, _ in pairs:
        if said in DECIDED:
            final = now_label or said
            matrix[DECIDED.index(said)][FINAL.index(final if final in FINAL else UNSURE)] += 1
    label_of = {d.fingerprint: d.label or UNSURE for d, _ in first.values()}
    draft_counts: dict[str, Counter] = {label: Counter() for label in DECIDED}
    for draft in drafts:
        outcome = (outcomes or {}).get(draft.draft_message_id, UNKNOWN)
        draft_counts.setdefault(label_of.get(draft.fingerprint, draft.label), Counter())[outcome] += 1
    rows = tuple(_row(label, pairs, draft_counts.get(label, Counter())) for label in DECIDED)
    unsure = [c for said, c, _ in pairs if said == UNSURE]
    totals = Counter(outcome for c in draft_counts.values() for outcome in c.elements())
    return Report(account, days, _day(now - days * 86400), _day(now), rows,
                  tuple(tuple(r) for r in matrix), _weeks(pairs), len(unsure),
                  dict(Counter(c for c in unsure if c)), {o: totals.get(o, 0) for o in OUTCOMES},
                  verdict(rows), note)


def _first_decisions(decided: Sequence[tuple[Decision, float]]) -> dict[str, tuple[Decision, float]]:
    """One decision per message (its first: a moved message is recognised again elsewhere)."""
    first: dict[str, tuple[Decision, float]] = {}
    for decision, when in sorted(decided, key=lambda pair: pair[1]):
        first.setdefault(decision.fingerprint, (decision, when))
    return first


def _row(label: str, pairs: list[tuple[str, str | None, float]], drafts: Counter) -> LabelRow:
    mine = [c for said, c, _ in pairs if said == label]
    changed = Counter(c for c in mine if c and c != label)
    kept = len(mine) - sum(changed.values())
    bound = wilson_lower(kept, len(mine))
    supported = label in RECRUITER_LABELS and len(mine) >= MIN_DECISIONS and bound >= MIN_PRECISION
    return LabelRow(label, len(mine), sum(changed.values()), dict(changed),
                    {o: drafts.get(o, 0) for o in OUTCOMES if drafts.get(o, 0)}, round(bound, 4),
                    supported)


def wilson_lower(successes: int, n: int) -> float:
    """The lower end of the Wilson 95% interval of a proportion (0 when there is no data)."""
    if n == 0:
        return 0.0
    p = successes / n
    centre = p + Z95 ** 2 / (2 * n)
    spread = Z95 * math.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + Z95 ** 2 / n))


def verdict(rows: Sequence[LabelRow]) -> str:
    """One sentence: for which labels the evidence supports turning on moves, and why not else."""
    yes = [r for r in rows if r.label in RECRUITER_LABELS and r.moves_supported]
    no = [r for r in rows if r.label in RECRUITER_LABELS and not r.moves_supported]
    parts = []
    if yes:
        parts.append("The evidence supports turning on moves for " + ", ".join(
            f"{r.label} ({r.decisions} decisions, {r.corrected} corrected: at least "
            f"{r.lower_bound:.0%} right with 95% confidence)" for r in yes))
    if no:
        reasons = ", ".join(
            f"{r.label} ({r.decisions} decisions, need {MIN_DECISIONS})" if r.decisions < MIN_DECISIONS
            else f"{r.label} ({r.corrected} of {r.decisions} corrected: only {r.lower_bound:.0%} "
                 f"sure to be right, need {MIN_PRECISION:.0%})" for r in no)
        parts.append(("not yet for " if yes else "The evidence does not yet support turning on "
                      "moves for any label: ") + reasons)
    return "; ".join(parts) + "."


def _weeks(pairs: list[tuple[str, str | None, float]]) -> tuple[Week, ...]:
    counts: dict[str, list[int]] = {}
    for said, now_label, when in pairs:
        day = dt.datetime.fromtimestamp(when, dt.timezone.utc).date()
        start = (day - dt.timedelta(days=day.weekday())).isoformat()
        entry = counts.setdefault(start, [0, 0])
        entry[0] += 1
        entry[1] += bool(now_label and now_label != said)
    return tuple(Week(start, n, c) for start, (n, c) in sorted(counts.items()))


def _day(when: float) -> str:
    return dt.datetime.fromtimestamp(when, dt.timezone.utc).date().isoformat()


def to_json(reports: Sequence[Report]) -> str:
    """The reports as one JSON document."""
    return json.dumps({"reports": [asdict(r) for r in reports], "decided": list(DECIDED),
                       "final": list(FINAL)}, indent=2, ensure_ascii=False)


def to_text(report: Report) -> list[str]:
    """The report as lines for a terminal."""
    lines = [f"triage report: {report.account}, {report.since} to {report.until} "
             f"({report.days} days)"]
    for row in report.rows:
        to = ", ".join(f"{n} to {label}" for label, n in sorted(row.corrected_to.items()))
        drafts = ", ".join(f"{n} {o}" for o, n in row.drafts.items())
        lines.append(f"  {row.label:<9} {row.decisions:>5} decisions, {row.corrected} corrected"
                     + (f" ({to})" if to else "") + (f"; drafts: {drafts}" if drafts else ""))
    resolved = ", ".join(f"{n} as {label}" for label, n in sorted(report.unsure_resolved.items()))
    lines.append(f"  unsure resolved by you: {sum(report.unsure_resolved.values())} of "
                 f"{report.unsure}" + (f" ({resolved})" if resolved else ""))
    lines.append("  drafts: " + ", ".join(f"{n} {o}" for o, n in report.drafts.items()))
    if report.note:
        lines.append(f"  note: {report.note}")
    lines.append(f"  {report.verdict}")
    return lines
