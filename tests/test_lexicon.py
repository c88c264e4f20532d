"""`Lexicon` finds exactly the matches `re` finds, and every lexicon in `features` is sped up."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage import features
from triage.lexicon import Lexicon, Lexicons, Unfactorable, prefilters
from triage.message import parse_message

ROOT = Path(__file__).resolve().parent.parent
LEXICONS = {name: value for name, value in vars(features).items() if isinstance(value, Lexicon)}

TRICKY = [
    "", " ", "recruiting", "recruiting!", "xrecruiting hiring", "hiring,hiring;hiring", "job-jobs job_s",
    "know anyone who knows anyone? refer referral referrals", "per week a day per day",
    "dear candidate, hello   ,  there hi friends dear valued", "\nhi all\n",
    "求人求人 採用ポジション 推荐人 內推", "кандидатура вакансия работать", "I came across your profile",
    "opt-out opt out optxout", "your background\u00a0your experience", "é recruit\u0301ing",
    "work from home — whatsapp/telegram", "(hiring)[job]{role}", "a\U0001F600job \U0001F600hiring",
]


def corpus_texts() -> list[str]:
    paths = sorted([*(ROOT / "training_data").rglob("*.eml"), *(ROOT / "eval_data").rglob("*.eml")])
    texts = []
    for path in paths[::3]:
        message = parse_message(path.read_bytes())
        texts.append(f"{message.subject}\n{message.text}".lower())
    return texts


def same_as_re(lexicon: Lexicon, text: str) -> None:
    expected = list(lexicon.regex.finditer(text))
    assert lexicon.findall(text) == [m.group() for m in expected], text
    found, reference = lexicon.search(text), lexicon.regex.search(text)
    assert (found and found.span()) == (reference and reference.span()), text


def test_every_lexicon_takes_the_fast_path() -> None:
    assert len(LEXICONS) >= 7
    assert all(lexicon.fast for lexicon in LEXICONS.values()), \
        [name for name, lexicon in LEXICONS.items() if not lexicon.fast]


@pytest.mark.parametrize("name", sorted(LEXICONS))
def test_matches_equal_re_on_the_corpus_and_tricky_text(name: str) -> None:
    lexicon = LEXICONS[name]
    texts = corpus_texts() + TRICKY
    for text in texts:
        same_as_re(lexicon, text)
    assert sum(len(lexicon.findall(t)) for t in texts) > 0  # the comparison saw matches


def words_of(pattern: str) -> list[str]:
    """Literal runs of a pattern, to build text full of near-matches."""
    return [w for w in re.split(r"[^\w' -]+", pattern) if w.strip()][:400]


PIECES = sorted({w for lexicon in LEXICONS.values() for w in words_of(lexicon.pattern)})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PIECES), st.sampled_from(["", " ", ", ", "-", "s ", "\n", "x", "é"])),
                max_size=12))
def test_matches_equal_re_on_glued_lexicon_words(parts: list[tuple[str, str]]) -> None:
    text = "".join(word + glue for word, glue in parts)
    for lexicon in LEXICONS.values():
        same_as_re(lexicon, text)


def test_a_pattern_of_another_shape_is_used_as_it_is() -> None:
    for pattern in [r"\w+ing", r"\b(?:a|b)\b", r"(x|y)*z", r"\b(\w+|b)\b", r"\b(_x|'y)\b"]:
        lexicon = Lexicon(pattern)
        assert not lexicon.fast
        for text in ["xz a b yyz ing singing", "'y _x", ""]:
            same_as_re(lexicon, text)


def test_prefilters_refuse_what_they_cannot_prove() -> None:
    with pytest.raises(Unfactorable):
        prefilters(r"\b(a|\w)\b")  # an alternative that starts with a class
    with pytest.raises(Unfactorable):
        prefilters(r"\b(a|b)\b|.x")  # a free alternative that does not start with a literal
    with pytest.raises(Unfactorable):
        prefilters(r"\b((a|b)+c)\b")  # a quantified leading group


def test_members_of_a_family_find_what_they_find_alone() -> None:
    patterns = [r"\b(ab|abc)\b", r"\b(abc|b)\b|x", r"\b(a)", r"\w+z", r"\b(?P<n>b)\b", r"\b(c)\1"]
    family = Lexicons()
    members = [family.add(p) for p in patterns]
    assert [m.fast for m in members] == [True, True, True, False, False, False]
    for text in ["abc ab b xabc", "a b abc", "zz abz", "", "cc c"]:
        for member in members:
            same_as_re(member, text)
        assert family.starts(text) is family.starts(text)  # one scan per text


def test_a_text_that_begins_a_longer_one_finds_its_own_matches() -> None:
    family = Lexicons()
    hire, work = family.add(r"\b(hire|hired)\b"), family.add(r"\b(work from home|work)\b")
    for longer, shorter in [("x hired", "x hire"), ("x hire d", "x hire"), ("a work from home", "a work"),
                            ("a work from", "a work from h"), ("we hire_", "we hire"), ("hire", "")]:
        for lexicon in (hire, work):
            lexicon.findall(longer)  # scanned first, kept
            same_as_re(lexicon, shorter)
            same_as_re(lexicon, longer)
