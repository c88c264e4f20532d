"""The model: one scikit-learn Pipeline, thresholds, and a loader that checks provenance.

`pipeline.build_pipeline()` is the only place the estimator is defined. `Model.predict` turns
calibrated probabilities into a `Prediction`, applying the per-label thresholds chosen at
training time and the positive-evidence rule: text the model has almost no vocabulary for
(fewer than MIN_KNOWN_TERMS known terms and no recruiting word) is `other`, never the
nearest recruiter class.

Importing this module is cheap: NumPy, joblib and scikit-learn load with the model.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from .config import LABELS
from .errors import ModelError
from .features import Features, recruiting_evidence, to_features
from .linear import COMPACT_FILE, CompactError, CompactModel, write_compact
from .locations import CARD_FILE, MODEL_FILE
from .message import Message
from .statefiles import commit_temp, new_temp, private_dir, remove_stale_temps, sha256_file

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # the heavy libraries load only when a model is loaded or trained
    import numpy as np
    from sklearn.pipeline import Pipeline

RECRUITER_LABELS = ("targeted", "referral", "mass")
UNSURE = "unsure"
SEED = 0  # every random_state in training
MIN_KNOWN_TERMS = 3



@dataclass(frozen=True)
class Prediction:
    """A decision: `label` is one of LABELS or "unsure"; `best` is the top-scoring label."""

    label: str
    best: str
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)


@dataclass
class Model:
    """A fitted pipeline with its label order, thresholds and model card."""

    pipeline: Pipeline
    thresholds: dict[str, float]
    card: dict[str, Any]

    @property
    def labels(self) -> list[str]:
        return [str(c) for c in self.pipeline.classes_]

    def vectors(self, features: Sequence[Features]) -> tuple[Any, np.ndarray]:
        """The feature matrix and, per message, how many word terms of it the model knows."""
        import numpy as np
        union = self.pipeline.named_steps["features"]
        matrix = union.transform(features).tocsr()
        vocabulary = len(union.transformer_list[0][1].named_steps["tfidf"].vocabulary_)
        return matrix, np.diff(matrix[:, :vocabulary].indptr)

    def known_terms(self, features: Sequence[Features]) -> np.ndarray:
        """How many distinct word terms of each message the model learned (its vocabulary)."""
        return self.vectors(features)[1]

    def predict(self, messages: Sequence[Message]) -> list[Prediction]:
        """One `Prediction` per message."""
        if not messages:
            return []
        matrix, known = self.vectors([to_features(m) for m in messages])
        rows = self.pipeline.named_steps["classify"].predict_proba(matrix)
        return [decide(self.labels, self.thresholds, m, row, int(k))
                for m, row, k in zip(messages, rows, known)]


@dataclass
class LinearModel:
    """The prediction path without scikit-learn: the compact arrays, thresholds and card."""

    compact: CompactModel
    thresholds: dict[str, float]
    card: dict[str, Any]

    def predict(self, messages: Sequence[Message]) -> list[Prediction]:
        """One `Prediction` per message, the same as `Model.predict` gives."""
        if not messages:
            return []
        rows, known = self.compact.predict_rows(messages)
        return [decide(self.compact.labels, self.thresholds, m, row, k)
                for m, row, k in zip(messages, rows, known)]


def decide(labels: Sequence[str], thresholds: dict[str, float], message: Message,
           row: Sequence[float], known_terms: int) -> Prediction:
    """Apply the positive-evidence rule and the thresholds to one probability row."""
    scores = {label: round(float(p), 4) for label, p in zip(labels, row)}
    best = max(scores, key=lambda k: scores[k])
    confidence = scores[best]
    if best in RECRUITER_LABELS and not has_evidence(message, known_terms):
        return Prediction("other", best, scores.get("other", 0.0), scores)
    if confidence < thresholds.get(best, 0.0):
        return Prediction(UNSURE, best, confidence, scores)
    return Prediction(best, best, confidence, scores)


def load_predictor(directory: Path) -> Model | LinearModel:
    """The fastest usable form of the model in `directory`: the compact arrays (plain numbers,
    no code) when they match the SHA-256 in its card, else the full pipeline (`load_model`,
    which imports scikit-learn and makes every check a pickle needs)."""
    card = checked_card(directory)  # a damaged or foreign model folder fails either way
    compact = directory / COMPACT_FILE
    try:
        if not compact.exists() or sha256_file(compact) != card.get("compact_sha256"):
            raise CompactError(f"{compact} is missing or does not match the SHA-256 in its card")
        return LinearModel(CompactModel.load(directory, card), card["thresholds"], card)
    except (OSError, ValueError, KeyError, TypeError, CompactError) as exc:
        log.log(logging.WARNING if compact.exists() else logging.INFO,
                "compact model not used (%s); loading the full model", exc)
        return load_model(directory)


def has_evidence(message: Message, known_terms: int) -> bool:
    """Positive evidence for a recruiter label: familiar text, or at least a recruiting word."""
    return known_terms >= MIN_KNOWN_TERMS or recruiting_evidence(message) > 0


def save_model(model: Model, directory: Path, private: bool = False) -> None:
    """Write the model, its compact form and its card (with both files' SHA-256) to
    `directory`, atomically.

    A SIGKILL at any moment leaves the previous model or the new one, never a truncated file.
    `private` (a model trained on the user's own mail): files 0600 in a 0700 folder.
    """
    import joblib
    mode = 0o600 if private else 0o644
    if private:
        private_dir(directory)
    else:
        directory.mkdir(parents=True, exist_ok=True)
    for name in (MODEL_FILE, COMPACT_FILE, CARD_FILE):
        remove_stale_temps(directory, name)
    stored, compact = new_temp(directory / MODEL_FILE), new_temp(directory / COMPACT_FILE)
    card = new_temp(directory / CARD_FILE)
    try:
        joblib.dump({"pipeline": model.pipeline, "thresholds": model.thresholds, "card": model.card},
                    stored, compress=3)
        write_compact(model.pipeline, model.card, compact)
        model.card = {**model.card, "model_sha256": sha256_file(stored),
                      "compact_sha256": sha256_file(compact)}
        card.write_text(json.dumps(model.card, indent=2, sort_keys=True) + "\n")
        commit_temp(stored, directory / MODEL_FILE, mode)
        commit_temp(compact, directory / COMPACT_FILE, mode)
        commit_temp(card, directory / CARD_FILE, mode)
    finally:
        for temporary in (stored, compact, card):
            temporary.unlink(missing_ok=True)


def check_trusted(path: Path) -> None:
    """Refuse a model file or folder others could write: loading a model runs its code."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ModelError(f"cannot read {path} ({exc.strerror})") from None
    kind = "folder" if stat.S_ISDIR(info.st_mode) else "file"
    if info.st_uid not in (os.geteuid(), 0):
        raise ModelError(f"model {kind} {path} belongs to uid {info.st_uid}, not to you or root; a "
                         "model is code that runs as you: use a model folder of your own")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ModelError(f"model {kind} {path} is writable by group or others (mode "
                         f"{stat.S_IMODE(info.st_mode):o}); a model is code that runs as you: run "
                         f"`chmod go-w {path}`")


def checked_card(directory: Path) -> dict[str, Any]:
    """The card of the model in `directory`, once the folder and model file are trusted, the
    scikit-learn version matches and the model file matches its SHA-256 (else ModelError)."""
    card_path, model_path = directory / CARD_FILE, directory / MODEL_FILE
    if not model_path.exists() or not card_path.exists():
        raise ModelError(f"no model in {directory}: run `triage train`")
    check_trusted(directory)
    check_trusted(model_path)
    try:
        card = json.loads(card_path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"model card {card_path} is unreadable ({exc}); run `triage train`") from None
    made_with = card.get("versions", {}).get("scikit-learn")
    installed = _version("scikit-learn")
    if made_with != installed:
        raise ModelError(f"the model in {directory} was made with scikit-learn {made_with}, this is "
                         f"{installed}; run `triage train` to rebuild it")
    expected = card.get("model_sha256")
    if not expected:
        raise ModelError(f"model card {card_path} records no SHA-256 of {MODEL_FILE} (an older "
                         "triage made it); run `triage train` to rebuild it")
    if sha256_file(model_path) != expected:
        raise ModelError(f"{model_path} does not match the SHA-256 in {card_path}: it was changed "
                         "after training; run `triage train` (or `triage train --rollback`)")
    return dict(card)


def load_model(directory: Path) -> Model:
    """Load the model in `directory`: only from a folder and file no one else can write, only
    if the file matches the SHA-256 in its card, and only from this scikit-learn version."""
    card = checked_card(directory)
    model_path = directory / MODEL_FILE
    import joblib
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            stored = joblib.load(model_path)
        except Exception as exc:  # noqa: BLE001 - unpickling can fail in many ways
            raise ModelError(f"model {model_path} could not be loaded ({type(exc).__name__}: "
                             f"{exc}); run `triage train`") from None
    return Model(stored["pipeline"], stored["thresholds"], card)


def versions() -> dict[str, str]:
    """Library versions recorded in the model card."""
    return {"python": sys.version.split()[0], "scikit-learn": _version("scikit-learn"),
            "numpy": _version("numpy"), "joblib": _version("joblib")}


def _version(package: str) -> str:
    """The installed version of `package` (importlib.metadata loads here: 17 ms a process)."""
    from importlib import metadata
    return metadata.version(package)


def feature_names(model: Model) -> list[str]:
    """`words__<term>`, `signals__<name>` and `chars__<n-gram>`, in the matrix's column order."""
    union = model.pipeline.named_steps["features"]
    names = []
    for name, part in union.transformer_list:
        step = part.named_steps["tfidf"] if name in ("words", "chars") else part
        names += [f"{name}__{n}" for n in step.get_feature_names_out()]
    return names


def explain(model: Model, message: Message, top: int = 8) -> dict[str, Any]:
    """The prediction plus the features that pushed the message towards its best label."""
    import numpy as np
    prediction = model.predict([message])[0]
    vector, _ = model.vectors([to_features(message)])
    names = feature_names(model)
    calibrators = model.pipeline.named_steps["classify"].calibrated_classifiers_
    coef = np.mean([c.estimator.coef_ for c in calibrators], axis=0)
    class_index = model.labels.index(prediction.best)
    contributions = vector.multiply(coef[class_index]).tocsr()
    row = contributions.toarray().ravel()
    order = np.argsort(row)
    pushes = [(str(names[i]), round(float(row[i]), 3)) for i in order[::-1][:top] if row[i] > 0]
    against = [(str(names[i]), round(float(row[i]), 3)) for i in order[:top] if row[i] < 0]
    return {"label": prediction.label, "best": prediction.best, "confidence": prediction.confidence,
            "scores": prediction.scores, "threshold": model.thresholds.get(prediction.best, 0.0),
            "recruiting_evidence": recruiting_evidence(message),
            "known_terms": int(model.known_terms([to_features(message)])[0]),
            "for": pushes, "against": against, "labels": list(LABELS)}
