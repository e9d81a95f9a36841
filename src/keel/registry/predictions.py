"""Logging predictions and the labels that arrive later, checked before anything is written.

A logged prediction row holds Keel's columns (``RESERVED``) beside the model's input features
under their own names, so the log reads naturally in pandas or DuckDB. Labels are logged by
request id; ids that match no logged prediction are reported back, never silently dropped.

A row's ``status`` is ``ok`` (answered), ``error`` (the model raised; ``error`` says how) or
``rejected`` (the input policy refused the row before the model saw it; ``error`` gives the
reasons and ``prediction`` is null). ``warnings`` (nullable text) lists the row's values the
model never saw in training as JSON, ``[{"field": "age", "code": "out_of_range"}]``, whether
they were flagged or rejected it; monitoring counts them per feature.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from keel.domain.names import ModelRef, validate_name
from keel.errors import InvalidInput, NotFound
from keel.store.database import Database
from keel.store.prediction_log import LogStore, Part

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from keel.domain.entities import ModelVersion
    from keel.domain.signature import Signature

#: Keel's own columns in the prediction log; a feature may not use these names
RESERVED = (
    "request_id",
    "version",
    "timestamp",
    "prediction",
    "score",
    "latency_ms",
    "cpu_ms",
    "status",
    "error",
    "entity_key",
    "variant",
    "warnings",
    "model",
    "date",
)
STATUSES = ("ok", "error", "rejected")
MAX_UNKNOWN_SHOWN = 100


@dataclass(frozen=True)
class LogReceipt:
    """What was written: the part, how many rows, and their request ids (in input order)."""

    model: str
    version: int
    part: str
    rows: int
    request_ids: list[str] = field(repr=False)


@dataclass(frozen=True)
class LabelReport:
    """Labels written, how many matched a logged prediction, and which ids matched none."""

    model: str
    part: str
    rows: int
    matched: int
    unknown_count: int
    unknown: list[str]
    duplicates: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "part": self.part,
            "rows": self.rows,
            "matched": self.matched,
            "unknown_count": self.unknown_count,
            "unknown": self.unknown,
            "duplicates": self.duplicates,
        }


def _column(values: Any, rows: int, name: str) -> np.ndarray | None:
    if values is None:
        return None
    array = np.asarray(values)
    if array.ndim == 0:
        array = np.full(rows, array.item())
    if array.ndim != 1 or len(array) != rows:
        raise InvalidInput(name, f"needs one value per row ({rows}), got shape {array.shape}")
    return array


def _timestamps(values: Any, rows: int) -> pa.Array:
    import pandas as pd
    import pyarrow as pa

    if values is None:
        from keel.registry.clock import utcnow

        now = pd.Timestamp(utcnow())
        return pa.array(np.full(rows, now.value // 1000, dtype="int64"), pa.timestamp("us", "UTC"))
    try:
        series = pd.Series(values)
        text = series.dtype == object or pd.api.types.is_string_dtype(series.dtype)
        mixed = "mixed" if text else None  # text: each value parsed on its own
        stamps = pd.to_datetime(series, utc=True, format=mixed)
    except (ValueError, TypeError) as exc:
        raise InvalidInput("timestamps", f"not readable as times: {exc}") from exc
    if len(stamps) != rows:
        raise InvalidInput("timestamps", f"needs one value per row ({rows}), got {len(stamps)}")
    if stamps.isna().any():
        raise InvalidInput("timestamps", "holds missing values")
    return pa.array(stamps.dt.as_unit("us"), pa.timestamp("us", "UTC"))


def _numbers(values: Any, rows: int, name: str, *, nullable: bool = True) -> pa.Array | None:
    import pyarrow as pa

    array = _column(values, rows, name)
    if array is None:
        return None
    try:
        numbers = array.astype("float64")
    except (TypeError, ValueError) as exc:
        raise InvalidInput(name, "must hold numbers") from exc
    if np.isinf(numbers).any():
        raise InvalidInput(name, "holds infinite values")
    if not nullable and np.isnan(numbers).any():
        raise InvalidInput(name, "holds missing values")
    if name in ("latency_ms", "cpu_ms") and (numbers < 0).any():
        raise InvalidInput(name, "must not be negative")
    return pa.array(numbers, pa.float64(), from_pandas=True)


def _strings(values: Any, rows: int, name: str) -> pa.Array | None:
    import pyarrow as pa

    array = _column(values, rows, name)
    if array is None:
        return None
    return pa.array([None if v is None else str(v) for v in array.tolist()], pa.string())


def prediction_table(
    frame: pd.DataFrame,
    *,
    version: int,
    predictions: Any = None,
    scores: Any = None,
    request_ids: Any = None,
    timestamps: Any = None,
    latency_ms: Any = None,
    cpu_ms: Any = None,
    status: Any = None,
    errors: Any = None,
    entity_keys: Any = None,
    variant: str | None = None,
    features: list[str] | None = None,
    warnings: Any = None,
) -> pa.Table:
    """Check and assemble one batch of prediction rows. Keel's columns may be given as keyword
    arguments or as columns of ``frame``; the rest of ``frame`` (or ``features``) are inputs."""
    import pandas as pd
    import pyarrow as pa

    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput("data", "must be a pandas DataFrame of input features")
    rows = len(frame)
    if rows == 0:
        raise InvalidInput("data", "nothing to log: no rows")
    given = {
        "prediction": predictions,
        "score": scores,
        "request_id": request_ids,
        "timestamp": timestamps,
        "latency_ms": latency_ms,
        "cpu_ms": cpu_ms,
        "status": status,
        "error": errors,
        "entity_key": entity_keys,
        "warnings": warnings,
    }
    for name in given:
        if given[name] is None and name in frame.columns:
            given[name] = frame[name].to_numpy()
    inputs = features if features is not None else [str(c) for c in frame.columns]
    inputs = [c for c in inputs if c not in given or features is not None]
    clashes = [c for c in inputs if c in RESERVED]
    if clashes:
        raise InvalidInput(
            "data", f"feature names {clashes} are reserved for Keel's log columns; rename them"
        )
    missing = [c for c in inputs if c not in frame.columns]
    if missing:
        raise InvalidInput("data", f"missing feature columns {missing}")
    if given["prediction"] is None:
        raise InvalidInput("predictions", "required: the model's answer for every row")
    ids = _strings(given["request_id"], rows, "request_ids")
    if ids is None:
        ids = pa.array([uuid.uuid4().hex for _ in range(rows)], pa.string())
    elif ids.null_count:
        raise InvalidInput("request_ids", "holds missing values")
    state = _strings(given["status"], rows, "status")
    if state is None:
        state = pa.array(["ok"] * rows, pa.string())
    elif bad := sorted({s for s in state.to_pylist() if s not in STATUSES}, key=str):
        raise InvalidInput("status", f"unknown values {bad[:5]}; use {', '.join(STATUSES)}")
    prediction = pa.array(_column(given["prediction"], rows, "predictions"), from_pandas=True)
    columns: dict[str, pa.Array] = {
        "request_id": ids,
        "version": pa.array(np.full(rows, version, dtype="int32")),
        "timestamp": _timestamps(given["timestamp"], rows),
        "prediction": prediction,
        "score": _numbers(given["score"], rows, "scores")
        if given["score"] is not None
        else pa.nulls(rows, pa.float64()),
        "latency_ms": _numbers(given["latency_ms"], rows, "latency_ms")
        if given["latency_ms"] is not None
        else pa.nulls(rows, pa.float64()),
        "cpu_ms": _numbers(given["cpu_ms"], rows, "cpu_ms")
        if given["cpu_ms"] is not None
        else pa.nulls(rows, pa.float64()),
        "status": state,
        "error": _strings(given["error"], rows, "errors") or pa.nulls(rows, pa.string()),
        "entity_key": _strings(given["entity_key"], rows, "entity_keys")
        or pa.nulls(rows, pa.string()),
        "variant": pa.array([variant] * rows, pa.string()),
        "warnings": _strings(given["warnings"], rows, "warnings") or pa.nulls(rows, pa.string()),
    }
    try:
        table = pa.Table.from_pandas(frame[inputs], preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidInput("data", f"a feature column cannot be stored: {exc}") from exc
    for name, array in columns.items():
        table = table.append_column(name, array)
    return table


def resolve_version(db: Database, model: str, version: int | str | None) -> ModelVersion:
    """The version rows are logged for: a number, an alias, or the champion by default."""
    from keel.registry import models

    validate_name(model, "model")
    if version is None:
        version = "champion"
    ref = (
        ModelRef(model, version=int(version))
        if isinstance(version, int) or str(version).isdigit()
        else ModelRef(model, alias=str(version))
    )
    try:
        return models.resolve(db, ref)
    except NotFound as exc:
        if ref.alias == "champion" and exc.kind != "model":
            raise InvalidInput(
                "version", f"{model} has no champion; pass version=N for the serving version"
            ) from exc
        raise


def logged_features(signature: Signature | None, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as the log can keep it next to earlier batches: every input of the version's
    signature present, and numeric inputs numeric (numbers written as text are converted).

    Production data may drift, so values outside the training range, unseen categories and
    missing values are logged as they are; what is refused is what would break the log itself
    (one batch of text in a numeric column makes every later read of the log fail)."""
    import pandas as pd

    if signature is None or not isinstance(frame, pd.DataFrame):
        return frame
    inputs = signature.inputs
    missing = [spec.name for spec in inputs if spec.name not in frame.columns]
    if missing:
        raise InvalidInput(
            f"data.{missing[0]}",
            f"missing: the version's signature has {', '.join(missing)}, the batch does not",
        )
    converted: dict[str, Any] = {}
    for spec in inputs:
        column = frame[spec.name]
        if spec.kind not in ("number", "integer") or pd.api.types.is_numeric_dtype(column.dtype):
            continue
        numbers = pd.to_numeric(column, errors="coerce")
        wrong = numbers.isna() & column.notna()
        if wrong.any():
            examples = column[wrong].astype(str).head(3).tolist()
            raise InvalidInput(
                f"data.{spec.name}",
                f"expected {spec.kind} values, got {', '.join(repr(e) for e in examples)}",
            )
        converted[spec.name] = numbers
    return frame.assign(**converted) if converted else frame


def log_predictions(logs: LogStore, model: str, version: int, table: pa.Table) -> LogReceipt:
    part = logs.append("predictions", model, table)
    return LogReceipt(
        model, version, part.name, table.num_rows, table.column("request_id").to_pylist()
    )


def logged_request_ids(logs: LogStore, model: str) -> pa.Array:
    """Every request id in ``model``'s prediction log (one column read per part)."""
    import pyarrow as pa

    chunks = [logs.read(p, ["request_id"]).column(0) for p in logs.parts("predictions", model)]
    if not chunks:
        return pa.array([], pa.string())
    return pa.chunked_array(chunks).combine_chunks()


def log_labels(
    logs: LogStore, model: str, request_ids: Any, labels: Any, *, timestamps: Any = None
) -> LabelReport:
    """Append labels (ground truth) for logged predictions; report ids that match none."""
    import pyarrow as pa
    import pyarrow.compute as pc

    validate_name(model, "model")
    ids_array = np.asarray(request_ids if request_ids is not None else [], dtype=object)
    rows = len(ids_array)
    if rows == 0:
        raise InvalidInput("request_ids", "nothing to log: no labels")
    ids = _strings(ids_array, rows, "request_ids")
    assert ids is not None
    if ids.null_count:
        raise InvalidInput("request_ids", "holds missing values")
    values = _column(labels, rows, "labels")
    label_array = pa.array(values, from_pandas=True)
    if label_array.null_count:
        raise InvalidInput("labels", "holds missing values; log only labels that are known")
    table = pa.table(
        {"request_id": ids, "label": label_array, "labelled_at": _timestamps(timestamps, rows)}
    )
    known = logged_request_ids(logs, model)
    found = pc.is_in(ids, value_set=known)
    unknown = pc.filter(ids, pc.invert(found)).to_pylist()
    duplicates = rows - len(pc.unique(ids))
    part = logs.append("labels", model, table)
    return LabelReport(
        model=model,
        part=part.name,
        rows=rows,
        matched=rows - len(unknown),
        unknown_count=len(unknown),
        unknown=unknown[:MAX_UNKNOWN_SHOWN],
        duplicates=duplicates,
    )


def read_log(logs: LogStore, kind: Any, model: str, parts: list[Part] | None = None) -> pa.Table:
    """Concatenate parts (all by default) into one table, unifying their column types."""
    import pyarrow as pa

    chosen = logs.parts(kind, model) if parts is None else parts
    tables = [logs.read(p) for p in chosen]
    if not tables:
        return pa.table({})
    return pa.concat_tables(tables, promote_options="permissive")
