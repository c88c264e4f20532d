"""Where triage finds its model and training corpus, installed or in a checkout.

The shipped model and corpus are package data (`triage/models/`, `triage/training_data/` in
an installed wheel, mapped from the repository's top-level `models/` and `training_data/`).
`triage train` writes the user's own model (shipped corpus plus their corrections) to the
platform's user data folder, and every command prefers it to the shipped one.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import platformdirs

APP = "triage"
MODEL_FILE = "model.joblib"
CARD_FILE = "model_card.json"
CHECKOUT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ModelChoice:
    """The model folder a command uses, and why (for doctor and train)."""

    directory: Path
    reason: str


def user_model_dir() -> Path:
    """The user's own model: `~/.local/share/triage/models` on Linux."""
    return Path(platformdirs.user_data_dir(APP)) / "models"


def shipped_model_dir() -> Path:
    """The model that comes with triage (package data; `models/` in a checkout)."""
    return _packaged("models")


def shipped_corpus_dir() -> Path:
    """The training corpus that comes with triage (`training_data/` in a checkout)."""
    return _packaged("training_data")


def shipped_eval_dir() -> Path | None:
    """The independent evaluation set; only in a checkout."""
    path = CHECKOUT / "eval_data"
    return path if path.is_dir() else None


def has_model(directory: Path) -> bool:
    return (directory / MODEL_FILE).exists() and (directory / CARD_FILE).exists()


def choose_model(configured: Path | None = None, given: Path | None = None) -> ModelChoice:
    """`--models DIR`, else `[paths] models` of the config, else the user's model, else shipped."""
    if given is not None:
        return ModelChoice(given, "given with --models")
    if configured is not None:
        return ModelChoice(configured, "set by [paths] models in the config")
    mine = user_model_dir()
    if has_model(mine):
        return ModelChoice(mine, "your model, made by `triage train`; it is preferred to the "
                                 "shipped one")
    return ModelChoice(shipped_model_dir(), f"the shipped model: there is no model of yours in "
                                            f"{mine} (`triage train` makes one, with your "
                                            "corrections)")


def _packaged(name: str) -> Path:
    """`triage/<name>` in an installed package, else `<name>/` at the top of the checkout."""
    packaged = Path(str(resources.files(APP).joinpath(name)))
    return packaged if packaged.is_dir() else CHECKOUT / name
