"""Lexicon regexes that find the same matches as `re`, in a fraction of the time.

The lexicons in `features` are alternations like `\\b(recruit\\w*|hiring|...)\\b|求人|...`.
Python's engine tries such a pattern at every position of the text (about 25 ns each, before
trying any alternative). A `Lexicon` first finds the few positions where a match can start,
with scans the engine runs fast because each starts with a character class:

- a word-start alternative (`\\b` then a word character) can match only after a non-word
  character (or at 0): `\\W(?=...)` with the alternatives in the lookahead, regrouped by
  first character (`r(?:ecruit\\w*|ole)|h(?:iring|ire)`). The lexicons of one `Lexicons`
  family share this scan: all their alternatives in one trie, one scan per text;
- the other alternatives must start with a literal character: one search per candidate.

At each candidate, in order, the original pattern decides (`match` at that position sees the
text before it, so `\\b` works), skipping candidates inside the previous match: the same
matches as `findall`/`search`. A pattern of another shape is used as it is (tests check that
every lexicon in `features` takes the fast path).
"""

from __future__ import annotations

import functools
import re
from typing import Iterator

_SPECIAL = set("\\()[]{}.*+?|^$")
_QUANTIFIERS = set("?*+{")
_WORD = re.compile(r"\w")


class Unfactorable(ValueError):
    """The pattern has a shape `Lexicon` does not speed up."""


class Lexicons:
    """Lexicons that share one scan of a text for the places where any of them can start.

    The scan is `\\W(?=...)` with every member's word-start alternatives in one trie (one
    dispatch on the next character, four times faster than a scan per member); each member
    then lets its own pattern decide at those places. The last few texts scanned are kept (by
    identity), so members asked about the same text scan it once; a text that begins another
    one followed by a non-word character (`lower` in f"{lower} {subject}") takes that one's
    places before its end: where the trie matches in the shorter text it matches in the longer
    (the same characters, and \\b sees a non-word character either way), and the members'
    own patterns still decide.
    """

    KEPT = 3

    def __init__(self) -> None:
        self.members: list[Lexicon] = []
        self._recent: tuple[tuple[str, list[int]], ...] = ()

    def add(self, pattern: str) -> Lexicon:
        """A new member lexicon for `pattern`."""
        return Lexicon(pattern, self)

    def join(self, lexicon: Lexicon) -> None:
        self.members.append(lexicon)
        self.__dict__.pop("_scan", None)
        self._recent = ()

    @functools.cached_property
    def _scan(self) -> tuple[re.Pattern[str], bool]:
        """(the scan, whether places found in a longer text hold for its beginning)."""
        alternatives = [a for m in self.members if m.fast for a in m.word_starts]
        trie = _plain_groups(_trie(alternatives))
        prefix_safe = not any(s in trie for s in ("$", "\\Z", "\\A", "^", "(?=", "(?!", "(?<"))
        return re.compile("\\W(?=" + trie + ")"), prefix_safe

    def starts(self, text: str) -> list[int]:
        """Every position after a non-word character where a member's match may start."""
        recent = self._recent  # one read: another thread may replace it meanwhile
        scan, prefix_safe = self._scan
        for seen, found in recent:
            if seen is text:
                return found
            if (prefix_safe and len(seen) > len(text) and _WORD.match(seen, len(text)) is None
                    and seen.startswith(text)):
                return [at for at in found if at < len(text)]
        found = [m.end() for m in scan.finditer(text)]
        self._recent = ((text, found), *recent[:self.KEPT - 1])
        return found


class Lexicon:
    """A lexicon pattern, compiled on first use: `findall` and `search` as `re` gives them."""

    def __init__(self, pattern: str, family: Lexicons | None = None) -> None:
        self.pattern = pattern
        self.family = family if family is not None else Lexicons()
        self.family.join(self)

    @functools.cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern)

    @functools.cached_property
    def _prefilters(self) -> tuple[list[str], re.Pattern[str] | None] | None:
        try:
            return prefilters(self.pattern)
        except Unfactorable:
            return None

    @property
    def word_starts(self) -> list[str]:
        """The alternatives that start with `\\b` and a word character, without the `\\b`."""
        return self._prefilters[0] if self._prefilters is not None else []

    @property
    def fast(self) -> bool:
        """Whether matches are looked for at candidate positions only."""
        return self._prefilters is not None

    def findall(self, text: str) -> list[str]:
        """The matched strings (whole matches), as many as `re.findall` finds."""
        return [m.group() for m in self._matches(text)]

    def search(self, text: str) -> re.Match[str] | None:
        return next(self._matches(text), None)

    def _matches(self, text: str) -> Iterator[re.Match[str]]:
        if self._prefilters is None:
            yield from self.regex.finditer(text)
            return
        end = 0
        for start in self._candidates(text, self._prefilters[1]):
            if start < end:
                continue
            match = self.regex.match(text, start)
            if match:
                end = max(match.end(), start + 1)
                yield match

    def _candidates(self, text: str, anywhere: re.Pattern[str] | None) -> list[int]:
        """Every position where a match may start (a superset), in order."""
        found = [0, *self.family.starts(text)]
        if anywhere is not None:
            at = 0
            while (hit := anywhere.search(text, at)) is not None:
                found.append(hit.start())
                at = hit.start() + 1
        return sorted(set(found))


def prefilters(pattern: str) -> tuple[list[str], re.Pattern[str] | None]:
    """(the word-start alternatives without their `\\b`, a pattern for the literal-led others):
    `\\W(?=...)` with the first and a search with the second find every position where
    `pattern` can match."""
    words, others = [], []
    for alternative in _alternatives(pattern):
        if alternative.startswith("\\b"):
            words.append(alternative[2:])
            if not all(_WORD.match(first) for first, _ in _heads(alternative[2:])):
                raise Unfactorable(f"a word-start alternative that starts with a non-word "
                                   f"character: {alternative}")
        else:
            _heads(alternative)  # must start with a literal: raises otherwise
            others.append(alternative)
    if not words:
        raise Unfactorable("no word-start alternative")
    try:
        re.compile("\\W(?=" + _plain_groups(_trie(words)) + ")")
    except re.error as exc:  # e.g. a back-reference to a group made non-capturing
        raise Unfactorable(str(exc)) from None
    return words, re.compile("|".join(others)) if others else None


def _trie(alternatives: list[str]) -> str:
    """The alternatives grouped by first character, and each group's rests again, as long as
    every rest starts with a literal."""
    buckets: dict[str, list[str]] = {}
    for alternative in alternatives:
        for first, rest in _heads(alternative):
            buckets.setdefault(first, []).append(rest)
    return "|".join(re.escape(first) + "(?:" + _regrouped(rests) + ")"
                    for first, rests in buckets.items())


def _regrouped(rests: list[str]) -> str:
    try:
        return _trie(rests) if len(rests) > 1 else rests[0]
    except Unfactorable:
        return "|".join(rests)


def _heads(alternative: str) -> list[tuple[str, str]]:
    """(first character, the rest) for each way `alternative` can start, in order of attempt."""
    if not alternative:
        raise Unfactorable("an empty alternative")
    first = alternative[0]
    if first == "(":
        end = _closing(alternative, 0)
        if alternative.startswith("(?") or alternative[end + 1:end + 2] in _QUANTIFIERS:
            raise Unfactorable(f"a leading group that is not plain: {alternative}")
        rest = alternative[end + 1:]
        return [head for inner in _alternatives(alternative[1:end]) for head in _heads(inner + rest)]
    if first in _SPECIAL or alternative[1:2] in _QUANTIFIERS:
        raise Unfactorable(f"an alternative that does not start with a literal: {alternative}")
    return [(first, _plain_groups(alternative[1:]))]


def _plain_groups(text: str) -> str:
    """Capturing groups made non-capturing (only matches are counted, never groups)."""
    out, escaped, in_class = [], False, False
    for i, ch in enumerate(text):
        out.append(ch)
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        elif ch == "(" and not in_class and text[i + 1:i + 2] != "?":
            out.append("?:")
    return "".join(out)


def _skeleton(text: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """(index, character, parenthesis depth after it) of each character of `text` from
    `start` that is neither escaped nor inside a [class]: the structure of a pattern."""
    depth, escaped, in_class = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        else:
            depth += (ch == "(") - (ch == ")")
            yield i, ch, depth


def _closing(text: str, start: int) -> int:
    """Index of the parenthesis that closes the one at `start`."""
    for i, ch, depth in _skeleton(text, start):
        if ch == ")" and depth == 0:
            return i
    raise Unfactorable("unbalanced parentheses")


def _alternatives(text: str) -> list[str]:
    """`text` split at its top-level `|`."""
    parts, start, depth = [], 0, 0
    for i, ch, depth in _skeleton(text):
        if ch == "|" and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth:
        raise Unfactorable("unbalanced parentheses")
    return parts + [text[start:]]
