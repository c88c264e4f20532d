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
import re
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    import numpy as np

Hits = tuple["np.ndarray", "np.ndarray"]  # (message number, vocabulary column) per occurrence
_ASTRAL_POINT = 0x10000
_ASTRAL = chr(_ASTRAL_POINT)
_SURROGATES, _UNKNOWN_ASTRAL = 0xD800, 0xDFFF  # never in a vocabulary (it is stored as UTF-8)
_ASTRAL_CODES = _UNKNOWN_ASTRAL - _SURROGATES  # astral characters of the vocabulary with a code
_MULTIPLIER = 0x9E3779B97F4A7C15  # 2**64 / golden ratio

_ASTRAL_CHARS = re.compile("[\U00010000-\U0010ffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class KeyLookup:
    """Integer keys → vocabulary columns: an open-addressing hash table probed for a whole array
    of keys at once (five times as fast as a binary search in a sorted array)."""

    def __init__(self, keys: Any, columns: Sequence[int], dtype: Any) -> None:
        import numpy as np
        self.np = np
        keys = np.asarray(keys, dtype=dtype).astype(np.uint64)
        values = np.asarray(columns, dtype=np.intp)
        if len(np.unique(keys)) != len(keys):
            raise ValueError("two vocabulary n-grams share an integer key")
        bits = max(4, int(np.ceil(np.log2(4 * max(len(keys), 1)))))  # at most a quarter full
        self.shift, self.mask = np.uint64(64 - bits), (1 << bits) - 1
        self.keys = np.zeros(1 << bits, dtype=np.uint64)
        self.columns = np.full(1 << bits, -1, dtype=np.intp)  # -1: an empty slot
        home, pending, self.probes = self._home(keys), np.arange(len(keys)), 0
        while len(pending):  # round p places each waiting key whose slot home + p is still free
            slots = (home[pending] + self.probes) & self.mask
            free = self.columns[slots] == -1
            taken, first = np.unique(slots[free], return_index=True)
            placed = pending[free][first]
            self.keys[taken], self.columns[taken] = keys[placed], values[placed]
            pending = np.setdiff1d(pending, placed, assume_unique=True)
            self.probes += 1

    def _home(self, keys: np.ndarray) -> np.ndarray:
        """Each key's first slot (Fibonacci hashing: the top bits of key × 2**64/φ)."""
        return ((keys * self.np.uint64(_MULTIPLIER)) >> self.shift).view(self.np.int64)

    def find(self, keys: np.ndarray) -> np.ndarray:
        """The column of each key, or -1."""
        np = self.np
        keys = keys.astype(np.uint64, copy=False)
        slots = self._home(keys)
        columns = self.columns[slots]
        occupied = columns >= 0
        hit = occupied & (self.keys[slots] == keys)
        found = np.where(hit, columns, -1)
        more = np.flatnonzero(occupied & ~hit)  # a slot of another key: probe the next slots
        slots = slots[more]
        for _ in range(1, self.probes):
            if not len(more):
                break
            slots = (slots + 1) & self.mask
            columns = self.columns[slots]
            hit = (columns >= 0) & (self.keys[slots] == keys[more])
            found[more[hit]] = columns[hit]
            keep = (columns >= 0) & ~hit
            more, slots = more[keep], slots[keep]
        return found


class WordLookup:
    """Tokens → the known words and word bigrams among them."""

    def __init__(self, vocabulary: Sequence[str]) -> None:
        import numpy as np
        self.np = np
        parts = np.fromiter(map(str.count, vocabulary, itertools.repeat(" ")), dtype=np.intp,
                            count=len(vocabulary)) + 1  # words per term
        flat = " ".join(vocabulary).split(" ")  # every term's words, in order
        words = dict(zip(dict.fromkeys(flat), itertools.count()))
        self.words, self.base = words, len(words) + 1  # id len(words): not a vocabulary word
        ids = np.fromiter(map(words.__getitem__, flat), dtype=np.int64, count=len(flat))
        first = np.cumsum(parts) - parts  # where each term's words start in `flat`
        columns = np.arange(len(vocabulary), dtype=np.intp)
        self.unigram = np.full(self.base, -1, dtype=np.intp)
        self.unigram[ids[first[parts == 1]]] = columns[parts == 1]
        # a term of three or more words never comes from `terms`: it never matches
        pairs = first[parts == 2]
        self.bigram = KeyLookup(ids[pairs] * self.base + ids[pairs + 1], columns[parts == 2], np.int64)

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
        joined = "".join(vocabulary)
        astral = sorted(set(_ASTRAL_CHARS.findall(joined)))
        if len(astral) > _ASTRAL_CODES:
            raise ValueError(f"{len(astral)} characters beyond U+FFFF in the character n-grams, "
                             f"more than {_ASTRAL_CODES}")
        self.astral = np.array([ord(ch) for ch in astral], dtype=np.uint32)
        surrogates = _SURROGATE.search(joined) is not None  # never in a model's vocabulary
        self.three, self.four = (self._table(vocabulary, n, surrogates) for n in (3, 4))

    def _table(self, vocabulary: Sequence[str], n: int, surrogates: bool) -> KeyLookup:
        """The n-grams of the vocabulary that text can make, each as one integer key."""
        np = self.np
        grams = {g: c for c, g in enumerate(vocabulary) if len(g) == n and "  " not in g
                 and not (surrogates and _SURROGATE.search(g))}
        points = np.frombuffer("".join(grams).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        units = self._code_units(points).astype(np.uint64).reshape(-1, n)
        keys = np.zeros(len(grams), dtype=np.uint64)
        for i in range(n):
            keys = (keys << np.uint64(16)) | units[:, i]
        return KeyLookup(keys, list(grams.values()), np.uint64)

    def hits(self, texts: Sequence[str], grams: Callable[[str], list[str]]) -> Hits:
        """(message, column) of every n-gram `grams(text)` (`linear.char_grams`) makes that the
        vocabulary knows."""
        np = self.np
        padded = [" " + "  ".join(words) + " " if words else "" for words in
                  (text.lower().split() for text in texts)]
        owner = _owners(np, [len(p) for p in padded])
        points = np.frombuffer("".join(padded).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        slow = np.unique(owner[(points >= _SURROGATES) & (points <= _UNKNOWN_ASTRAL)])
        p = self._code_units(points).astype(np.uint64)
        threes = (p[:-2] << np.uint64(32)) | (p[1:-1] << np.uint64(16)) | p[2:]
        fours = (threes[:-1] << np.uint64(16)) | p[3:]
        messages = np.concatenate((owner[:len(threes)], owner[:len(fours)]))
        columns = np.concatenate((self.three.find(threes), self.four.find(fours)))
        if len(slow):  # a lone surrogate in the text: the string path decides for that message
            columns[np.isin(messages, slow)] = -1
            index = self._string_index
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

    @functools.cached_property
    def _string_index(self) -> dict[str, int]:
        return {g: c for c, g in enumerate(self.vocabulary)}


def _owners(np: Any, lengths: list[int]) -> np.ndarray:
    """Message number of each item, for messages of `lengths` items laid end to end."""
    return np.repeat(np.arange(len(lengths), dtype=np.intp), lengths)


def _known(np: Any, messages: np.ndarray, columns: np.ndarray) -> Hits:
    keep = columns >= 0
    return messages[keep], columns[keep]
