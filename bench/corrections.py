"""Do 20 corrections help? A user's mail over time is eval_data/ (written apart from the corpus)
in an order drawn by a seed: the user corrects 20 of the earlier 60% (every mistake the model
makes there, then the earliest others, labels in turn), triage retrains, and we compare accuracy
on the user's later 40% and the held-out macro-F1 of the shipped split, against the model
trained on the same corpus without corrections.

Usage: python bench/corrections.py [SEEDS]   (default: 3)
"""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from triage.classifier import Model  # noqa: E402
from triage.training import Example, load_corpus, train  # noqa: E402

CORRECTIONS = 20
EARLIER = 0.6  # the first 60% of the user's mail is where the corrections come from


def one_user(seed: int, shipped: Model, mail: list[Example], corpus: Path = ROOT / "training_data"
             ) -> tuple[float, float, float, int]:
    """Later-mail accuracy before and after, the new held-out macro-F1, and mistakes corrected."""
    order = sorted(mail, key=lambda e: e.path.name)
    random.Random(seed).shuffle(order)
    cut = int(len(order) * EARLIER)
    earlier, later = order[:cut], order[cut:]
    said = [p.label for p in shipped.predict([e.message for e in earlier])]
    chosen = [e for e, p in zip(earlier, said) if p != e.label][:CORRECTIONS]
    mistakes = len(chosen)
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
        new = train(corpus, Path(tmp) / "models", extra=(store,))
    return accuracy(shipped, later), accuracy(new, later), new.card["held_out"]["macro_f1"], mistakes


def accuracy(model: Model, examples: list[Example]) -> float:
    predicted = model.predict([e.message for e in examples])
    return sum(p.label == e.label for p, e in zip(predicted, examples)) / len(examples)


def main() -> None:
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with tempfile.TemporaryDirectory() as tmp:
        shipped = train(ROOT / "training_data", Path(tmp))
    mail = load_corpus(ROOT / "eval_data")
    print(f"without corrections: held-out macro-F1 {shipped.card['held_out']['macro_f1']:.4f}; "
          f"{len(mail)} messages of the user's mail, {CORRECTIONS} corrections each")
    gains = []
    for seed in range(seeds):
        before, after, held, mistakes = one_user(seed, shipped, mail)
        gains.append(after - before)
        print(f"seed {seed}: {mistakes} mistakes corrected; later-mail accuracy {before:.4f} -> "
              f"{after:.4f}; held-out macro-F1 {held:.4f}", flush=True)
    print(f"mean change in later-mail accuracy: {sum(gains) / len(gains):+.4f}")


if __name__ == "__main__":
    main()
