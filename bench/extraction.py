"""How often the draft names the right recruiter, company, role and language.

Runs what `triage draft --json` runs (replies.preview) on annotated targeted mail and compares
each field with the annotation written when the mail was written:

  right    the draft uses a value the annotation accepts (or stays silent when it lists none)
  missing  the draft falls back although the mail names one
  wrong    the draft uses a value the annotation does not accept

Sets: tests/data/extraction/heldout (hand-written for this, never tuned on) and demo/mail.
A measurement, not a test: `python bench/extraction.py [-v]`.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

from triage.config import Me
from triage.message import parse_message
from triage.replies import preview, template_environment

ROOT = Path(__file__).resolve().parent.parent
SETS = {"held-out 1": (ROOT / "tests/data/extraction/heldout", ROOT / "tests/data/extraction/heldout"),
        "held-out 2": (ROOT / "tests/data/extraction/heldout2", ROOT / "tests/data/extraction/heldout2"),
        "held-out 3": (ROOT / "tests/data/extraction/heldout3", ROOT / "tests/data/extraction/heldout3"),
        "held-out 4": (ROOT / "tests/data/extraction/heldout4", ROOT / "tests/data/extraction/heldout4"),
        "demo": (ROOT / "tests/data/extraction/demo", ROOT / "demo/mail")}
GOALS = {"company": (0.85, 0.05), "role": (0.80, 0.05), "first_name": (0.97, 1.0)}
ME = Me(name="Sam Carter", email="sam.carter@example.net", stance="selective")


def normal(value: str) -> str:
    return re.sub(r"\s+", " ", value.casefold()).strip(" .,;:")


def judge(got: str, accepted: list[str]) -> str:
    if not got:
        return "missing" if accepted else "right"
    return "right" if normal(got) in {normal(a) for a in accepted} else "wrong"


def measure(annotations: Path, mail: Path, verbose: bool) -> tuple[dict[str, Counter[str]], int, int]:
    env = template_environment(None)
    tally: dict[str, Counter[str]] = {field: Counter() for field in GOALS}
    language_right = language_total = 0
    for entry in json.loads((annotations / "annotations.json").read_text())["messages"]:
        message = parse_message((mail / entry["file"]).read_bytes())
        shown = preview(message, "bench:" + entry["file"], ME, env)
        for field in GOALS:
            accepted = entry[field] if isinstance(entry[field], list) else \
                ([entry[field]] if entry[field] else [])
            verdict = judge(str(shown[field]), accepted)
            tally[field][verdict] += 1
            if verbose and verdict != "right":
                print(f"  {entry['file']}: {field} {verdict}: got {shown[field]!r}, want {accepted}")
        if entry["language"] != "en":
            language_total += 1
            language_right += shown["language"] == entry["language"]
            if verbose and shown["language"] != entry["language"]:
                print(f"  {entry['file']}: language {shown['language']}, want {entry['language']}")
    return tally, language_right, language_total


def main() -> None:
    verbose = "-v" in sys.argv
    for name, (annotations, mail) in SETS.items():
        tally, language_right, language_total = measure(annotations, mail, verbose)
        count = sum(tally["company"].values())
        print(f"{name}: {count} targeted messages, {language_total} not in English")
        for field, (goal_right, goal_wrong) in GOALS.items():
            right, wrong = tally[field]["right"] / count, tally[field]["wrong"] / count
            print(f"  {field:<10} right {right:6.1%}  missing {tally[field]['missing'] / count:6.1%}  "
                  f"wrong {wrong:6.1%}   (goal: right >= {goal_right:.0%}"
                  + (f", wrong <= {goal_wrong:.0%})" if goal_wrong < 1 else ")"))
        if language_total:
            print(f"  language   right {language_right / language_total:6.1%} of non-English "
                  "(goal: >= 95%)")


if __name__ == "__main__":
    main()
