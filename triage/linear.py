"""A compact, NumPy-only form of the trained model, for the prediction path.

The pipeline (`pipeline.build_pipeline`) is linear in its features: TF-IDF word and bigram
weights, scaled signals and TF-IDF character n-grams, five cross-validated linear SVMs, each with a sigmoid per class.
`export` turns a fitted pipeline into arrays; `CompactModel` computes the same calibrated
probabilities from them without importing scikit-learn or SciPy (1 s per process saved) and
without its per-call overhead. A test checks it against the pipeline on the whole corpus.
"""

from __future__ import annotations

import functools
import json
import math
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from .features import Features, to_features
from .grams import CharLookup, Hits, WordLookup
from .message import Message

if TYPE_CHECKING:
    import numpy as np

COMPACT_FILE = "model.npz"
FORMAT = 2
CHAR_NGRAMS = (3, 4)
# The vectorizer's token pattern \b\w\w+\b (Unicode words, 2+ chars): the same tokens, since a
# greedy \w\w+ takes whole words; a leading class lets the engine skip to a word character.
_TOKEN = re.compile(r"\w\w+")


class CompactError(ValueError):
    """Raised when a compact model file is missing, unreadable or not for this model card."""


def terms(text: str) -> list[str]:
    """Words and word bigrams as the vectorizer counts them: lower-cased, accents removed."""
    tokens = _tokens(text)
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]


def _tokens(text: str) -> list[str]:
    """The vectorizer's tokens: lower-cased, accents removed, words of two or more characters."""
    return _TOKEN.findall(_strip_accents(text.lower()))


def char_grams(text: str) -> list[str]:
    """Character 3- and 4-grams within space-padded words, as the `char_wb` analyzer makes them.

    A padded word shorter than n gives itself once; one of exactly n gives itself once and
    no longer n-grams.
    """
    grams = []
    for word in text.lower().split():
        padded = f" {word} "
        size = len(padded)
        for n in CHAR_NGRAMS:
            if size <= n:
                grams.append(padded)
                break
            grams += [padded[i:i + n] for i in range(size - n + 1)]
    return grams


def _strip_accents(text: str) -> str:
    """Decompose (NFKD) and drop combining marks, as the vectorizer's `strip_accents="unicode"`."""
    if text.isascii():
        return text
    text = _combining_marks().sub("", unicodedata.normalize("NFKD", text))
    if not text or max(text) < _ASTRAL:
        return text
    astral = {ch for ch in _ASTRAL_CHARS.findall(text) if unicodedata.combining(ch)}
    return text.translate(dict.fromkeys(map(ord, astral))) if astral else text


_ASTRAL = chr(0x10000)
_ASTRAL_CHARS = re.compile("[\U00010000-\U0010ffff]")


@functools.cache
def _combining_marks() -> re.Pattern[str]:
    """A character class of every code point below U+10000 with a non-zero combining class (the
    engine tests such a class with one table look-up; the few astral marks are looked up one by
    one, only in text that has astral characters)."""
    marks = [chr(c) for c in range(0x300, 0x10000) if unicodedata.combining(chr(c))]
    return re.compile("[" + "".join(re.escape(m) for m in marks) + "]")


def export(pipeline: Any) -> dict[str, Any]:
    """The arrays of a fitted pipeline: vocabularies, idf, signal scaling, weights, sigmoids."""
    import numpy as np

    from .pipeline import CHAR_TEXT_CHARS
    union = pipeline.named_steps["features"]
    parts = dict(union.transformer_list)
    tfidf, signals = parts["words"].named_steps["tfidf"], parts["signals"]
    chars = parts["chars"].named_steps["tfidf"]
    if tuple(chars.ngram_range) != CHAR_NGRAMS or chars.analyzer != "char_wb":
        raise CompactError(f"character n-grams {chars.analyzer} {chars.ngram_range} are not "
                           f"char_wb {CHAR_NGRAMS}: update linear.char_grams")
    calibrated = pipeline.named_steps["classify"].calibrated_classifiers_
    vocabulary = sorted(tfidf.vocabulary_, key=tfidf.vocabulary_.__getitem__)
    char_vocabulary = sorted(chars.vocabulary_, key=chars.vocabulary_.__getitem__)
    weights = np.hstack([c.estimator.coef_.T for c in calibrated])  # features × (folds·classes)
    return {
        "format": np.array([FORMAT]),
        "vocabulary": _pack(vocabulary),
        "idf": tfidf.idf_, "signal_names": _pack(list(signals.vector_.get_feature_names_out())),
        "signal_scale": signals.scale_.scale_ * 1.0, "signal_weights": signals.column_weights_,
        "weights": weights, "intercepts": np.hstack([c.estimator.intercept_ for c in calibrated]),
        "sigmoid_a": np.array([[cal.a_ for cal in c.calibrators] for c in calibrated]),
        "sigmoid_b": np.array([[cal.b_ for cal in c.calibrators] for c in calibrated]),
        "classes": _pack([str(c) for c in pipeline.classes_]),
        "char_vocabulary": _pack(char_vocabulary), "char_idf": chars.idf_,
        "char_chars": np.array([CHAR_TEXT_CHARS]),
    }


def write_compact(pipeline: Any, card: dict[str, Any], path: Path) -> None:
    """Write the arrays to `path` (.npz), tagged with the card's data hash and training time."""
    import numpy as np
    arrays = export(pipeline)
    tag = json.dumps({"data_hash": card.get("data_hash"), "trained_at": card.get("trained_at")})
    with open(path, "wb") as out:
        np.savez_compressed(out, tag=np.frombuffer(tag.encode(), dtype=np.uint8), **arrays)


class CompactModel:
    """Calibrated probabilities from the exported arrays; the same numbers as the pipeline."""

    def __init__(self, arrays: dict[str, Any]) -> None:
        import numpy as np
        if int(arrays["format"][0]) != FORMAT:
            raise CompactError(f"compact model format {int(arrays['format'][0])} is not {FORMAT}")
        vocabulary = _strings(arrays["vocabulary"])
        self.words = WordLookup(vocabulary)
        self.idf = arrays["idf"]
        self.signal_names = _strings(arrays["signal_names"])
        self.signal_factor = arrays["signal_weights"] / arrays["signal_scale"]
        self.chars = CharLookup(_strings(arrays["char_vocabulary"]))
        self.char_idf = arrays["char_idf"]
        self.char_chars = int(arrays["char_chars"][0])
        words, signals = len(vocabulary), len(self.signal_names)
        self.word_weights = arrays["weights"][:words]
        self.signal_weights = arrays["weights"][words:words + signals]
        self.char_weights = arrays["weights"][words + signals:]
        self.intercepts = arrays["intercepts"]
        self.a, self.b = arrays["sigmoid_a"], arrays["sigmoid_b"]
        self.labels = _strings(arrays["classes"])
        self.np = np

    @classmethod
    def load(cls, directory: Path, card: dict[str, Any]) -> CompactModel:
        """Load `model.npz`; CompactError when absent, unreadable or made for another card."""
        import numpy as np
        path = directory / COMPACT_FILE
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except (OSError, ValueError, KeyError) as exc:
            raise CompactError(f"{path}: {exc}") from None
        tag = json.loads(bytes(arrays.pop("tag")).decode())
        if tag != {"data_hash": card.get("data_hash"), "trained_at": card.get("trained_at")}:
            raise CompactError(f"{path} belongs to another model than {directory}/model_card.json")
        return cls(arrays)

    def probabilities(self, features: Sequence[Features]) -> tuple[np.ndarray, list[int]]:
        """(probability rows in `labels` order, known word terms per message)."""
        np = self.np
        folds, classes = self.a.shape
        decisions, known = self._decisions(features)
        scores = decisions.reshape(len(features), folds, classes)
        proba = 1.0 / (1.0 + np.exp(self.a * scores + self.b))
        total = proba.sum(axis=2, keepdims=True)
        proba = np.divide(proba, total, out=np.full_like(proba, 1.0 / classes), where=total != 0)
        proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
        return proba.mean(axis=1), known

    def _decisions(self, features: Sequence[Features]) -> tuple[np.ndarray, list[int]]:
        """(the linear decision of every fold and class, known word terms), a row per message."""
        np = self.np
        count = len(features)
        words, known = self._tfidf(count, self.words.hits([_tokens(f.text) for f in features]),
                                   self.idf, self.word_weights)
        chars, _ = self._tfidf(count, self.chars.hits([f.text[:self.char_chars] for f in features],
                                                      char_grams), self.char_idf, self.char_weights)
        signals = np.array([[float(f.signals.get(name, 0.0)) for name in self.signal_names]
                            for f in features]).reshape(count, len(self.signal_names))
        decisions = self.intercepts + words + chars + (signals * self.signal_factor) @ self.signal_weights
        return decisions, [int(k) for k in known]

    def _tfidf(self, count: int, hits: Hits, idf: np.ndarray,
               weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the weighted, L2-normalised sublinear TF-IDF of each message's known n-grams, how
        many distinct n-grams each message has)."""
        np = self.np
        messages, columns = hits
        pairs, counts = np.unique(messages * len(idf) + columns, return_counts=True)
        messages, columns = np.divmod(pairs, len(idf))
        values = (1.0 + np.log(counts)) * idf[columns]
        values /= np.sqrt(np.bincount(messages, values * values, minlength=count))[messages]
        out = np.zeros((count, weights.shape[1]))
        starts = np.flatnonzero(np.r_[True, messages[1:] != messages[:-1]]).tolist() if len(pairs) else []
        for start, end in zip(starts, starts[1:] + [len(pairs)]):  # a product per message: in cache
            out[messages[start]] = values[start:end] @ weights[columns[start:end]]
        return out, np.bincount(messages, minlength=count)

    def predict_rows(self, messages: Sequence[Message]) -> tuple[np.ndarray, list[int]]:
        return self.probabilities([to_features(m) for m in messages])


def _pack(strings: list[str]) -> Any:
    """Strings as one NUL-separated UTF-8 byte array (n-grams may hold any other character)."""
    import numpy as np
    return np.frombuffer("\0".join(strings).encode(), dtype=np.uint8)


def _strings(data: Any) -> list[str]:
    text = bytes(data).decode()
    return text.split("\0") if text else []
