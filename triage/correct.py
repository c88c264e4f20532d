"""Corrections take effect at once. Pure: what to change on the server, and what a thread inherits.

When the user corrects a label (a correction folder or a changed keyword), the message's
markers become those of the corrected label (`plan_correction`; `triage.apply.apply_markers`
carries them out), and later mail in the same thread gets the corrected label without
retraining (`inherited_label`, looked up before classification).
"""

from __future__ import annotations

from typing import Iterable, Mapping

from .classifier import UNSURE, Prediction
from .config import LABELS, Config
from .message import Message
from .plan import Action, Unlabel, label_action, marker_actions

THREAD_NOTE = "as you corrected this thread"


def triage_keywords(config: Config) -> set[str]:
    """Every keyword triage puts on mail (one per label, unsure included)."""
    return {k for k in (label_action(config, label).keyword for label in (*LABELS, UNSURE)) if k}


def plan_correction(uid: int, label: str, flags: Iterable[str], folder: str, config: Config,
                    keywords_allowed: bool) -> tuple[Action, ...]:
    """The other triage keywords off, the corrected label's keyword on, and its move (unless the
    message is already in that folder). Nothing when the markers are already right."""
    flags = tuple(flags)
    keep = label_action(config, label).keyword
    stale = sorted(k for k in triage_keywords(config) - {keep} if k in flags)
    actions: list[Action] = [Unlabel(uid, k) for k in stale] if keywords_allowed else []
    move = label_action(config, label).move_to not in ("", None, folder)
    actions += marker_actions(uid, label, flags, config, keywords_allowed, move=move)
    return tuple(actions)


def thread_fingerprints(message: Message) -> list[str]:
    """The fingerprints of the messages this one answers, nearest first (In-Reply-To first)."""
    ids = [message.in_reply_to, *reversed(message.references)] if message.in_reply_to \
        else list(reversed(message.references))
    return list(dict.fromkeys(f"mid:{i}" for i in ids if i))


def inherited_label(message: Message, corrected: Mapping[str, str]) -> str | None:
    """The label the user gave the nearest corrected message of this thread, if any."""
    for key in thread_fingerprints(message):
        if key in corrected:
            return corrected[key]
    return None


def as_prediction(label: str) -> Prediction:
    """A label the user gave, in the form the planner takes (certain: the user said so)."""
    return Prediction(label, label, 1.0, {label: 1.0})
