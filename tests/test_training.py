"""Training: deterministic, gated, reversible, and refusing foreign models."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from triage.classifier import ModelError, load_model
from triage.message import parse_message
from triage.training import HELD_OUT_BUCKETS, TrainingError, rollback, train

ROOT = Path(__file__).resolve().parent.parent


def small_corpus(tmp: Path, per_label: int) -> Path:
    corpus = tmp / f"corpus{per_label}"
    for label in ("targeted", "referral", "mass", "other"):
        (corpus / label).mkdir(parents=True)
        for path in sorted((ROOT / "training_data" / label).glob("*.eml"))[::3][:per_label]:
            shutil.copy(path, corpus / label / path.name)
    return corpus


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("train")
    corpus = small_corpus(tmp, 40)
    train(corpus, tmp / "models")
    return corpus, tmp / "models"


def scores(models: Path) -> dict:
    card = json.loads((models / "model_card.json").read_text())
    return {k: card[k] for k in ("held_out", "thresholds", "data_hash", "counts")}


def test_same_data_gives_the_same_model_and_report(trained, tmp_path) -> None:
    corpus, models = trained
    train(corpus, tmp_path / "again")
    assert scores(tmp_path / "again") == scores(models)
    assert (tmp_path / "again" / "report.md").read_text() == (models / "report.md").read_text()
    card = json.loads((models / "model_card.json").read_text())
    assert {"python", "scikit-learn"} <= set(card["versions"]) and card["trained_at"]
    assert (models / "confusion.png").read_bytes().startswith(b"\x89PNG")


def mislabelled_corpus(corpus: Path, tmp: Path) -> Path:
    """The same files, but every training file under the wrong label (held-out ones kept right)."""
    labels = ["targeted", "referral", "mass", "other"]
    out = tmp / "mislabelled"
    for label in labels:
        for path in sorted((corpus / label).glob("*.eml")):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            held_out = int(digest[:8], 16) % HELD_OUT_BUCKETS == 0
            wrong = labels[(labels.index(label) + 1) % len(labels)]
            target = out / (label if held_out else wrong)
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target / path.name)
    return out


def test_a_worse_model_is_refused_unless_forced_and_can_be_rolled_back(trained, tmp_path) -> None:
    corpus, models = trained
    work = tmp_path / "models"
    shutil.copytree(models, work)
    worse = mislabelled_corpus(corpus, tmp_path)
    with pytest.raises(TrainingError, match="current model scores better .* --force"):
        train(worse, work)
    assert scores(work) == scores(models)
    train(worse, work, force=True)
    assert scores(work) != scores(models)
    rollback(work)
    assert scores(work) == scores(models)


def test_a_model_from_another_scikit_learn_is_refused_with_the_fix(trained, tmp_path) -> None:
    _, models = trained
    shutil.copytree(models, tmp_path / "m")
    card = json.loads((tmp_path / "m" / "model_card.json").read_text())
    card["versions"]["scikit-learn"] = "0.24.2"
    (tmp_path / "m" / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match=r"made with scikit-learn 0\.24\.2.*run `triage train`"):
        load_model(tmp_path / "m")
    with pytest.raises(ModelError, match="no model in .* run `triage train`"):
        load_model(tmp_path / "empty")


def test_too_few_examples_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "c" / "targeted").mkdir(parents=True)
    with pytest.raises(TrainingError, match="too few messages .* add at least 10"):
        train(tmp_path / "c", tmp_path / "m")


def shipped_model():
    return load_model(ROOT / "models")


@pytest.mark.parametrize("text", [
    "Zorblax quindle frampt vexu oolong prattle snerk.",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.",
    "0x7f3a 0x0012 0xdeadbeef 0x0000 0x1111",
])
def test_text_unlike_anything_in_the_corpus_is_not_a_recruiter_label(text: str) -> None:
    message = parse_message(f"From: x@y.example\r\nSubject: {text[:20]}\r\n\r\n{text}\r\n".encode())
    assert shipped_model().predict([message])[0].label in ("other", "unsure")


def test_the_shipped_model_reproduces_its_card(tmp_path) -> None:
    """`make train` on a fresh clone gives the committed scores exactly."""
    train(ROOT / "training_data", tmp_path, independent=ROOT / "eval_data")
    committed = json.loads((ROOT / "models" / "model_card.json").read_text())
    rebuilt = json.loads((tmp_path / "model_card.json").read_text())
    for key in ("held_out", "independent", "thresholds", "data_hash", "counts"):
        assert rebuilt[key] == committed[key], key
