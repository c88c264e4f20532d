"""Model and training errors, in a module of their own so that the command line can catch them
without importing the classifier or the trainer (a poll never loads either)."""

from __future__ import annotations


class ModelError(RuntimeError):
    """Raised when the model is missing, unreadable or made by another scikit-learn."""


class TrainingError(RuntimeError):
    """Raised when the corpus is unusable or a better model would be replaced without --force."""
