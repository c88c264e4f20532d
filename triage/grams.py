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
  a text with a character beyond it takes the string path (`linear.char_grams`).
"""

from __future__ import annotations

import functools
import itertools
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    import numpy as np

Hits = tuple["np.ndarray", "np.ndarray"]  # (message number, vocabulary column) per occurrence
BMP = 1 << 16
_BEYOND_BMP = chr(BMP)


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
        fits = {n: {g: c for c, g in enumerate(vocabulary)
                    if len(g) == n and "  " not in g and max(g) < _BEYOND_BMP} for n in (3, 4)}
        self.three = SortedLookup([_pack(g) for g in fits[3]], list(fits[3].values()), np.uint64)
        self.four = SortedLookup([_pack(g) for g in fits[4]], list(fits[4].values()), np.uint64)

    def hits(self, texts: Sequence[str], grams: Callable[[str], list[str]]) -> Hits:
        """(message, column) of every n-gram `grams(text)` (`linear.char_grams`) makes that the
        vocabulary knows."""
        np = self.np
        padded, owners, wide = [], [], []
        for number, text in enumerate(texts):
            words = text.lower().split()
            if not words:
                continue
            joined = " " + "  ".join(words) + " "
            if max(joined) >= _BEYOND_BMP:
                wide.append(number)
            else:
                padded.append(joined)
                owners.append(number)
        owner = np.repeat(np.array(owners, dtype=np.intp), [len(p) for p in padded])
        p = np.frombuffer("".join(padded).encode("utf-32-le", "surrogatepass"),
                          dtype=np.uint32).astype(np.uint64)
        threes = (p[:-2] << np.uint64(32)) | (p[1:-1] << np.uint64(16)) | p[2:]
        fours = (threes[:-1] << np.uint64(16)) | p[3:]
        messages = [owner[:len(threes)], owner[:len(fours)]]
        columns = [self.three.find(threes), self.four.find(fours)]
        index = self._index() if wide else {}
        for number in wide:
            found = [index[g] for g in grams(texts[number]) if g in index]
            messages.append(np.full(len(found), number, dtype=np.intp))
            columns.append(np.array(found, dtype=np.intp))
        return _known(np, np.concatenate(messages), np.concatenate(columns))

    @functools.cache
    def _index(self) -> dict[str, int]:
        return {g: c for c, g in enumerate(self.vocabulary)}


def _owners(np: Any, lengths: list[int]) -> np.ndarray:
    """Message number of each item, for messages of `lengths` items laid end to end."""
    return np.repeat(np.arange(len(lengths), dtype=np.intp), lengths)


def _known(np: Any, messages: np.ndarray, columns: np.ndarray) -> Hits:
    keep = columns >= 0
    return messages[keep], columns[keep]


def _pack(gram: str) -> int:
    """Code points below 2**16 as one integer, 16 bits each."""
    key = 0
    for ch in gram:
        key = (key << 16) | ord(ch)
    return key
