"""One loaded version as serving calls it: a batch of checked rows in, predictions and scores out.

scikit-learn's input checks cost far more than a small model's arithmetic, and on a DataFrame
they cost most of all (about 0.8 ms per call for 30 columns, against 0.1 ms on an array and a few
microseconds of arithmetic). So a scikit-learn estimator whose features are all numeric is called
with one float64 array per *batch*, its columns already in training order and its values already
checked (``assume_finite`` skips the repeated finiteness scan when there are no missing values).
An estimator fitted on a DataFrame warns that an array has no feature names; the server silences
exactly that warning once at start-up (``quiet_feature_name_warning``), since the order is ours.
Everything else (categorical features, pipelines selecting columns by name, any non-scikit-learn
model) gets one DataFrame per batch, built by ``keel.registry.frames.frame_from_rows`` with the
training dtypes (pandas categories in their training order, ints, booleans, timestamps), so a
LightGBM or XGBoost model trained on ``category`` columns gets what it was trained on; and if the
array call fails the version switches to DataFrames for good, so a pipeline that needs names
still serves.

Scores: for a binary classifier the probability of ``classes_[1]``, for several classes the top
class's probability; regressors have none.
"""

from __future__ import annotations

import logging
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from keel.registry.frames import frame_from_rows
from keel.registry.loaded import LoadedModel
from keel.registry.predictions import RESERVED
from keel.serving.inputs import InputSchema, ParsedRequest, records_of

log = logging.getLogger("keel.serving")

#: the warning scikit-learn gives when an estimator fitted on a DataFrame gets an array
FEATURE_NAME_WARNING = "X does not have valid feature names"


def quiet_feature_name_warning() -> None:
    """Silence scikit-learn's feature-name warning for the arrays serving builds (process-wide:
    ``warnings.catch_warnings`` per call is not thread-safe)."""
    warnings.filterwarnings("ignore", message=FEATURE_NAME_WARNING, category=UserWarning)


@dataclass(frozen=True)
class Scored:
    """A batch's answers, one per row; ``scores`` is None when the model has no probabilities."""

    predictions: list[Any]
    scores: list[float] | None


class ServedModel:
    """A version ready to score batches: its signature compiled, its calling convention chosen."""

    def __init__(self, loaded: LoadedModel, *, check_ranges: bool = True) -> None:
        self.loaded = loaded
        self.native = loaded.model
        self.model_name = loaded.version.name
        self.version = loaded.version.version
        self.sha256 = loaded.version.artifact_sha256
        signature = loaded.signature
        self.schema = InputSchema(signature, check_ranges=check_ranges) if signature else None
        self.feature_names = self.schema.names if self.schema else None
        module = type(self.native).__module__.split(".")[0]
        self._arrays = self.schema is not None and self.schema.numeric and module == "sklearn"
        #: a model that takes plain columns (an ONNX graph builds its tensors from them) is
        #: given them without a DataFrame in between
        self._columns = self.schema is not None and bool(
            getattr(self.native, "takes_columns", False)
        )
        self._proba = callable(getattr(self.native, "predict_proba", None))
        classes = getattr(self.native, "classes_", None)
        self._binary = self._proba and classes is not None and len(classes) == 2
        self._switch = threading.Lock()
        #: the Arrow type of the prediction and of each logged feature, so every part of the
        #: log has one schema whatever its rows (``keel.serving.logging.log_table``)
        self.log_types = _log_types(self.native, self.schema.specs if self.schema else ())

    def __repr__(self) -> str:
        return f"ServedModel({self.model_name}/{self.version})"

    @property
    def input_kind(self) -> str:
        """How batches reach the model: ``array`` (one float64 array) or ``frame``."""
        return "array" if self._arrays else "columns" if self._columns else "frame"

    def rows(self, parsed: ParsedRequest) -> list[Any]:
        """The request's rows checked and ordered for this version (SignatureMismatch if not);
        without a signature, the records as sent."""
        if self.schema is None:
            return list(records_of(parsed))
        return self.schema.rows(parsed, model=f"{self.model_name}/{self.version}")

    def log_columns(self, rows: list[Any]) -> dict[str, Any]:
        """The input features of a batch, column by column, as the prediction log stores them."""
        if self.schema is None:
            names: list[str] = []
            for record in rows:
                names.extend(k for k in record if k not in names)
            return {_log_name(n): [record.get(n) for record in rows] for n in names}
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(self.schema.specs)
        return {
            _log_name(spec.name): _typed(spec.kind, list(values))
            for spec, values in zip(self.schema.specs, columns, strict=True)
        }

    def score(self, rows: list[Any]) -> Scored:
        """Predict one batch (rows from ``rows``); raises whatever the model raises."""
        if self._arrays:
            matrix = np.array(rows, dtype=np.float64)
            try:
                return self._call(matrix, finite=not np.isnan(matrix).any())
            except Exception as exc:
                with self._switch:
                    if self._arrays:
                        log.warning(
                            "%s/%s refused an array (%s); calling it with DataFrames from now on",
                            self.model_name,
                            self.version,
                            exc,
                        )
                        self._arrays = False
        if self._columns:
            assert self.feature_names is not None
            values = list(zip(*rows, strict=True)) if rows else [()] * len(self.feature_names)
            return self._call(dict(zip(self.feature_names, values, strict=True)), finite=False)
        return self._call(self._frame(rows), finite=False)

    def _frame(self, rows: list[Any]) -> Any:
        """The batch as the model was trained on it: rows in signature order, typed."""
        import pandas as pd

        signature = self.loaded.input_signature
        if signature is None:
            return pd.DataFrame.from_records(rows)
        return frame_from_rows(signature, rows)

    def _call(self, features: Any, *, finite: bool) -> Scored:
        import sklearn

        both = getattr(self.native, "predict_and_proba", None)  # one run for both (ONNX)
        with sklearn.config_context(assume_finite=finite):
            if both is not None:
                labels, probabilities = both(features)
                predictions = np.asarray(labels)
                proba = np.asarray(probabilities) if probabilities is not None else None
            else:
                predictions = np.asarray(self.native.predict(features))
                proba = np.asarray(self.native.predict_proba(features)) if self._proba else None
        scores = None
        if proba is not None and proba.ndim == 2 and len(proba):
            chosen = proba[:, 1] if self._binary else proba.max(axis=1)
            scores = chosen.astype(np.float64).tolist()
        if predictions.ndim > 1:
            predictions = predictions.reshape(len(predictions), -1)
        return Scored(predictions.tolist(), scores)


def _log_types(native: Any, specs: Any) -> dict[str, str]:
    types = {_log_name(spec.name): _FEATURE_TYPES.get(spec.kind, "string") for spec in specs}
    prediction = _prediction_type(native)
    if prediction is not None:
        types["prediction"] = prediction
    return types


#: the Arrow type each feature kind is logged as (``_typed`` gives the values)
_FEATURE_TYPES = {"number": "float64", "integer": "int64", "boolean": "bool"}


def _prediction_type(native: Any) -> str | None:
    """The prediction's Arrow type: the class labels' type for a classifier, a float for a
    model without classes that gives no probabilities (a regressor); None when unknown."""
    classes = getattr(native, "classes_", None)
    if classes is None:
        return None if callable(getattr(native, "predict_proba", None)) else "float64"
    labels = np.asarray(classes)
    if labels.ndim != 1:
        return None
    if labels.dtype.kind in "iu":
        return "int64"
    if labels.dtype.kind == "b":
        return "bool"
    if labels.dtype.kind == "f":
        return "float64"
    if labels.dtype.kind in "US" or all(isinstance(c, str) for c in labels.tolist()):
        return "string"
    return None


def _log_name(name: str) -> str:
    """An input named like one of Keel's log columns is logged as ``input.<name>``."""
    return f"input.{name}" if name in RESERVED else name


def _typed(kind: str, values: list[Any]) -> Any:
    """Stable log types per kind, so every part of a model's log has the same schema."""
    if kind == "number":
        return np.array(values, dtype=np.float64)
    if kind == "integer" and None not in values:
        return np.array(values, dtype=np.float64).astype(np.int64)
    if kind in ("category", "datetime", "other"):
        return [None if v is None else str(v) for v in values]
    return values
