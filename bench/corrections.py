"""Do 20 corrections help? A user's mail over time (eval_data/, written apart from the corpus,
in file-number order): the user corrects 20 of the earlier messages (every mistake the shipped
model makes there, then the earliest others, labels in turn), triage retrains, and we compare
accuracy on the user's later mail and the held-out macro-F1 of the shipped split.

Usage: python bench/corrections.py [MODELS_DIR]  (default: models/)
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from triage.classifier import load_model  # noqa: E402
from triage.training import load_corpus, train  # noqa: E402

CORRECTIONS = 20
EARLIER = 0.6  # the first 60% of the user's mail is where the corrections come from


def number(path: Path) -> int:
    found = re.search(r"(\d+)", path.name)
    return int(found.group(1)) if found else 0


def main() -> None:
    import os
    from triage import training
    if os.environ.get("WEIGHT"):
        training.CORRECTION_WEIGHT = float(os.environ["WEIGHT"])
    models = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "models"
    mail = sorted(load_corpus(ROOT / "eval_data"), key=lambda e: (number(e.path), e.path.name))
    cut = int(len(mail) * EARLIER)
    earlier, later = mail[:cut], mail[cut:]
    shipped = load_model(models)
    said = [p.label for p in shipped.predict([e.message for e in earlier])]
    chosen = [e for e, p in zip(earlier, said) if p != e.label][:CORRECTIONS]
    queues = {label: [e for e in earlier if e.label == label and e not in chosen]
              for label in ("targeted", "referral", "mass", "other")}
    while len(chosen) < CORRECTIONS:
        for queue in queues.values():
            if queue and len(chosen) < CORRECTIONS:
                chosen.append(queue.pop(0))
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "corrections"
        for e in chosen:
            (store / e.label).mkdir(parents=True, exist_ok=True)
            shutil.copy(e.path, store / e.label / e.path.name)
        out = Path(tmp) / "models"
        new = train(ROOT / "training_data", out, extra=(store,), independent=None)
        before = accuracy(shipped, later)
        after = accuracy(new, later)
    mistakes = sum(p != e.label for e, p in zip(earlier, said))
    print(f"user's mail: {len(earlier)} earlier ({mistakes} mistakes by the shipped model), "
          f"{len(later)} later; {len(chosen)} corrections "
          f"({sum(e in chosen for e in earlier if True) and min(mistakes, CORRECTIONS)} of them mistakes)")
    print(f"accuracy on the later mail: {before:.4f} -> {after:.4f}")
    print(f"shipped held-out macro-F1: {shipped.card['held_out']['macro_f1']:.4f} -> "
          f"{new.card['held_out']['macro_f1']:.4f}")
    print(f"corrections: {new.card['corrections']}")


def accuracy(model, examples) -> float:  # type: ignore[no-untyped-def]
    predicted = model.predict([e.message for e in examples])
    return sum(p.label == e.label for p, e in zip(predicted, examples)) / len(examples)


if __name__ == "__main__":
    main()
