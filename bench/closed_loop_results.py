"""The replay of ``bench/closed_loop.py``: test-then-train over one stream's windows, its results
and the two trivial baselines.

A strategy's run is a ``StrategyResult``: the accuracy on every window and the windows after
which a new model was trained (it serves from the next window on). ``Replay`` runs a rule that
sees each window's outcome (``WindowOutcome``) and says whether to retrain after it; models and
their predictions are cached by training rows, so every strategy that retrains after window
``w`` gets the same model, fitted once.

The plain setup (the issue's): a retrain after window ``w`` fits
``HistGradientBoostingClassifier(random_state=0)`` on the last ``HISTORY_WINDOWS`` (10) windows'
worth of labelled rows ending with window ``w`` (the initial training rows fill the rest while
fewer windows exist), every row weighing the same. A retrain after the last window would serve
nothing and is neither made nor counted.

The baselines: ``majority`` predicts the majority class of the initial training rows, always;
``persistence`` predicts each row as the previous row's label (the first scored row gets the last
training label).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from closed_loop_data import Dataset

if TYPE_CHECKING:
    import numpy as np

HISTORY_WINDOWS = 10


def log(message: str) -> None:
    print(f"[closed_loop] {message}", file=sys.stderr, flush=True)


def rounded(value: Any, digits: int = 4) -> Any:
    """Floats rounded to 4 decimals, through dicts and lists (for the JSON line); 6 under a
    ``targets`` key, so a margin of a few thousandths of a point does not read as 0."""
    if isinstance(value, dict):
        return {k: rounded(v, 6 if k == "targets" else digits) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, digits) for v in value]
    return round(value, digits) if isinstance(value, float) else value


@dataclass(frozen=True)
class StrategyResult:
    """One strategy's replay of one stream.

    ``window_accuracy[i]`` is the accuracy on ``dataset.windows[i]``; ``retrained_after`` the
    windows after which a new model was trained (it served from the next window on).
    """

    name: str
    window_accuracy: list[float]
    retrains: int
    retrained_after: list[int] = field(default_factory=list)
    rejected_after: list[int] = field(default_factory=list)  # retrains whose candidate failed
    details: dict[str, Any] = field(default_factory=dict)  # more figures for the JSON

    @property
    def mean_accuracy(self) -> float:
        """The unweighted mean over windows."""
        return sum(self.window_accuracy) / len(self.window_accuracy)

    def summary(self) -> dict[str, Any]:
        return {"mean_accuracy": self.mean_accuracy, "retrains": self.retrains, **self.details}


@dataclass(frozen=True)
class WindowOutcome:
    """What a retraining rule sees after a window was predicted and its labels arrived."""

    window: int  # index into dataset.windows
    rows: tuple[int, int]  # the window's rows, half-open
    accuracy: float
    predictions: np.ndarray
    labels: np.ndarray
    trained_on: tuple[int, int]  # rows the serving model was trained on, half-open
    model_first_accuracy: float  # the serving model's accuracy on its first window
    is_last: bool  # a retrain requested now is ignored: nothing is left to serve


Policy = Callable[[WindowOutcome], bool]  # True: retrain after this window


class Replay:
    """Test-then-train over one stream's windows, with fits and predictions cached by training
    rows, so strategies that retrain at the same points share models."""

    def __init__(
        self,
        dataset: Dataset,
        history_windows: int = HISTORY_WINDOWS,
        half_life_windows: float | None = None,
    ) -> None:
        """``half_life_windows``: weight training rows by age as ``training.recency_half_life``
        does (None: every row weighs the same, the issue's plain setup)."""
        self.dataset = dataset
        self.history_rows = history_windows * dataset.window_rows
        self.half_life_rows = (
            None if not half_life_windows else round(half_life_windows * dataset.window_rows)
        )
        self._models: dict[tuple[int, int], Any] = {}
        self._predictions: dict[tuple[tuple[int, int], int], np.ndarray] = {}
        self.fits = 0
        self.fit_seconds = 0.0

    @property
    def initial_rows(self) -> tuple[int, int]:
        return (0, self.dataset.initial_rows)

    def training_rows(self, after_window: int) -> tuple[int, int]:
        """The rows a retrain after ``after_window`` trains on: the last ``history_rows``
        labelled rows, initial training rows included while too few windows exist."""
        end = self.dataset.windows[after_window][1]
        return (max(0, end - self.history_rows), end)

    def fit(self, rows: tuple[int, int]) -> Any:
        """A fresh model fitted on ``rows`` (the plain setup; uncached: see ``model``)."""
        from sklearn.ensemble import HistGradientBoostingClassifier

        from keel.controller.retrain_fitting import recency_weights

        start, end = rows
        model = HistGradientBoostingClassifier(random_state=0)
        model.fit(
            self.dataset.features.iloc[start:end],
            self.dataset.target[start:end],
            sample_weight=recency_weights(end - start, self.half_life_rows),
        )
        return model

    def model(self, rows: tuple[int, int]) -> Any:
        """The model trained on ``rows`` (fitted once, then cached)."""
        if rows not in self._models:
            began = time.perf_counter()
            self._models[rows] = self.fit(rows)
            self.fit_seconds += time.perf_counter() - began
            self.fits += 1
        return self._models[rows]

    def predict(self, rows: tuple[int, int], window: int) -> np.ndarray:
        """Predictions on ``window`` of the model trained on ``rows`` (cached)."""
        key = (rows, window)
        if key not in self._predictions:
            features = self.dataset.window_features(window)
            self._predictions[key] = self.model(rows).predict(features)
        return self._predictions[key]

    def accuracy(self, after: int, window: int) -> float:
        """The accuracy on ``window`` of the model retrained after window ``after`` (-1: the
        initial model), whether or not any strategy served it there."""
        rows = self.initial_rows if after < 0 else self.training_rows(after)
        return float((self.predict(rows, window) == self.dataset.window_labels(window)).mean())

    def run(self, name: str, policy: Policy) -> StrategyResult:
        """Replay every window: predict with the serving model, score, show the policy, and
        retrain after the window when it says so (except after the last)."""
        serving = self.initial_rows
        first_accuracy: float | None = None
        accuracies: list[float] = []
        retrained_after: list[int] = []
        last = len(self.dataset.windows) - 1
        for window, rows in enumerate(self.dataset.windows):
            predictions = self.predict(serving, window)
            labels = self.dataset.window_labels(window)
            accuracy = float((predictions == labels).mean())
            if first_accuracy is None:
                first_accuracy = accuracy
            accuracies.append(accuracy)
            outcome = WindowOutcome(
                window, rows, accuracy, predictions, labels, serving, first_accuracy, window == last
            )
            if policy(outcome) and window < last:
                serving = self.training_rows(window)
                retrained_after.append(window)
                first_accuracy = None
        return StrategyResult(name, accuracies, len(retrained_after), retrained_after)


# -- trivial baselines --------------------------------------------------------------------------
def persistence(dataset: Dataset) -> StrategyResult:
    """Each row predicted as the previous row's label."""
    accuracies = []
    for window, (start, end) in enumerate(dataset.windows):
        previous = dataset.target[start - 1 : end - 1]
        accuracies.append(float((previous == dataset.window_labels(window)).mean()))
    return StrategyResult("persistence", accuracies, 0)


def majority_label(dataset: Dataset) -> int:
    import numpy as np

    return int(np.bincount(dataset.target[: dataset.initial_rows]).argmax())


def majority(dataset: Dataset) -> StrategyResult:
    """The majority class of the initial training rows, always."""
    label = majority_label(dataset)
    accuracies = [
        float((dataset.window_labels(window) == label).mean())
        for window in range(len(dataset.windows))
    ]
    return StrategyResult("majority", accuracies, 0)


def margin_points(result: StrategyResult, baseline: StrategyResult) -> float:
    """How many points ``result``'s mean window accuracy is above ``baseline``'s."""
    return (result.mean_accuracy - baseline.mean_accuracy) * 100
