"""Vocabulary lookups for a batch of texts in NumPy: word, bigram and character n-grams →
(message, column) pairs, one per occurrence.

The reference definitions are `linear.terms` and `linear.char_grams` (tests prove them equal
to scikit-learn's analyzers); this module finds the same known n-grams, as many times each,
without building a string per n-gram and with a fixed number of NumPy calls per batch:

- words: one dict lookup per token gives a word id; a bigram is the pair of ids as one integer.
- characters: the `char_wb` n-grams of every word of every text at once, as the n-grams of
  the texts' " " + "  ".join(words) + " " laid end to end. An n-gram straddling two words (or
  two texts) holds a double space, which no `char_wb` n-gram holds: it never matches. Code
  points of the Basic Multilingual Plane fit 16 bits, so a 3- or 4-gram is one 64-bit integer;
  characters beyond it (emoji) are given surrogate code points, which text cannot hold once
  a text with a lone surrogate takes the string path (`linear.char_grams`).
"""

from __future__ import annotations

import functools
import itertools
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    import numpy as np

Hits = tuple["np.ndarray", "np.ndarray"]  # (message number, vocabulary column) per occurrence
_ASTRAL_POINT = 0x10000
_ASTRAL = chr(_ASTRAL_POINT)
_SURROGATES, _UNKNOWN_ASTRAL = 0xD800, 0xDFFF  # never in a vocabulary (it is stored as UTF-8)
_ASTRAL_CODES = _UNKNOWN_ASTRAL - _SURROGATES  # astral characters of the vocabulary with a code


class SortedLookup:
    """Integer keys → vocabulary columns, by binary search in a sorted array."""

    def __init__(self, keys: Any, columns: Sequence[int], dtype: Any) -> None:
        import numpy as np
        keys = np.asarray(keys, dtype=dtype)
        order = np.argsort(keys, kind="stable")
        self.keys, self.columns = keys[order], np.asarray(columns, dtype=np.intp)[order]
        if len(self.keys) and (np.diff(self.keys) == 0).any():
            raise ValueError("two vocabulary n-grams share an integer key")
        self.np = np

    def find(self, keys: np.ndarray) -> np.ndarray:
        """The column of each key, or -1 (searching in sorted order, which is much faster)."""
        np = self.np
        found = np.full(len(keys), -1, dtype=np.intp)
        if not len(self.keys) or not len(keys):
            return found
        order = np.argsort(keys)
        ordered = keys[order]
        at = np.searchsorted(self.keys, ordered)
        at[at == len(self.keys)] = 0
        known = self.keys[at] == ordered
        found[order[known]] = self.columns[at[known]]
        return found


class WordLookup:
    """Tokens → the known words and word bigrams among them."""

    def __init__(self, vocabulary: Sequence[str]) -> None:
        import numpy as np
        self.np = np
        words: dict[str, int] = {}
        unigrams, bigrams = [], []
        for column, term in enumerate(vocabulary):
            ids = [words.setdefault(part, len(words)) for part in term.split(" ")]
            if len(ids) == 1:
                unigrams.append((ids[0], column))
            elif len(ids) == 2:
                bigrams.append((ids[0], ids[1], column))
            # a term of three or more words never comes from `terms`: it never matches
        self.words, self.base = words, len(words) + 1  # id len(words): not a vocabulary word
        self.unigram = np.full(self.base, -1, dtype=np.intp)
        for word, column in unigrams:
            self.unigram[word] = column
        self.bigram = SortedLookup([a * self.base + b for a, b, _ in bigrams],
                                   [column for _, _, column in bigrams], np.int64)

    def hits(self, tokens: Sequence[list[str]]) -> Hits:
        """(message, column) of every known token and token bigram of each message."""
        np = self.np
        owner = _owners(np, [len(t) for t in tokens])
        ids = np.fromiter(map(self.words.get, itertools.chain.from_iterable(tokens),
                              itertools.repeat(self.base - 1)), dtype=np.int64, count=len(owner))
        pairs = self.bigram.find(ids[:-1] * self.base + ids[1:])
        pairs[owner[:-1] != owner[1:]] = -1  # the last token of one message, the first of the next
        return _known(np, np.concatenate((owner, owner[:-1])),
                      np.concatenate((self.unigram[ids], pairs)))


class CharLookup:
    """Opening texts → their known `char_wb` 3- and 4-grams."""

    def __init__(self, vocabulary: Sequence[str]) -> None:
        import numpy as np
        self.np, self.vocabulary = np, vocabulary
        astral = sorted({ch for g in vocabulary for ch in g if ch >= _ASTRAL})
        if len(astral) > _ASTRAL_CODES:
            raise ValueError(f"{len(astral)} characters beyond U+FFFF in the character n-grams, "
                             f"more than {_ASTRAL_CODES}")
        self.astral = np.array([ord(ch) for ch in astral], dtype=np.uint32)
        codes = {ch: _SURROGATES + n for n, ch in enumerate(astral)}
        fits = {n: {g: c for c, g in enumerate(vocabulary) if len(g) == n and "  " not in g
                    and not any(map(_is_surrogate, g))} for n in (3, 4)}
        self.three = SortedLookup([_pack(g, codes) for g in fits[3]], list(fits[3].values()), np.uint64)
        self.four = SortedLookup([_pack(g, codes) for g in fits[4]], list(fits[4].values()), np.uint64)

    def hits(self, texts: Sequence[str], grams: Callable[[str], list[str]]) -> Hits:
        """(message, column) of every n-gram `grams(text)` (`linear.char_grams`) makes that the
        vocabulary knows."""
        np = self.np
        padded = [" " + "  ".join(words) + " " if words else "" for words in
                  (text.lower().split() for text in texts)]
        owner = _owners(np, [len(p) for p in padded])
        points = np.frombuffer("".join(padded).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        slow = np.unique(owner[(points >= _SURROGATES) & (points <= _UNKNOWN_ASTRAL)])
        p = self._code_units(points)
        p = p.astype(np.uint64)
        threes = (p[:-2] << np.uint64(32)) | (p[1:-1] << np.uint64(16)) | p[2:]
        fours = (threes[:-1] << np.uint64(16)) | p[3:]
        messages = np.concatenate((owner[:len(threes)], owner[:len(fours)]))
        columns = np.concatenate((self.three.find(threes), self.four.find(fours)))
        if len(slow):  # a lone surrogate in the text: the string path decides for that message
            columns[np.isin(messages, slow)] = -1
            index = self._index()
            found = [(int(n), index[g]) for n in slow for g in grams(texts[n]) if g in index]
            messages = np.concatenate((messages, np.array([n for n, _ in found], dtype=np.intp)))
            columns = np.concatenate((columns, np.array([c for _, c in found], dtype=np.intp)))
        return _known(np, messages, columns)

    def _code_units(self, points: np.ndarray) -> np.ndarray:
        """Code points with those beyond U+FFFF replaced by a 16-bit code: a surrogate code
        point, one for each astral character of the vocabulary and the last for all others."""
        np = self.np
        wide = points >= _ASTRAL_POINT
        if not wide.any():
            return points
        points, values = points.copy(), points[wide]
        at = np.minimum(np.searchsorted(self.astral, values), max(len(self.astral) - 1, 0))
        known = self.astral[at] == values if len(self.astral) else np.zeros(len(values), dtype=bool)
        points[wide] = np.where(known, _SURROGATES + at, _UNKNOWN_ASTRAL)
        return points

    @functools.cache
    def _index(self) -> dict[str, int]:
        return {g: c for c, g in enumerate(self.vocabulary)}


def _is_surrogate(ch: str) -> bool:
    return _SURROGATES <= ord(ch) <= _UNKNOWN_ASTRAL


def _owners(np: Any, lengths: list[int]) -> np.ndarray:
    """Message number of each item, for messages of `lengths` items laid end to end."""
    return np.repeat(np.arange(len(lengths), dtype=np.intp), lengths)


def _known(np: Any, messages: np.ndarray, columns: np.ndarray) -> Hits:
    keep = columns >= 0
    return messages[keep], columns[keep]


def _pack(gram: str, codes: dict[str, int]) -> int:
    """The gram's code units (`CharLookup._code_units`), 16 bits each, as one integer."""
    key = 0
    for ch in gram:
        key = (key << 16) | (codes[ch] if ch >= _ASTRAL else ord(ch))
    return key
