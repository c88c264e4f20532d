"""Training with the user's corrections: every one learned, weighted, evaluated fairly, gated."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import shutil
import sys
from pathlib import Path

import pytest

from test_training import ROOT, small_corpus
from triage import training
from triage.classifier import load_model
from triage.message import parse_message
from triage.training import (GATE_TOLERANCE, HELD_OUT_BUCKETS, TrainingError, _gate,
                             _gate_corrections, evaluate, load_corpus, rollback, train)


def held_out_by_hash(path: Path) -> bool:
    return int(hashlib.sha256(path.read_bytes()).hexdigest()[:8], 16) % HELD_OUT_BUCKETS == 0


def corrections_from(tmp: Path, source: str, label: str, count: int) -> tuple[Path, list[Path]]:
    """`count` unused corpus messages of `source`, given `label` by the user; the first ones are
    of the kind the hash would hold out."""
    pool = sorted((ROOT / "training_data" / source).glob("*.eml"))[1::3]
    chosen = sorted(pool, key=lambda p: not held_out_by_hash(p))[:count]
    store = tmp / "corrections"
    (store / label).mkdir(parents=True)
    for path in chosen:
        shutil.copy(path, store / label / path.name)
    return store, chosen


def label_of(models: Path, paths: list[Path]) -> list[str]:
    model = load_model(models)
    return [p.label for p in model.predict([parse_message(x.read_bytes()) for x in paths])]


def test_every_correction_is_learned_weighted_and_cross_validated(tmp_path, monkeypatch) -> None:
    corpus = small_corpus(tmp_path, 40)
    store, chosen = corrections_from(tmp_path, "mass", "targeted", 3)
    assert held_out_by_hash(chosen[0]), "one of them would have been held out before"
    model = train(corpus, tmp_path / "m", extra=(store,))
    card = model.card
    assert card["extra_examples"] == 3
    assert card["counts"]["targeted"]["held_out"] == sum(
        held_out_by_hash(p) for p in (corpus / "targeted").glob("*.eml")), "never held out"
    assert card["corrections"]["labelled_as_corrected"] == 3 and card["corrections"]["missed"] == []
    assert 0 <= card["corrections"]["cross_validated_accuracy"] <= 1
    assert label_of(tmp_path / "m", chosen) == ["targeted"] * 3

    monkeypatch.setattr(training, "CORRECTION_WEIGHT", 1.0)
    train(corpus, tmp_path / "unweighted", extra=(store,), force=True)
    weighted, unweighted = (targeted_score(tmp_path / d, chosen) for d in ("m", "unweighted"))
    assert weighted > unweighted + 0.05, "weighted, a handful of corrections count for more"


def targeted_score(models: Path, paths: list[Path]) -> float:
    model = load_model(models)
    found = model.predict([parse_message(p.read_bytes()) for p in paths])
    return sum(p.scores["targeted"] for p in found) / len(found)


def test_the_held_out_gate_allows_a_point_and_no_more(tmp_path) -> None:
    corpus = small_corpus(tmp_path, 30)
    train(corpus, tmp_path / "m")
    held_out = [e for e in load_corpus(corpus) if e.held_out]
    current = evaluate(load_model(tmp_path / "m"), held_out)
    near = dataclasses.replace(current, macro_f1=current.macro_f1 - GATE_TOLERANCE + 0.0005)
    _gate(tmp_path / "m", held_out, near, force=False)
    far = dataclasses.replace(current, macro_f1=current.macro_f1 - GATE_TOLERANCE - 0.0005)
    with pytest.raises(TrainingError, match="more than 0.01 lower"):
        _gate(tmp_path / "m", held_out, far, force=False)
    _gate(tmp_path / "m", held_out, far, force=True)


def test_the_correction_gate_refuses_only_a_step_back_on_your_corrections(tmp_path) -> None:
    corpus = small_corpus(tmp_path, 30)
    store, chosen = corrections_from(tmp_path, "mass", "targeted", 3)
    train(corpus, tmp_path / "m", extra=(store,))
    assert label_of(tmp_path / "m", chosen) == ["targeted"] * 3
    yours = load_corpus(store)
    worse = {"count": 3, "labelled_as_corrected": 2, "missed": ["x.eml (targeted, now mass)"]}
    with pytest.raises(TrainingError, match=r"labels 2 of your 3 .* the current one 3 .*x\.eml"):
        _gate_corrections(tmp_path / "m", yours, worse, force=False)
    _gate_corrections(tmp_path / "m", yours, worse, force=True)
    _gate_corrections(tmp_path / "none", yours, worse, force=False)  # a first model: reported only
    shutil.copytree(ROOT / "models", tmp_path / "shipped")  # labels none of them as corrected
    _gate_corrections(tmp_path / "shipped", yours, worse, force=False)


def test_rollback_walks_back_through_several_generations(tmp_path) -> None:
    models = tmp_path / "m"
    hashes = []
    for n in (12, 14, 16, 18, 20):
        train(small_corpus(tmp_path, n), models, force=True)
        hashes.append(json.loads((models / "model_card.json").read_text())["data_hash"])

    def card_hash(folder: Path) -> str:
        return json.loads((folder / "model_card.json").read_text())["data_hash"]

    assert [card_hash(models / d) for d in ("previous", "previous-2", "previous-3")] == \
        hashes[3::-1][:3], "three generations kept, newest first"
    assert not (models / "previous-4").exists()
    rollback(models)
    rollback(models)
    assert card_hash(models) == hashes[2] and card_hash(models / "rolled-back") == hashes[3]
    assert card_hash(models / "previous") == hashes[1]
    rollback(models)
    with pytest.raises(TrainingError, match="no previous model"):
        rollback(models)
    assert card_hash(models) == hashes[1]


@pytest.mark.xfail(strict=True, reason=(
    "known regression, open: since the corpus grew to 3,059 messages (0.3.0) twenty corrections "
    "lower later-mail accuracy in this small case (seeds 0-2: -5.5, -4.9, -2.4 points) and do "
    "not reliably raise it at full size (bench/corrections.py); strict, so this fails as soon "
    "as corrections help again"))
def test_twenty_corrections_raise_accuracy_on_the_users_later_mail(tmp_path) -> None:
    """bench/corrections.py in small: eval_data as one user's mail, 20 corrections of the
    earlier part (the model's mistakes first), a smaller corpus to keep it quick."""
    sys.path.insert(0, str(ROOT / "bench"))
    bench = importlib.import_module("corrections")
    corpus = small_corpus(tmp_path, 120)  # at 80 a message or two of held-out exceed the tolerance
    baseline = train(corpus, tmp_path / "base")
    before, after, held_out, mistakes = bench.one_user(0, baseline, load_corpus(ROOT / "eval_data"),
                                                       corpus)
    assert mistakes == bench.CORRECTIONS, "all twenty are real mistakes"
    assert after > before, (before, after, held_out)
    assert held_out >= baseline.card["held_out"]["macro_f1"] - GATE_TOLERANCE
