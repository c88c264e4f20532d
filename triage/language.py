"""Which language a message is written in, among those triage has reply templates for. Pure.

py3langid (a maintained, numpy-only port of langid.py: a 4.6 MB wheel, ~0.1 ms per message
once loaded) over its 97 languages: the best supported one, or English when the text is too
short, the guess is not confident, or the message is in a language without templates.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from .message import Message

SUPPORTED = ("en", "de", "fr", "es", "pt", "it", "nl", "pl", "sv", "tr", "ja", "zh", "ko")
FALLBACK = "en"
MIN_CONFIDENCE = 0.6
MIN_LETTERS = 12
_QUOTED = re.compile(r"^\s*>.*$", re.M)
_URL = re.compile(r"\S+@\S+|https?://\S+|www\.\S+")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_HAN = re.compile(r"[\u4e00-\u9fff]")


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # loaded once, on first use

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def language_of_text(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, confidence); the fallback with confidence 0 when unsure."""
    text = _URL.sub(" ", _QUOTED.sub(" ", text))[:3000]
    if _KANA.search(text):  # kana is Japanese only; Han alone could be either
        return "ja", 1.0
    if len(_HANGUL.findall(text)) >= 4:
        return "ko", 1.0
    if sum(c.isalpha() for c in text) < MIN_LETTERS:
        return FALLBACK, 0.0
    ranked = _identifier().rank(text)
    best, best_probability = ranked[0]
    if best not in SUPPORTED and best_probability >= MIN_CONFIDENCE:
        return FALLBACK, 0.0  # a language triage has no templates for: reply in English
    code, probability = next(((c, p) for c, p in ranked if c in SUPPORTED), (FALLBACK, 0.0))
    if code == "ja" and not _KANA.search(text) and _HAN.search(text):
        code = "zh"
    if probability < MIN_CONFIDENCE:
        return FALLBACK, 0.0
    return str(code), float(probability)


def language_of(message: Message) -> tuple[str, float]:
    """The language of the message body (subject when the body is empty)."""
    return language_of_text(message.text or message.subject)
