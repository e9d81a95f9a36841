"""How closely a converted model answers like its original on the same rows.

``compare`` predicts a frame (typed as the original was trained) with both and measures:

- a classifier with probabilities: the largest absolute difference of any probability, and the
  share of rows whose labels agree;
- a regressor: the largest absolute difference of the predictions;
- a classifier without probabilities: the share of rows whose labels agree.

Each model's prediction of the rows is timed once, after a few rows warmed both up; the ratio is
reported (``speedup``), never relied on.

>>> round(_max_abs_diff(np.array([0.2, np.nan]), np.array([0.25, np.nan]), "predict"), 3)
0.05
>>> _max_abs_diff(np.array([0.2, np.nan]), np.array([0.2, 0.5]), "predict")  # missing on one side
inf
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from keel.domain.entities import ModelVersion
from keel.errors import InvalidInput, KeelError, ModelFailed
from keel.registry.flavours.onnx import OnnxModel

__all__ = ["Agreement", "compare", "max_abs_difference"]

#: rows predicted once before timing, so neither model's first-call set-up is timed
_WARM_UP = 8


@dataclass(frozen=True)
class Agreement:
    """How closely a converted model answers like the original on some rows.

    ``compared`` is ``"probabilities"``, ``"predictions"`` (a regressor) or ``"labels"`` (a
    classifier without probabilities); ``max_abs_diff`` is None for labels only;
    ``label_agreement`` is None for a regressor. The seconds are one timing of each model."""

    compared: str
    rows: int
    max_abs_diff: float | None
    label_agreement: float | None
    original_seconds: float
    onnx_seconds: float

    @property
    def speedup(self) -> float | None:
        """How many times faster the converted model predicted these rows (one timing)."""
        if self.onnx_seconds <= 0 or self.original_seconds <= 0:
            return None
        return self.original_seconds / self.onnx_seconds

    def within(self, tolerance: float) -> bool:
        if self.max_abs_diff is None:
            return self.label_agreement == 1.0
        return self.max_abs_diff <= tolerance


def compare(
    original: Any,
    converted: OnnxModel,
    frame: pd.DataFrame,
    *,
    source: ModelVersion | None = None,
) -> Agreement:
    """Predict ``frame`` (typed as the original was trained) with both models and measure how
    far apart they are. What the original raises becomes ModelFailed when ``source`` names it."""
    probabilities = callable(getattr(original, "predict_proba", None)) and converted.is_classifier
    classifier = getattr(original, "classes_", None) is not None
    method = "predict_proba" if probabilities else "predict"
    ours = _guarded(getattr(original, method), source)
    theirs = _converted(getattr(converted, method))
    warm = frame.iloc[:_WARM_UP]
    ours(warm)
    theirs(warm)
    expected, original_seconds = _timed(ours, frame)
    got, onnx_seconds = _timed(theirs, frame)
    if probabilities or not classifier:
        difference: float | None = _max_abs_diff(expected, got, method)
    else:
        difference = None
    agreement = None
    if classifier:
        labels = _guarded(original.predict, source)(frame) if probabilities else expected
        onnx_labels = _converted(converted.predict)(frame) if probabilities else got
        agreement = _agreement(labels, onnx_labels)
    compared = "probabilities" if probabilities else ("labels" if classifier else "predictions")
    return Agreement(compared, len(frame), difference, agreement, original_seconds, onnx_seconds)


def _timed(predict: Callable[[pd.DataFrame], Any], frame: pd.DataFrame) -> tuple[Any, float]:
    started = time.perf_counter()
    result = predict(frame)
    return result, time.perf_counter() - started


def _guarded(
    predict: Callable[[pd.DataFrame], Any], source: ModelVersion | None
) -> Callable[[pd.DataFrame], Any]:
    def run(frame: pd.DataFrame) -> Any:
        try:
            return predict(frame)
        except KeelError:
            raise
        except Exception as exc:
            if source is None:
                raise
            raise ModelFailed(
                source.name,
                source.version,
                exc,
                during="predicting its training snapshot to check an ONNX conversion",
            ) from exc

    return run


def _converted(predict: Callable[[pd.DataFrame], Any]) -> Callable[[pd.DataFrame], Any]:
    def run(frame: pd.DataFrame) -> Any:
        try:
            return predict(frame)
        except KeelError:
            raise
        except Exception as exc:  # onnxruntime's errors on the rows
            detail = str(exc)[:300]
            raise InvalidInput(
                "model",
                "the converted graph fails on rows of the training snapshot the original "
                f"answers ({type(exc).__name__}: {detail}); nothing was registered",
            ) from exc

    return run


def _max_abs_diff(expected: Any, got: Any, method: str) -> float:
    """The largest absolute difference; a value missing on one side only counts as infinite."""
    a = np.asarray(expected, dtype=np.float64)
    b = np.asarray(got, dtype=np.float64)
    if a.size != b.size:
        raise InvalidInput(
            "model",
            f"the converted graph's {method} has shape {b.shape}, the original's {a.shape}",
        )
    return max_abs_difference(a, b.reshape(a.shape))


def max_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
    """The largest absolute difference of two float arrays of one shape: NaN on both sides is
    equal, NaN on one side only is infinitely far (0 for empty arrays)."""
    if a.size == 0:
        return 0.0
    with np.errstate(invalid="ignore"):
        difference = np.abs(a - b)
    difference[np.isnan(a) & np.isnan(b)] = 0.0
    difference[np.isnan(difference)] = np.inf
    return float(difference.max())


def _agreement(expected: Any, got: Any) -> float:
    a = np.asarray(expected, dtype=object).ravel()
    b = np.asarray(got, dtype=object).ravel()
    if a.size != b.size:
        raise InvalidInput("model", f"the converted graph gives {b.size} labels for {a.size} rows")
    if a.size == 0:
        return 1.0
    return float(np.mean(a == b))
