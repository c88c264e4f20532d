"""Load the corpus, fit, choose thresholds, evaluate on held-out mail, gate, save, report.

The held-out split is chosen by a hash of each file's bytes, so it is the same on every
machine and stays put as files are added: the gate compares old and new model on the
same held-out mail. The user's corrections are never held out: every one is learned,
weighted so that a handful matter, and evaluated by cross-validated predictions instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import shutil
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .classifier import (CARD_FILE, MODEL_FILE, RECRUITER_LABELS, SEED, UNSURE, Model, ModelError,
                         load_model, save_model, versions)
from .config import LABELS
from .errors import TrainingError
from .features import to_features
from . import generations
from .facets import facet_scores, facet_tables
from .generations import MODEL_NAMES, PREVIOUS, RollbackError, shift_generations
from .message import Message, ParseError, parse_message
from .statefiles import atomic_write, private_dir

if TYPE_CHECKING:  # NumPy and scikit-learn load when training starts, not with the CLI
    import numpy as np

HELD_OUT_BUCKETS = 5  # one in five files is held out
THRESHOLD_FOLDS = 5  # out-of-fold predictions for choosing thresholds
DEFAULT_PRECISION = {"targeted": 0.97, "referral": 0.93, "mass": 0.93}
CORRECTION_WEIGHT = 8.0  # at most, one correction weighs as much as this many corpus messages
CORRECTION_SHARE = 0.1  # and all of them together at most this share of the corpus (never < 1 each)
GATE_TOLERANCE = 0.01  # a retrain may lower the held-out macro-F1 by at most this much



@dataclass(frozen=True)
class Example:
    """One labelled message of the corpus."""

    path: Path
    label: str
    message: Message
    digest: str

    @property
    def held_out(self) -> bool:
        return int(self.digest[:8], 16) % HELD_OUT_BUCKETS == 0


@dataclass(frozen=True)
class Evaluation:
    """Scores of a model on a set of examples (unsure counts as a miss)."""

    macro_f1: float
    log_loss: float
    brier: float
    per_label: dict[str, dict[str, float]]
    matrix: list[list[int]]
    unsure: int
    count: int
    facets: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)


def load_corpus(*roots: Path) -> list[Example]:
    """Every `<root>/<label>/**/*.eml`, sorted by path; unparsable files raise TrainingError."""
    examples = []
    for root in roots:
        for label in LABELS:
            for path in sorted((root / label).rglob("*.eml")):
                data = path.read_bytes()
                try:
                    message = parse_message(data)
                except ParseError as exc:
                    raise TrainingError(f"{path} is not a usable message ({exc}); fix or remove it")
                examples.append(Example(path, label, message, hashlib.sha256(data).hexdigest()))
    return examples


def data_hash(examples: list[Example]) -> str:
    """One hash over all labels and file contents, independent of where the corpus lives."""
    digest = hashlib.sha256()
    for example in sorted(examples, key=lambda e: (e.label, e.digest)):
        digest.update(f"{example.label}:{example.digest}\n".encode())
    return digest.hexdigest()


def choose_thresholds(y: list[str], proba: np.ndarray, labels: list[str],
                      targets: dict[str, float]) -> dict[str, float]:
    """Per recruiter label, the lowest threshold whose out-of-fold precision meets its target."""
    import numpy as np
    y_arr = np.array(y)
    best = np.array(labels)[proba.argmax(axis=1)]
    top = proba.max(axis=1)
    thresholds = {}
    for label in RECRUITER_LABELS:
        chosen = 0.95
        for t in np.arange(0.30, 0.951, 0.01):
            picked = (best == label) & (top >= t)
            if picked.sum() == 0:
                break
            if (y_arr[picked] == label).mean() >= targets[label]:
                chosen = float(t)
                break
        thresholds[label] = round(chosen, 2)
    return thresholds


def evaluate(model: Model, examples: list[Example]) -> Evaluation:
    """Macro-F1, per-label precision/recall/F1 and the confusion matrix (rows: truth)."""
    import numpy as np
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
    truth = [e.label for e in examples]
    predictions = model.predict([e.message for e in examples])
    predicted = [p.label for p in predictions]
    proba = np.array([[p.scores.get(label, 0.0) for label in model.labels] for p in predictions])
    onehot = np.array([[float(t == label) for label in model.labels] for t in truth])
    clipped = np.clip(proba, 1e-6, 1)
    loss = float(-np.mean(np.log((clipped * onehot).sum(axis=1))))
    brier = float(((proba - onehot) ** 2).sum(axis=1).mean())
    columns = [*LABELS, UNSURE]
    p, r, f, n = precision_recall_fscore_support(truth, predicted, labels=list(LABELS),
                                                 zero_division=0)
    per_label = {label: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                         "f1": round(float(f[i]), 4), "support": int(n[i])}
                 for i, label in enumerate(LABELS)}
    matrix = confusion_matrix(truth, predicted, labels=columns)[: len(LABELS)].tolist()
    macro = float(f1_score(truth, predicted, labels=list(LABELS), average="macro", zero_division=0))
    facets = facet_scores([e.message for e in examples], truth, predicted)
    return Evaluation(round(macro, 4), round(loss, 4), round(brier, 4), per_label, matrix,
                      predicted.count(UNSURE), len(examples), facets)


def fit(train: list[Example], targets: dict[str, float],
        progress: Callable[[str], None], weights: list[float] | None = None) -> Model:
    """Fit the pipeline on `train`; thresholds come from 5-fold out-of-fold probabilities."""
    return fit_with_folds(train, targets, progress, weights)[0]


def fit_with_folds(train: list[Example], targets: dict[str, float],
                   progress: Callable[[str], None], weights: list[float] | None = None,
                   yours: int = 0) -> tuple[Model, list[str]]:
    """`fit`, also returning each training example's out-of-fold label (thresholds applied).

    The last `yours` examples are the user's corrections: learned, but left out of choosing
    thresholds (mostly the model's mistakes, they would raise every threshold: measured, 2 of
    128 later messages went from right to unsure)."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from .pipeline import build_pipeline
    features = [to_features(e.message) for e in train]
    y = [e.label for e in train]
    params = {} if weights is None else {"classify__sample_weight": np.array(weights)}
    progress(f"cross-validating on {len(train)} messages for thresholds")
    folds = StratifiedKFold(n_splits=THRESHOLD_FOLDS, shuffle=True, random_state=SEED)
    proba = cross_val_predict(build_pipeline(), features, y, cv=folds, method="predict_proba",
                              n_jobs=2, params=params)
    labels = sorted(set(y))
    corpus = len(train) - yours
    thresholds = choose_thresholds(y[:corpus], proba[:corpus], labels, targets)
    progress("fitting the final model")
    pipeline = build_pipeline().fit(features, y, **params)
    return Model(pipeline, thresholds, {}), _thresholded(proba, labels, thresholds)


def _thresholded(proba: np.ndarray, labels: list[str], thresholds: dict[str, float]) -> list[str]:
    """Each row's best label, or unsure below that label's threshold."""
    best = [labels[i] for i in proba.argmax(axis=1)]
    return [b if top >= thresholds.get(b, 0.0) else UNSURE for b, top in zip(best, proba.max(axis=1))]


def train(corpus: Path, model_dir: Path, *, extra: tuple[Path, ...] = (), force: bool = False,
          independent: Path | None = None, targets: dict[str, float] | None = None,
          progress: Callable[[str], None] = lambda _: None) -> Model:
    """Train from `corpus` (+ `extra` correction folders), gate against the current model, save."""
    targets = {**DEFAULT_PRECISION, **(targets or {})}
    progress("reading the corpus")
    examples = load_corpus(corpus, *[e for e in extra if e.exists()])
    _check_counts(examples, corpus)
    corpus_root = corpus.resolve()
    yours = [e for e in examples if not e.path.resolve().is_relative_to(corpus_root)]
    shipped = [e for e in examples if e.path.resolve().is_relative_to(corpus_root)]
    train_set = [e for e in shipped if not e.held_out] + yours  # corrections: never held out
    held_out = [e for e in shipped if e.held_out]
    weight = correction_weight(len(train_set) - len(yours), len(yours))
    weights = [1.0] * (len(train_set) - len(yours)) + [weight] * len(yours)
    model, out_of_fold = fit_with_folds(train_set, targets, progress, weights if yours else None,
                                        len(yours))
    progress(f"evaluating on {len(held_out)} held-out messages")
    scores = evaluate(model, held_out)
    extra_eval = evaluate(model, load_corpus(independent)) if independent and independent.exists() else None
    model.card = _card(examples, train_set, held_out, model, scores, extra_eval, targets)
    if yours:
        model.card["extra_examples"] = len(yours)
        model.card["corrections"] = correction_scores(model, yours, out_of_fold[-len(yours):],
                                                     weight)
    _gate(model_dir, held_out, scores, force)
    _gate_corrections(model_dir, yours, model.card.get("corrections"), force)
    private = bool(yours)  # trained on the user's own mail: 0600 files in 0700 folders
    shift_generations(model_dir)
    _keep_previous(model_dir, private)
    save_model(model, model_dir, private)
    write_report(model, model_dir, scores, extra_eval, 0o600 if private else 0o644)
    return model


def correction_weight(corpus: int, corrections: int) -> float:
    """A handful of corrections weigh up to CORRECTION_WEIGHT each; many share CORRECTION_SHARE
    of the corpus's weight, so they never drown it (measured: 20 corrections at 8 each on a
    320-message corpus cut later-mail accuracy from 0.72 to 0.65)."""
    if corrections == 0:
        return 1.0
    return round(max(1.0, min(CORRECTION_WEIGHT, CORRECTION_SHARE * corpus / corrections)), 3)


def correction_scores(model: Model, yours: list[Example], out_of_fold: list[str],
                      weight: float) -> dict:
    """How the user's corrections fare: cross-validated (each predicted by a model that did not
    learn it: how well corrections carry over to new mail) and as learned by the new model."""
    learned = [p.label for p in model.predict([e.message for e in yours])]
    missed = [f"{e.path.name} ({e.label}, now {p})" for e, p in zip(yours, learned) if p != e.label]
    return {"count": len(yours), "weight": weight,
            "cross_validated_accuracy": round(sum(p == e.label for e, p in zip(yours, out_of_fold))
                                              / len(yours), 4),
            "labelled_as_corrected": len(yours) - len(missed), "missed": missed[:5]}


def _gate_corrections(model_dir: Path, yours: list[Example], scores: dict | None,
                      force: bool) -> None:
    """Refuse a model that labels fewer of the corrected messages as corrected than the current
    one does (unless forced). Misses stay in the card, and `triage train` names them: a message
    the model has no vocabulary for can be unlearnable, and must not block every retrain."""
    if force or not scores or not scores["missed"] or not (model_dir / MODEL_FILE).exists():
        return
    try:
        current = load_model(model_dir)
    except ModelError:
        return
    before = sum(p.label == e.label for p, e in zip(current.predict([e.message for e in yours]),
                                                     yours))
    if scores["labelled_as_corrected"] < before:
        raise TrainingError(f"the new model labels {scores['labelled_as_corrected']} of your "
                            f"{scores['count']} corrected messages as you did, the current one "
                            f"{before} ({'; '.join(scores['missed'])}); kept the current model. "
                            "Check them with `triage learn --list` (undo one with `triage learn "
                            "--forget MESSAGE-ID`), or use --force to replace it anyway")


def _check_counts(examples: list[Example], corpus: Path) -> None:
    counts = {label: sum(e.label == label for e in examples) for label in LABELS}
    short = [f"{label} ({n})" for label, n in counts.items() if n < 10]
    if short:
        raise TrainingError(f"too few messages in {corpus} for {', '.join(short)}: add at least 10 "
                            f".eml files to each of {corpus}/<label>/")


def _gate(model_dir: Path, held_out: list[Example], new: Evaluation, force: bool) -> None:
    if force or not (model_dir / MODEL_FILE).exists():
        return
    try:
        current = evaluate(load_model(model_dir), held_out)
    except ModelError:
        return  # an unloadable model cannot be better
    if new.macro_f1 < current.macro_f1 - GATE_TOLERANCE:
        raise TrainingError(f"the current model scores better on the held-out mail (macro-F1 "
                            f"{current.macro_f1:.4f} vs {new.macro_f1:.4f}, more than "
                            f"{GATE_TOLERANCE:.2f} lower); kept it. Use --force to replace it anyway")


def _keep_previous(model_dir: Path, private: bool) -> None:
    """Copy the current model to `previous/` (each file replaced atomically)."""
    if not (model_dir / MODEL_FILE).exists():
        return
    previous = model_dir / PREVIOUS
    if private:
        private_dir(model_dir)
        private_dir(previous)
    else:
        previous.mkdir(parents=True, exist_ok=True)
    for name in MODEL_NAMES:
        if (model_dir / name).exists():
            atomic_write(previous / name, (model_dir / name).read_bytes(),
                         0o600 if private else stat.S_IMODE((model_dir / name).stat().st_mode))


def rollback(model_dir: Path) -> None:
    """Restore the previous model (see `triage.generations`)."""
    try:
        generations.rollback(model_dir)
    except RollbackError as exc:
        raise TrainingError(str(exc)) from None


def _card(examples: list[Example], train_set: list[Example], held_out: list[Example], model: Model,
          scores: Evaluation, independent: Evaluation | None, targets: dict[str, float]) -> dict:
    counts = {label: {"train": sum(e.label == label for e in train_set),
                      "held_out": sum(e.label == label for e in held_out)} for label in LABELS}
    card = {
        "versions": versions(), "data_hash": data_hash(examples), "counts": counts,
        "held_out": {"macro_f1": scores.macro_f1, "log_loss": scores.log_loss,
                     "brier": scores.brier, "per_label": scores.per_label,
                     "unsure": scores.unsure, "count": scores.count, "facets": scores.facets},
        "thresholds": model.thresholds, "precision_targets": targets, "seed": SEED,
        "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if independent:
        card["independent"] = {"macro_f1": independent.macro_f1, "log_loss": independent.log_loss,
                               "brier": independent.brier, "per_label": independent.per_label,
                               "unsure": independent.unsure, "count": independent.count,
                               "facets": independent.facets}
    return card


def write_report(model: Model, model_dir: Path, scores: Evaluation,
                 independent: Evaluation | None, mode: int = 0o644) -> None:
    """`report.md` (deterministic: no timestamps) and `confusion.png` in `model_dir`."""
    lines = ["# triage model report", "", f"Data hash: `{model.card['data_hash'][:16]}`  ",
             f"scikit-learn {model.card['versions']['scikit-learn']}, seed {SEED}", "",
             "## Held-out mail (one in five files, chosen by content hash)", "",
             *_score_table(scores), "", "Thresholds (below: `unsure`): " +
             ", ".join(f"{k} {v:.2f}" for k, v in sorted(model.thresholds.items())), "",
             "![confusion matrix](confusion.png)", "", *facet_tables(scores.facets)]
    if independent:
        lines += ["## Independent mail (`eval_data/`, written apart from the corpus)", "",
                  *_score_table(independent), "", *facet_tables(independent.facets)]
    atomic_write(model_dir / "report.md", "\n".join(lines).encode(), mode)
    _plot_confusion(scores, model_dir / "confusion.png", mode)


def _score_table(scores: Evaluation) -> list[str]:
    rows = ["| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for label, s in scores.per_label.items():
        rows.append(f"| {label} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | "
                    f"{s['support']} |")
    rows += ["", f"Macro-F1 **{scores.macro_f1:.4f}** on {scores.count} messages; "
             f"{scores.unsure} unsure. Calibration: log-loss {scores.log_loss:.3f}, "
             f"Brier {scores.brier:.3f}.", "", "Confusion (rows: truth; columns: prediction):", "",
             "| | " + " | ".join([*LABELS, UNSURE]) + " |", "|---" * (len(LABELS) + 2) + "|"]
    rows += [f"| {label} | " + " | ".join(str(n) for n in row) + " |"
             for label, row in zip(LABELS, scores.matrix)]
    return rows


def _plot_confusion(scores: Evaluation, path: Path, mode: int) -> None:
    import matplotlib
    import numpy as np
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    matrix = np.array(scores.matrix)
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    ax.imshow(matrix, cmap="Blues")
    columns = [*LABELS, UNSURE]
    ax.set_xticks(range(len(columns)), columns, rotation=30)
    ax.set_yticks(range(len(LABELS)), LABELS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"held-out confusion (macro-F1 {scores.macro_f1:.3f})")
    for (i, j), n in np.ndenumerate(matrix):
        ax.text(j, i, str(n), ha="center", va="center",
                color="white" if n > matrix.max() / 2 else "black")
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", metadata={"Software": None})
    plt.close(fig)
    atomic_write(path, png.getvalue(), mode)


def stderr_progress(message: str) -> None:
    """Progress lines on a terminal only (cron stays quiet)."""
    if sys.stderr.isatty():
        print(f"triage train: {message}…", file=sys.stderr, flush=True)
