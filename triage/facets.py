"""Facets of a message for reporting scores by group: its language and its delivery format.

For the model report only (never a model feature): the script decides CJK, Cyrillic, Arabic
and Devanagari text; Hinglish by its commonest words; other languages by py3langid (the
identifier `language.py` uses for replies, here with all its 97 languages).
"""

from __future__ import annotations

import functools
import re
from typing import Any, Sequence

from .features import sender_platform
from .message import Message


_WORD = re.compile(r"[^\W\d_]+")
_HINGLISH = frozenset("hai hain aap kya nahi nahin hum ke liye bhi aur ko mein kar sakte raha".split())
MIN_CONFIDENCE = 0.5


def language(message: Message) -> str:
    """An ISO 639-1 code (or "hinglish", "unknown") for the subject and the body's opening."""
    text = f"{message.subject}\n{message.text[:2000]}"
    by_script = _script(text)
    if by_script:
        return by_script
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < 3:
        return "unknown"
    if sum(w in _HINGLISH for w in words) >= 3:
        return "hinglish"
    code, confidence = _identifier().rank(text)[0]
    return str(code) if confidence >= MIN_CONFIDENCE else "unknown"


@functools.lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # loaded on first use
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _script(text: str) -> str:
    """Languages their script tells apart: Japanese (kana), Korean, Chinese, Arabic, Hindi,
    and Ukrainian from Russian (і, ї, є, ґ)."""
    counts = {
        "ja": len(re.findall(r"[\u3040-\u30ff]", text)),
        "ko": len(re.findall(r"[\uac00-\ud7af]", text)),
        "zh": len(re.findall(r"[\u4e00-\u9fff]", text)),
        "cyrillic": len(re.findall(r"[\u0400-\u04ff]", text)),
        "ar": len(re.findall(r"[\u0600-\u06ff]", text)),
        "hi": len(re.findall(r"[\u0900-\u097f]", text)),
    }
    if counts["ja"] >= 5:
        return "ja"
    best = max(counts, key=lambda k: counts[k])
    if counts[best] < 10:
        return ""
    if best == "cyrillic":
        return "uk" if re.search(r"[іїєґ]", text.lower()) else "ru"
    return best


def delivery(message: Message) -> str:
    """How the message came: ats, network, follow-up (quoted history), html-only, one-liner, plain."""
    platform = sender_platform(message)
    if platform:
        return platform
    if message.in_reply_to or message.references or re.search(r"(?m)^\s*>", message.text):
        return "follow-up"
    if message.html_only:
        return "html-only"
    if _length(message.text.strip()) < 300:
        return "one-liner"
    return "plain"


_WIDE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff66-\uff9f]")
WIDE_CHARS = 3  # a Chinese, Japanese or Korean character says about as much as three Latin ones


def _length(text: str) -> int:
    """The text's length in Latin-letter terms: a 200-character Chinese letter is no one-liner."""
    return len(text) + (WIDE_CHARS - 1) * len(_WIDE.findall(text[:300]))


FACETS = {"language": language, "delivery": delivery}


def facet_scores(messages: Sequence[Message], truth: Sequence[str],
                 predicted: Sequence[str]) -> dict[str, dict[str, dict[str, float]]]:
    """Per facet and group: count, accuracy, macro-F1 over the labels present, and targeted
    precision / recall (unsure counts as a miss)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, facet in FACETS.items():
        groups: dict[str, list[int]] = {}
        for i, message in enumerate(messages):
            groups.setdefault(facet(message), []).append(i)
        out[name] = {group: _scores([truth[i] for i in idx], [predicted[i] for i in idx])
                     for group, idx in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))}
    return out


def _scores(truth: list[str], predicted: list[str]) -> dict[str, float]:
    f1s = []
    for label in sorted(set(truth)):
        tp = sum(t == p == label for t, p in zip(truth, predicted))
        fp = sum(p == label != t for t, p in zip(truth, predicted))
        fn = sum(t == label != p for t, p in zip(truth, predicted))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    chosen = sum(p == "targeted" for p in predicted)
    actual = sum(t == "targeted" for t in truth)
    hits = sum(t == p == "targeted" for t, p in zip(truth, predicted))
    return {"count": len(truth),
            "accuracy": round(sum(t == p for t, p in zip(truth, predicted)) / len(truth), 4),
            "macro_f1": round(sum(f1s) / len(f1s), 4),
            "targeted_precision": round(hits / chosen, 4) if chosen else -1.0,
            "targeted_recall": round(hits / actual, 4) if actual else -1.0}


def facet_tables(scores: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    """Markdown tables, one per facet ("—" where a group has no targeted mail or prediction)."""
    lines: list[str] = []
    for name, groups in scores.items():
        lines += [f"By {name} (guessed from the text and sender; see triage/facets.py):", "",
                  f"| {name} | messages | accuracy | macro-F1 | targeted precision | targeted recall |",
                  "|---|---|---|---|---|---|"]
        for group, s in groups.items():
            tp = "—" if s["targeted_precision"] < 0 else f"{s['targeted_precision']:.2f}"
            tr = "—" if s["targeted_recall"] < 0 else f"{s['targeted_recall']:.2f}"
            lines.append(f"| {group} | {int(s['count'])} | {s['accuracy']:.3f} | {s['macro_f1']:.3f} | "
                         f"{tp} | {tr} |")
        lines.append("")
    return lines
