"""Patterns spelled for speed find exactly what their plain forms find (on real and odd text)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from triage import features, htmltext, linear, message

ROOT = Path(__file__).resolve().parent.parent
ODD = ["", " ", "a", "ab", "a b", "x_y z9 ü1 ß ǅ", "  \t\r\f\v  x \n\n \n\t\n y\x0b\x0c\x1c\x85\xa0 z",
       "日本語のテキスト 한국어 中文 ｶﾀｶﾅ 一", "1 22 333 ١٢٣ ４５", "word\u0301s co\u200dop", "\U0001D7D8\U0001D7D9 𝐀𝐁"]
PAIRS = [  # (fast, plain)
    (linear._TOKEN, re.compile(r"\b\w\w+\b")),
    (features._DIGITS, re.compile(r"\d+")),
    (features._CJK_RUN, re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff66-\uff9f]{2,}")),
]


def texts() -> list[str]:
    paths = sorted([*(ROOT / "training_data").rglob("*.eml"), *(ROOT / "eval_data").rglob("*.eml")])
    return [message.parse_message(p.read_bytes()).text for p in paths[::4]] + ODD


@pytest.mark.parametrize("fast,plain", PAIRS, ids=[p.pattern[:20] for p, _ in PAIRS])
def test_fast_pattern_finds_what_the_plain_one_finds(fast: re.Pattern[str], plain: re.Pattern[str]) -> None:
    found = 0
    for text in texts():
        assert [m.span() for m in fast.finditer(text)] == [m.span() for m in plain.finditer(text)], text
        found += len(plain.findall(text))
    assert found > 0


def test_a_spelled_out_name_matches_what_the_case_insensitive_name_matches() -> None:
    from triage.features import _name_pattern
    samples = texts()[:150] + ["Dana, dana DANA daNa xdana danax _dana dana_ dana.", "KİSS kıss ſkiss Kiss kiss",
                               "İvan ıvan IVAN ivan", "\nsam\tSAM,ſam", "Jürgen jürgen JÜRGEN"]
    for name in ["dana", "Kiss", "ivan", "Sam", "Jürgen", "al"]:
        plain = re.compile(rf"\b{re.escape(name)}\b", re.I)
        fast = _name_pattern(name)
        for text in samples:
            assert [m.span() for m in fast.finditer(text)] == [m.span() for m in plain.finditer(text)], (name, text)
            assert fast.sub("X", text) == plain.sub("X", text)


def test_collapsing_blanks_gives_what_the_regex_gives() -> None:
    plain = re.compile(r"[ \t\r\f\v]+")
    for text in texts() + [" " * 1000 + "x" + "\t \r\n\f\v" * 300, "\u3000 \xa0 \x1c\x85  y"]:
        assert htmltext.collapse_blanks(text) == plain.sub(" ", text)
