"""`make bench`: parse + classify throughput on one core, peak memory, and the recruiter-label
rate on real ordinary text the model never saw (Debian changelogs on this machine, if any).

A measurement, not a test: it prints numbers and the goals they are compared with.
"""

from __future__ import annotations

import glob
import gzip
import os
import resource
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from triage.classifier import RECRUITER_LABELS, load_model  # noqa: E402
from triage.message import parse_message  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GOAL_PER_SECOND = 1000
GOAL_FALSE_RATE = 0.005


def corpus_bytes() -> list[bytes]:
    return [p.read_bytes() for p in sorted((ROOT / "training_data").rglob("*.eml"))]


def throughput(model, raws: list[bytes], batch: int = 100) -> float:
    started = time.perf_counter()
    for start in range(0, len(raws), batch):
        model.predict([parse_message(raw) for raw in raws[start:start + batch]])
    return len(raws) / (time.perf_counter() - started)


def ordinary_text_rate(model) -> tuple[int, float] | None:
    files = sorted(glob.glob("/usr/share/doc/*/changelog.Debian.gz"))
    if not files:
        return None
    messages = []
    for path in files:
        text = gzip.open(path).read().decode("utf-8", "replace")
        for i, entry in enumerate(text.split("\n\n -- ")[:3]):
            raw = (f"From: Maintainer <m@debian.example>\nTo: Dana <dana@example.com>\n"
                   f"Subject: {path.split('/')[4]} changes {i}\n\n{entry[-3000:]}\n").encode()
            messages.append(parse_message(raw))
    labels = [p.label for p in model.predict(messages)]
    return len(messages), sum(label in RECRUITER_LABELS for label in labels) / len(messages)


def main() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    model = load_model(ROOT / "models")
    raws = corpus_bytes()
    throughput(model, raws[:200])  # warm up
    rate = max(throughput(model, raws) for _ in range(3))
    print(f"parse + classify: {rate:,.0f} messages/s on one core over {len(raws)} corpus messages "
          f"(goal ≥ {GOAL_PER_SECOND:,}) {'ok' if rate >= GOAL_PER_SECOND else 'BELOW GOAL'}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak:,.0f} MiB")
    ordinary = ordinary_text_rate(model)
    if ordinary:
        count, share = ordinary
        print(f"recruiter labels on {count} real Debian changelog entries: {share:.2%} "
              f"(goal < {GOAL_FALSE_RATE:.1%}) {'ok' if share < GOAL_FALSE_RATE else 'ABOVE GOAL'}")


if __name__ == "__main__":
    main()
