"""The compact NumPy-only model gives the pipeline's numbers, and is refused when it is stale."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from triage.classifier import LinearModel, Model, ModelError, load_model, load_predictor
from triage.features import to_features
from triage.grams import CharLookup
from triage.linear import (COMPACT_FILE, CompactError, CompactModel, _strings, _strip_accents, _tokens,
                           char_grams, terms)
from triage.message import parse_message

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"

AWKWARD = [
    "Subject: Stellenangebot für Sie\r\nTo: Jürgen Groß <j@x.example>\r\n\r\nHallo Jürgen, "
    "wären Sie offen für ein Gespräch? Café, naïve, Ångström, ﬁnance (a ligature).\r\n",
    "Subject: =?utf-8?b?5rGC5Lq644Gu44GU5qGI5YaF?=\r\nTo: a@b.example\r\n\r\n"
    "田中様、ご経歴を拝見し、ポジションのご紹介です。ご興味はございますか。\r\n",
    "Subject: x\r\nTo: a@b.example\r\n\r\n\u0301\u0301 e\u0301 ü 안녕하세요 채용 포지션 Привет вакансия\r\n",
    "Subject: \r\nTo: a@b.example\r\n\r\n\r\n",
    "Subject: a\r\n\r\n" + "word " * 5000 + "\r\n",
]


@pytest.fixture(scope="module")
def models() -> tuple[Model, LinearModel]:
    predictor = load_predictor(MODELS)
    assert isinstance(predictor, LinearModel), "the shipped model has no usable model.npz"
    return load_model(MODELS), predictor


def messages():
    raws = [p.read_bytes() for p in sorted((ROOT / "demo" / "mail").glob("*.eml"))]
    return [parse_message(r) for r in raws + [a.encode() for a in AWKWARD]]


def test_compact_probabilities_equal_the_pipeline(models) -> None:
    full, compact = models
    features = [to_features(m) for m in messages()]
    matrix, known = full.vectors(features)
    expected = full.pipeline.named_steps["classify"].predict_proba(matrix)
    got, got_known = compact.compact.probabilities(features)
    assert np.abs(expected - got).max() < 1e-12
    assert list(known) == got_known
    assert [p.label for p in full.predict(messages())] == [p.label for p in compact.predict(messages())]


def test_terms_are_the_vectorizers_terms(models) -> None:
    full, _ = models
    analyzer = full.pipeline.named_steps["features"].transformer_list[0][1] \
        .named_steps["tfidf"].build_analyzer()
    for message in messages():
        text = to_features(message).text
        assert sorted(terms(text)) == sorted(analyzer(text))


def test_a_stale_compact_file_is_not_used(tmp_path: Path) -> None:
    for name in ("model.joblib", "model_card.json", COMPACT_FILE):
        shutil.copy2(MODELS / name, tmp_path / name)
    card = {"data_hash": "another", "trained_at": "2020-01-01T00:00:00+00:00"}
    with pytest.raises(CompactError, match="another model"):
        CompactModel.load(tmp_path, card)
    (tmp_path / COMPACT_FILE).write_bytes(b"not a zip file")
    assert isinstance(load_predictor(tmp_path), Model)  # falls back to the full pipeline
    (tmp_path / COMPACT_FILE).unlink()
    assert isinstance(load_predictor(tmp_path), Model)


def test_char_grams_are_the_vectorizers_char_wb_grams(models) -> None:
    full, _ = models
    analyzer = dict(full.pipeline.named_steps["features"].transformer_list)["chars"] \
        .named_steps["tfidf"].build_analyzer()
    samples = [to_features(m).text[:1000] for m in messages()] + ["a bb ccc dddd  é\tx\n yy", ""]
    for text in samples:
        assert sorted(char_grams(text)) == sorted(analyzer(text))


def test_a_damaged_pickle_fails_even_though_the_compact_file_is_intact(tmp_path: Path) -> None:
    for name in ("model.joblib", "model_card.json", COMPACT_FILE):
        shutil.copy2(MODELS / name, tmp_path / name)
    assert isinstance(load_predictor(tmp_path), LinearModel)
    with open(tmp_path / "model.joblib", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelError, match="does not match the SHA-256"):
        load_predictor(tmp_path)


def corpus_messages():
    paths = sorted([*(ROOT / "training_data").rglob("*.eml"), *(ROOT / "eval_data").rglob("*.eml")])
    return [parse_message(p.read_bytes()) for p in paths]


def test_compact_probabilities_equal_the_pipeline_on_the_whole_corpus(models) -> None:
    full, compact = models
    features = [to_features(m) for m in corpus_messages()]
    matrix, known = full.vectors(features)
    expected = full.pipeline.named_steps["classify"].predict_proba(matrix)
    for start in range(0, len(features), 500):  # batches, as the runner predicts
        got, got_known = compact.compact.probabilities(features[start:start + 500])
        assert np.abs(expected[start:start + 500] - got).max() < 1e-12
        assert list(known[start:start + 500]) == got_known


def vocabularies() -> tuple[list[str], list[str]]:
    with np.load(MODELS / COMPACT_FILE) as data:
        return _strings(data["vocabulary"]), _strings(data["char_vocabulary"])


def reference_hits(batch: list[list[str]], vocabulary: list[str]) -> Counter[tuple[int, int]]:
    index = {term: column for column, term in enumerate(vocabulary)}
    return Counter((number, index[g]) for number, grams in enumerate(batch) for g in grams if g in index)


def hits_counter(hits: tuple[np.ndarray, np.ndarray]) -> Counter[tuple[int, int]]:
    return Counter(zip(hits[0].tolist(), hits[1].tolist()))


ODD_TEXTS = ["a bb ccc dddd  é\tx\n yy", "", "   \n\t ", "i a o u e", "\U0001F600 emoji \U0001F600x",
             "ｆｕｌｌ ｗｉｄｔｈ ﬁnance", "İstanbul ǅemal ß", "tab\u00a0nbsp\u2003em\u3000ideographic",
             "lone \udc80 surrogate", "x" * 3000, "the the the the role role"]


def test_batch_word_lookups_find_the_reference_terms(models) -> None:
    _, compact = models
    vocabulary, _ = vocabularies()
    bigram = next(t for t in vocabulary if " " in t)
    first, second = bigram.split(" ")
    texts = [to_features(m).text for m in messages()] + ODD_TEXTS + [f"x {first}", f"{second} y", first, second]
    tokens = [_tokens(t) for t in texts]
    got = hits_counter(compact.compact.words.hits(tokens))
    assert got == reference_hits([terms(t) for t in texts], vocabulary)
    last = len(texts) - 1  # a bigram across two messages is no bigram of either
    assert (last - 1, vocabulary.index(bigram)) not in got and (last, vocabulary.index(bigram)) not in got


def test_batch_char_lookups_find_the_reference_char_grams(models) -> None:
    _, compact = models
    _, vocabulary = vocabularies()
    texts = [to_features(m).text[:1000] for m in messages()] + ODD_TEXTS
    got = hits_counter(compact.compact.chars.hits(texts, char_grams))
    assert got == reference_hits([char_grams(t) for t in texts], vocabulary)
    assert sum(got.values()) > 1000


def test_a_double_space_gram_in_the_vocabulary_never_matches_across_words() -> None:
    lookup = CharLookup(["ab  ", " ab ", "b  c"])
    assert hits_counter(lookup.hits(["ab", "ab cd", "b c"], char_grams)) == Counter({(0, 1): 1, (1, 1): 1})


def test_accents_are_stripped_as_the_vectorizer_strips_them() -> None:
    from sklearn.feature_extraction.text import strip_accents_unicode
    samples = ["café naïve Ångström ﬁ", "\U0001D15E\U0001D165 mus\U0001D167ic 𑀓𑀸 brahmi",
               "e\u0301\u0301 x\U0001D167", "\U0001F600 only an emoji", "", "plain ascii",
               "\u0301", "\U0001D167"]
    for text in samples:
        assert _strip_accents(text) == strip_accents_unicode(text), text


def test_characters_beyond_the_bmp_and_lone_surrogates_match_as_the_reference() -> None:
    vocabulary = [" 🔬 ", " 🔬x", "🔬x ", "ab🔬", "b🔬 ", " ab", "x😀 ", "abc"]
    texts = ["🔬", "🔬x", "ab🔬", "x😀 🔬 ab", "lone \udc80 🔬 ab", "𝄞🔬x", "", "ab"]
    got = hits_counter(CharLookup(vocabulary).hits(texts, char_grams))
    assert got == reference_hits([char_grams(t) for t in texts], vocabulary)
    assert got[(4, 0)] == 1 and got[(0, 0)] == 1  # the surrogate's message, by the string path


def test_too_many_astral_characters_refuse_the_fast_lookup() -> None:
    with pytest.raises(ValueError, match="beyond U\\+FFFF"):
        CharLookup([f" {chr(0x10000 + n)} " for n in range(3000)])


def test_key_lookup_finds_every_key_and_nothing_else() -> None:
    from triage.grams import KeyLookup
    rng = np.random.default_rng(7)
    keys = np.unique(rng.integers(0, 2**63, 5000, dtype=np.int64)).astype(np.uint64)
    crowded = np.arange(1, 400, dtype=np.uint64) << np.uint64(60)  # the same top bits: long probes
    keys = np.unique(np.concatenate((keys, crowded, np.array([0, 2**64 - 1], dtype=np.uint64))))
    lookup = KeyLookup(keys, range(len(keys)), np.uint64)
    assert lookup.probes > 2  # keys collided and were probed past
    queries = np.concatenate((keys, keys[::-1] + np.uint64(1), rng.integers(0, 2**63, 3000).astype(np.uint64)))
    index = {int(k): i for i, k in enumerate(keys)}
    assert lookup.find(queries).tolist() == [index.get(int(q), -1) for q in queries]
    assert KeyLookup([], [], np.uint64).find(queries[:5]).tolist() == [-1] * 5
    with pytest.raises(ValueError, match="share an integer key"):
        KeyLookup([3, 5, 3], [0, 1, 2], np.uint64)
