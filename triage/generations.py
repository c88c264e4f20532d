"""Older models kept for `triage train --rollback`: previous/, previous-2/, previous-3/.

Before a model is replaced, the kept generations move down one (the oldest is dropped) and
training copies the current model into previous/; a rollback moves them back up.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .classifier import CARD_FILE, MODEL_FILE
from .linear import COMPACT_FILE

PREVIOUS = "previous"
GENERATIONS = 3


class RollbackError(RuntimeError):
    """Raised when there is no older model to go back to."""


def generation_dirs(model_dir: Path) -> list[Path]:
    """Where older models are kept, newest first: previous/, previous-2/, …"""
    return [model_dir / PREVIOUS] + [model_dir / f"{PREVIOUS}-{n}" for n in range(2, GENERATIONS + 1)]


def shift_generations(model_dir: Path) -> None:
    """Make room in previous/ for the model about to be replaced; the oldest is dropped."""
    if not (model_dir / MODEL_FILE).exists():
        return
    dirs = generation_dirs(model_dir)
    shutil.rmtree(dirs[-1], ignore_errors=True)
    for newer, older in zip(reversed(dirs[:-1]), reversed(dirs[1:])):
        if newer.exists():
            newer.rename(older)


def rollback(model_dir: Path) -> None:
    """Restore the previous model; older generations move up one; the replaced model is kept
    in rolled-back/ (so one rollback can be undone by copying it back)."""
    dirs = generation_dirs(model_dir)
    if not (dirs[0] / MODEL_FILE).exists():
        raise RollbackError(f"no previous model in {dirs[0]} to roll back to")
    undo = model_dir / "rolled-back"
    shutil.rmtree(undo, ignore_errors=True)
    undo.mkdir(mode=0o700)
    for name in MODEL_NAMES:
        if (model_dir / name).exists():
            shutil.move(model_dir / name, undo / name)
        if (dirs[0] / name).exists():
            shutil.move(dirs[0] / name, model_dir / name)
    shutil.rmtree(dirs[0])
    for newer, older in zip(dirs, dirs[1:]):
        if older.exists():
            older.rename(newer)


MODEL_NAMES = (MODEL_FILE, COMPACT_FILE, CARD_FILE, "report.md", "confusion.png")
