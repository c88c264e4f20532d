"""`make bench`: every speed figure of issue 16 beside its comparison, measured in the same run.

Writes BENCHMARKS.md (and prints it). A measurement, not a test: nothing here fails a build.
Each figure is measured on one core (`taskset -c 0` / CPU affinity), repeated, and reported as
min / median / max. Comparisons: bogofilter (Debian's package) trained on the corpus as two
classes, recruiter vs. other; raw imapclient commands as the I/O floor; Dovecot on loopback.
"""

from __future__ import annotations

import compileall
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import imapbench  # noqa: E402
import mailsets  # noqa: E402
from triage.classifier import RECRUITER_LABELS, LinearModel, Model, load_predictor  # noqa: E402
from triage.message import parse_message  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REPEATS = 3
SIZES = (100, 5000, 20000)
BACKFILL_REPEATS = {100: 1, 5000: 2, 20000: 1}
BATCH = 500


@dataclass(frozen=True)
class Figure:
    """One row of BENCHMARKS.md: ours and the comparison, min/median/max, and the goal."""

    name: str
    unit: str
    ours: list[float]
    comparison_name: str
    comparison: list[float]
    goal: str
    met: bool | None


def spread(values: list[float], unit: str) -> str:
    fmt = "{:,.2f}" if unit == "s" else "{:,.0f}"
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def ratio(figure: Figure) -> str:
    if not figure.comparison or figure.unit == "MB":
        return ""
    return f"{statistics.median(figure.ours) / statistics.median(figure.comparison):.2f}×"


# -- bogofilter ------------------------------------------------------------------------
def train_bogofilter(directory: Path) -> Path:
    """A wordlist trained on training_data: targeted/referral/mass as spam, other as ham."""
    if shutil.which("bogofilter") is None:
        raise RuntimeError("bogofilter is not installed (apt-get install bogofilter)")
    db = directory / "bogofilter"
    db.mkdir(parents=True, exist_ok=True)
    for label in ("targeted", "referral", "mass", "other"):
        files = [str(p) for p in sorted((ROOT / "training_data" / label).rglob("*.eml"))]
        flag = "-n" if label == "other" else "-s"
        subprocess.run(["bogofilter", "-d", str(db), flag, "-B", *files], check=True)
    return db


def bogofilter_rate(db: Path, files: list[Path]) -> tuple[float, float]:
    """(messages per second, share called spam) of `bogofilter -B` over `files`, whole process."""
    started = time.perf_counter()
    out = subprocess.run([*imapbench.ONE_CORE, "bogofilter", "-d", str(db), "-t", "-B",
                          *map(str, files)], capture_output=True, text=True).stdout
    seconds = time.perf_counter() - started
    verdicts = [line.split()[0] for line in out.splitlines() if line.strip()]
    return len(files) / seconds, verdicts.count("S") / max(1, len(verdicts))


# -- triage ----------------------------------------------------------------------------
def in_process_rate(model: Model | LinearModel, files: list[Path]) -> tuple[float, float]:
    """(messages per second, recruiter-label share): read, parse and classify in batches."""
    started = time.perf_counter()
    labels = []
    for start in range(0, len(files), BATCH):
        messages = [parse_message(p.read_bytes()) for p in files[start:start + BATCH]]
        labels += [p.label for p in model.predict(messages)]
    seconds = time.perf_counter() - started
    return len(files) / seconds, sum(label in RECRUITER_LABELS for label in labels) / len(labels)


def classify_process_rate(directory: Path, count: int) -> float:
    """Messages per second of `triage classify DIR` as a whole process on one core."""
    seconds, _ = imapbench.timed([*imapbench.ONE_CORE, str(BIN / "triage"), "classify", "--models",
                                  str(ROOT / "models"), str(directory)])
    return count / seconds


def classification_figures(work: Path) -> tuple[list[Figure], list[str]]:
    sets = {"corpus": mailsets.corpus_files(), "text": mailsets.write_text_set(work / "text"),
            "html": mailsets.write_html_set(work / "html")}
    db = train_bogofilter(work)
    model = load_predictor(ROOT / "models")  # what the runner and `triage classify` use
    os.sched_setaffinity(0, {0})
    goals = {"text": (2500, 0.5), "html": (1200, 0.4)}
    names = {"corpus": "the shipped corpus", "text": "real plain text (Debian changelogs)",
             "html": "real HTML documents as HTML-only mail"}
    figures, notes = [], []
    if not isinstance(model, LinearModel):
        notes.append("the compact model was not usable: the in-process figures are the scikit-learn "
                     "pipeline's, not the runner's path.")
    for key, files in sets.items():
        in_process_rate(model, files[:200])  # warm up
        ours, shares, theirs, spam = [], [], [], []
        for _ in range(REPEATS):
            rate, share = in_process_rate(model, files)
            ours.append(rate)
            shares.append(share)
            rate, share = bogofilter_rate(db, files)
            theirs.append(rate)
            spam.append(share)
        goal, factor = goals.get(key, (0, 0.0))
        met = (statistics.median(ours) >= goal
               and statistics.median(ours) >= factor * statistics.median(theirs)) if goal else None
        figures.append(Figure(f"parse + classify in-process, {names[key]} ({len(files):,})", "msg/s",
                              ours, "bogofilter -B, same files", theirs,
                              f"≥ {goal:,} msg/s and ≥ {factor}× bogofilter" if goal else "—", met))
        notes.append(f"{names[key]}: triage gives a recruiter label to {shares[0]:.2%}; "
                     f"bogofilter calls {spam[0]:.2%} recruiter (spam).")
    os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    text_dir = work / "text"
    ours = [classify_process_rate(text_dir, len(sets["text"])) for _ in range(REPEATS)]
    theirs = [bogofilter_rate(db, sets["text"])[0] for _ in range(REPEATS)]
    figures.append(Figure(f"`triage classify DIR` whole process, real plain text ({len(sets['text']):,})",
                          "msg/s", ours, "bogofilter -B whole process", theirs, "≥ 0.3× bogofilter",
                          statistics.median(ours) >= 0.3 * statistics.median(theirs)))
    return figures, notes


def imap_figures() -> list[Figure]:
    raws = [p.read_bytes() for p in sorted((ROOT / "training_data").rglob("*.eml"))]
    r = imapbench.run_figures(raws, SIZES, REPEATS, BACKFILL_REPEATS)
    figures = []
    polls = [statistics.median(r[f"poll/{n}"]) for n in SIZES]
    for n in SIZES:
        figures.append(Figure(f"`triage run` with nothing new, {n:,} messages in the folder", "s",
                              r[f"poll/{n}"], "imapclient login + select + search", r[f"rawpoll/{n}"],
                              "≤ 0.3 s, flat in folder size",
                              statistics.median(r[f"poll/{n}"]) <= 0.3 and max(polls) <= 2 * min(polls)))
    backfills = [statistics.median(r[f"backfill/{n}"]) for n in SIZES if n >= 5000]
    for n in (n for n in SIZES if n >= 5000):
        figures.append(Figure(f"first backfill, {n:,} messages, end to end", "msg/s",
                              r[f"backfill/{n}"], "raw imapclient FETCH BODY.PEEK[]", r[f"fetch/{n}"],
                              "≥ 1,500 msg/s, same at 20,000",
                              statistics.median(r[f"backfill/{n}"]) >= 1500
                              and min(backfills) >= 0.9 * max(backfills)))
    n = imapbench.LABELS_ONLY_SIZE
    figures.append(Figure(f"first backfill, {n:,} messages, labels only (`[drafts] enabled = false`)",
                          "msg/s", r[f"labelsonly/{n}"], "raw imapclient FETCH BODY.PEEK[]",
                          r[f"fetch/{n}"], "— (shows what drafting costs)", None))
    peaks = [max(r[f"memory/{n}"]) for n in SIZES if n >= 5000]
    for n in (n for n in SIZES if n >= 5000):
        figures.append(Figure(f"peak memory, {n:,} backfill", "MB", r[f"memory/{n}"], "—", [],
                              "≤ 200 MB, flat", max(r[f"memory/{n}"]) <= 200
                              and max(peaks) <= 1.2 * min(peaks)))
    return figures


# -- report ----------------------------------------------------------------------------
def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}; load average at the end {load}")


def report(figures: list[Figure], notes: list[str], seconds: float) -> str:
    lines = ["# Benchmarks", "", "Written by `make bench` (bench/bench.py); do not edit by hand.", "",
             f"- Machine: {machine()}",
             f"- Run: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {seconds:.0f} s in all; "
             f"every figure on one core (`taskset -c 0`), min / median / max over the repeats "
             f"({REPEATS} for classification and polls; backfills {BACKFILL_REPEATS}).",
             "- In-process figures load the model as the runner does (`load_predictor`: the compact "
             "NumPy model, the same probabilities as the scikit-learn pipeline).",
             "- The machine is shared: wall-clock figures move with its load; compare a figure "
             "with its comparison from the same run, not across runs.", "",
             "| figure | triage (min / median / max) | comparison | comparison (min / median / max) "
             "| ratio | goal | met |", "|---|---|---|---|---|---|---|"]
    for f in figures:
        met = {True: "yes", False: "**no**", None: "—"}[f.met]
        theirs = spread(f.comparison, f.unit) if f.comparison else "—"
        lines.append(f"| {f.name} | {spread(f.ours, f.unit)} {f.unit} | {f.comparison_name} | "
                     f"{theirs} | {ratio(f)} | {f.goal} | {met} |")
    lines += ["", "Labels on the ordinary mail sets (neither tool was trained on them):", ""]
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def main() -> None:
    started = time.perf_counter()
    # as `pip install` leaves it: byte-compiled, even where PYTHONDONTWRITEBYTECODE is set
    # (else every measured process compiles triage's sources: 50 ms a poll)
    compileall.compile_dir(str(ROOT / "triage"), quiet=1)
    with tempfile.TemporaryDirectory(prefix="triage-bench-") as work:
        figures, notes = classification_figures(Path(work))
    figures = imap_figures() + figures
    text = report(figures, notes, time.perf_counter() - started)
    (ROOT / "BENCHMARKS.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
