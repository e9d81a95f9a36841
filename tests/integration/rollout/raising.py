"""Models whose own code raises, for the tests of what the controller does with them.

Importable (not defined inside a test), so cloudpickle saves the class by reference and a
loaded copy is this same class.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

Mode = Literal["some", "every", "large"]


class Raising:
    """A fitted classifier wrapped so that it raises RuntimeError: on batches holding any of
    the rows picked by ``_picked`` (``some``: about 30% of rows, chosen by their values, so the
    same row always fails), on every row (``every``), or on batches over ``batch`` rows only
    (``large``: one request at a time it answers, as a server would call it)."""

    def __init__(self, model: Any, mode: Mode, batch: int = 64) -> None:
        self.model = model
        self.mode = mode
        self.batch = batch
        self.classes_ = model.classes_
        self.feature_names_in_ = model.feature_names_in_

    @staticmethod
    def _picked(frame: pd.DataFrame) -> np.ndarray:
        first = frame.iloc[:, 0].to_numpy(dtype="float64")
        return (np.round(first * 100) % 10) < 3

    def fails_on(self, frame: pd.DataFrame) -> np.ndarray:
        """Which rows fail when each is scored on its own."""
        if self.mode == "every":
            return np.ones(len(frame), dtype=bool)
        if self.mode == "large":
            return np.zeros(len(frame), dtype=bool)
        return self._picked(frame)

    def _check(self, frame: pd.DataFrame) -> None:
        if self.mode == "every":
            raise RuntimeError("the model crashed on every row")
        if self.mode == "large" and len(frame) > self.batch:
            raise RuntimeError(f"a batch of {len(frame)} rows is more than {self.batch}")
        if self.mode == "some" and bool(self._picked(frame).any()):
            raise RuntimeError(f"cannot score {int(self._picked(frame).sum())} of the rows")

    def predict(self, frame: pd.DataFrame) -> Any:
        self._check(frame)
        return self.model.predict(frame)

    def predict_proba(self, frame: pd.DataFrame) -> Any:
        self._check(frame)
        return self.model.predict_proba(frame)
