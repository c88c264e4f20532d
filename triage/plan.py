"""Decide, then do: turn one message and what is known about it into a plan of actions. Pure.

A `Plan` is a list of frozen actions (`Label`, `Move`, `Draft`, `Record`) that describe
themselves; `triage.apply` carries them out, and `--dry-run` prints their descriptions
instead, so a dry run shows exactly what a real run would do. What a label does on the
server (keyword, move) is decided here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from .classifier import UNSURE, Prediction
from .config import Config, LabelAction
from .ledger import DONE, FAILED, Decision
from .message import Message
from .policy import draft_blocker

if TYPE_CHECKING:
    from .replies import Reply

NEW, RECOGNISED, FAILURE = "new", "recognised", "failed"


@dataclass(frozen=True)
class Item:
    """A fetched message on its way through a batch."""

    folder: str
    uidvalidity: int
    uid: int
    flags: tuple[str, ...]
    truncated: bool
    message: Message | None  # None: it could not be parsed
    fingerprint: str
    problem: str = ""  # why it could not be parsed or classified


@dataclass(frozen=True)
class Known:
    """What the ledger and the server already know about one message (gathered before planning)."""

    ledger_label: str | None = None  # the label of an earlier decision on the same message
    decided_before: bool = False
    thread_answered: bool = False  # the user already wrote in this thread (Sent)
    draft_recorded: bool = False  # a draft for it was made before (maybe deleted by the user)


@dataclass(frozen=True)
class Label:
    """Put a keyword on the message."""

    uid: int
    keyword: str

    def describe(self) -> str:
        return f"add keyword {self.keyword}"


@dataclass(frozen=True)
class Unlabel:
    """Take a keyword off the message (a triage label the user corrected)."""

    uid: int
    keyword: str

    def describe(self) -> str:
        return f"remove keyword {self.keyword}"


@dataclass(frozen=True)
class Move:
    """Move the message to another folder (never deletes)."""

    uid: int
    folder: str

    def describe(self) -> str:
        return f"move to {self.folder}"


@dataclass(frozen=True)
class Draft:
    """Append a reply draft, unless the Drafts folder already holds it."""

    uid: int
    reply: Reply

    def describe(self) -> str:
        return f"draft a reply to {self.reply.to}"


@dataclass(frozen=True)
class Record:
    """Write the decision to the ledger (the last action, so the watermark moves only after)."""

    decision: Decision

    def describe(self) -> str:
        return f"record {self.decision.status}"


Action = Union[Label, Unlabel, Move, Draft, Record]


@dataclass(frozen=True)
class Plan:
    """Everything to do for one message; `outcome` is new, recognised or failed."""

    item: Item
    label: str
    outcome: str
    actions: tuple[Action, ...] = field(default=())
    confidence: float | None = None
    note: str = ""

    def describe(self) -> str:
        """One line: where, what it is, and what will be done."""
        subject = self.item.message.subject[:60] if self.item.message else ""
        confidence = f" ({self.confidence:.2f})" if self.confidence is not None else ""
        doing = "; ".join(a.describe() for a in self.actions if not isinstance(a, Record))
        parts = [p for p in (self.note, doing) if p]
        return (f"{self.item.folder} UID {self.item.uid}: {self.label}{confidence} {subject!r}"
                + (f"; {'; '.join(parts)}" if parts else ""))


def marker_actions(uid: int, label: str, flags: tuple[str, ...], config: Config,
                   keywords_allowed: bool, move: bool = True) -> list[Action]:
    """What a label does on the server: its keyword (if not there yet) and its move, if any."""
    action = label_action(config, label)
    out: list[Action] = []
    if action.keyword and keywords_allowed and action.keyword not in flags:
        out.append(Label(uid, action.keyword))
    if action.move_to and move:
        out.append(Move(uid, action.move_to))
    return out


def label_action(config: Config, label: str) -> LabelAction:
    """The configured server action of a label (unsure included)."""
    return config.actions.get(label) or config.actions.get(UNSURE) or LabelAction(f"triage-{label}")


def plan_failure(item: Item, reason: str) -> Plan:
    """A message that could not be parsed or classified: recorded failed, retried next run."""
    return Plan(item, "", FAILURE, (Record(_decision(item, None, None, FAILED, reason)),),
                note=reason)


def plan_recognised(item: Item, label: str, how: str, config: Config,
                    keywords_allowed: bool) -> Plan:
    """Handled before (ledger or server keyword): only restore a missing keyword, never redo."""
    actions: list[Action] = marker_actions(item.uid, label, item.flags, config, keywords_allowed,
                                           move=False)
    actions.append(Record(_decision(item, label, None, DONE, how)))
    return Plan(item, label, RECOGNISED, tuple(actions), note=how)


def plan_new(item: Item, prediction: Prediction, known: Known, config: Config,
             keywords_allowed: bool, reply: Reply | None, reply_problem: str = "",
             reason: str = "") -> Plan:
    """A freshly classified message: marker, maybe a draft, and the record (`reason`: why the
    label, when not the model's)."""
    label = prediction.label
    actions: list[Action] = []
    note = reason
    if wants_draft(config, label):
        blocked = _why_no_draft(item, known, config, reply, reply_problem)
        note = "; ".join(p for p in (note, blocked) if p)
        if not blocked and reply is not None:
            actions.append(Draft(item.uid, reply))
    actions.extend(marker_actions(item.uid, label, item.flags, config, keywords_allowed))
    if item.truncated:
        note = "; ".join(p for p in (note, "oversize: classified on its first part") if p)
    actions.append(Record(_decision(item, label, prediction, DONE, note)))
    return Plan(item, label, NEW, tuple(actions), prediction.confidence, note)


def wants_draft(config: Config, label: str) -> bool:
    """True when the config asks for drafts for this label."""
    return config.drafts.enabled and label in config.drafts.labels


def _why_no_draft(item: Item, known: Known, config: Config, reply: Reply | None,
                  reply_problem: str) -> str:
    assert item.message is not None
    blocker = draft_blocker(item.message, item.flags, config.me.email, known.thread_answered)
    if blocker:
        return f"no draft: {blocker}"
    if known.draft_recorded:
        return "no draft: made in an earlier run"
    if reply is None:
        return f"no draft: {reply_problem or 'the reply could not be built'}"
    return ""


def _decision(item: Item, label: str | None, prediction: Prediction | None, status: str,
              note: str) -> Decision:
    message = item.message
    sender = message.sender.email if message and message.sender else ""
    return Decision(item.folder, item.uidvalidity, item.uid, item.fingerprint,
                    message.message_id if message else "", message.subject[:200] if message else "",
                    sender, label, prediction.best if prediction else None,
                    prediction.confidence if prediction else None, status, note[:300])
