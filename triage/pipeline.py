"""The estimator definition: scikit-learn parts used to train, and to unpickle a trained model.

Kept apart from `classifier.py` so that commands which never predict (`--version`, a poll
that finds nothing new) never import scikit-learn or SciPy.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer, MaxAbsScaler
from sklearn.svm import LinearSVC

from .classifier import SEED
from .features import Features


def texts(batch: Sequence[Features]) -> list[str]:
    """Column selector: the normalised texts."""
    return [f.text for f in batch]


CHAR_TEXT_CHARS = 1000  # character n-grams read the opening: subject, greeting, first lines


def opening_texts(batch: Sequence[Features]) -> list[str]:
    """Column selector: the first CHAR_TEXT_CHARS of the normalised texts."""
    return [f.text[:CHAR_TEXT_CHARS] for f in batch]


def signal_dicts(batch: Sequence[Features]) -> list[dict[str, float]]:
    """Column selector: the signal dicts."""
    return [f.signals for f in batch]


SIGNAL_WEIGHT = 0.1  # signals at full scale drown the text: 0.90 vs 0.97 held-out macro-F1
# Referral phrasing (multilingual lexicon) weighs more: it carries over to languages the corpus
# has little of. Measured: weight 0.6 → held-out 0.959 / independent 0.978 macro-F1, against
# 0.952 / 0.969 at the default 0.1 (flat from 0.4 to 1.0). Raising `asks_recipient` as well
# hurt badly (0.89): invitations to speak or join a board ask the recipient too.
SIGNAL_WEIGHTS = {"referral_phrases": 0.6}


class Signals(BaseEstimator, TransformerMixin):
    """Signal dicts → columns scaled to [0, 1] (by their training maximum), then weighted."""

    def __init__(self, weights: dict[str, float] | None = None, default: float = SIGNAL_WEIGHT) -> None:
        self.weights = weights
        self.default = default

    def fit(self, batch: Sequence[Features], y: Any = None) -> Signals:
        self.vector_ = DictVectorizer().fit(signal_dicts(batch))
        self.scale_ = MaxAbsScaler().fit(self.vector_.transform(signal_dicts(batch)))
        weights = self.weights or {}
        self.column_weights_ = np.array([weights.get(name, self.default)
                                         for name in self.vector_.get_feature_names_out()])
        return self

    def transform(self, batch: Sequence[Features]) -> Any:
        scaled = self.scale_.transform(self.vector_.transform(signal_dicts(batch)))
        return scaled.multiply(self.column_weights_).tocsr()

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return self.vector_.get_feature_names_out()


def build_pipeline(c: float = 5.0) -> Pipeline:
    """Word TF-IDF, damped signals and character n-grams → a linear SVM with sigmoid (Platt)
    calibration.

    Measured on the same split (1,164 training messages): the SVM scored held-out macro-F1
    0.960 and independent 0.976, against 0.946 and 0.964 for logistic regression, and fits
    three times faster; scores are flat for C between 3 and 10. Character 3- and 4-grams
    within words, over the opening 1,000 characters, carry across languages and inflections
    that the word vocabulary never saw: on the 1,895-message corpus (41 languages' worth of
    mail, 5-fold out-of-fold) macro-F1 0.933 → 0.947, Polish 0.77 → 0.88, Dutch 0.82 → 0.95,
    Turkish 0.87 → 0.93; they cost about 0.4 ms a message to predict.
    """
    features = FeatureUnion([
        ("words", Pipeline([
            ("select", FunctionTransformer(texts)),
            ("tfidf", TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_df=0.9, sublinear_tf=True,
                                      max_features=40_000, strip_accents="unicode")),
        ])),
        ("signals", Signals(SIGNAL_WEIGHTS)),
        ("chars", Pipeline([
            ("select", FunctionTransformer(opening_texts)),
            ("tfidf", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 4), min_df=3, max_df=0.9,
                                      sublinear_tf=True, max_features=30_000)),
        ])),
    ])
    classifier = LinearSVC(C=c, class_weight="balanced", max_iter=5000, random_state=SEED)
    calibrated = CalibratedClassifierCV(classifier, method="sigmoid", cv=5)
    return Pipeline([("features", features), ("classify", calibrated)])


