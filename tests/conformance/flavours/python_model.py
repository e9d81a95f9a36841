"""Custom Python: a hand-written scorecard class with ``fit``, ``predict`` and ``predict_proba``,
kept with cloudpickle, which runs code when it loads: registered with ``trust="code"``.

The class is pickled by value (``cloudpickle.register_pickle_by_value``), as a user's notebook
class would be, so the server and the retrain load it without importing this test package.
"""

from __future__ import annotations

import sys
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from tests.conformance.flavour_case import FlavourCase, Trained, fit_frame
from tests.conformance.tables import Table


class ScoreCard(ClassifierMixin, BaseEstimator):
    """Log-odds points per category level and per standardised number (a logistic regression on
    a design matrix this class builds itself); a level never seen scores no points."""

    def __init__(self, C: float = 1.0) -> None:
        self.C = C

    def _design(self, frame: pd.DataFrame) -> np.ndarray:
        parts = []
        for column, levels in self.levels_.items():
            codes = pd.Categorical(frame[column].astype(object), categories=levels).codes
            parts.append((codes[:, None] == np.arange(len(levels))[None, :]).astype(float))
        numbers = frame[self.numeric_].to_numpy(dtype="float64")
        parts.append((numbers - self.mean_) / self.scale_)
        return np.hstack(parts)

    def fit(self, frame: pd.DataFrame, y: Any) -> ScoreCard:
        from sklearn.linear_model import LogisticRegression

        self.levels_ = {
            c: list(frame[c].cat.categories)
            for c in frame.columns
            if isinstance(frame[c].dtype, pd.CategoricalDtype)
        }
        self.numeric_ = [c for c in frame.columns if c not in self.levels_]
        numbers = frame[self.numeric_].to_numpy(dtype="float64")
        self.mean_ = numbers.mean(axis=0)
        self.scale_ = np.where(numbers.std(axis=0) > 0, numbers.std(axis=0), 1.0)
        self.points_ = LogisticRegression(C=self.C, max_iter=2000).fit(self._design(frame), y)
        self.classes_ = self.points_.classes_
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.points_.predict_proba(self._design(frame)))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.classes_[self.predict_proba(frame).argmax(axis=1)])


cloudpickle.register_pickle_by_value(sys.modules[__name__])


def train(table: Table) -> Trained:
    return Trained(ScoreCard().fit(*fit_frame(table)))


CASE = FlavourCase("python", flavour="python", native_class="ScoreCard", train=train, trust="code")
