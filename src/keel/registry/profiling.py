"""Column profiles of a data snapshot: the bounded summary later drift checks compare against.

Numbers keep min/max/mean/std, quantiles and a 20-bin histogram (one bin when the range is too
narrow for float64 to split, e.g. a constant column of 1e18); categories keep their shares
(all of them up to ``MAX_CATEGORIES``, then the most frequent). The profile's size does not grow
with the number of rows.

Each column also keeps its logical type (``column_type``), and a pandas ``category`` column its
categories in the dtype's order (``order``, however many: the dtype holds them anyway) and
whether they are ``ordered``, so a signature built from the profile alone rebuilds the same
categorical dtype the model was trained on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
MAX_CATEGORIES = 200
TOP_CATEGORIES = 20
HISTOGRAM_BINS = 20


def column_kind(series: pd.Series) -> str:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype):
        return "category"
    if pd.api.types.is_object_dtype(dtype):
        return "category"
    return "other"


def column_type(series: pd.Series) -> str:
    """The logical type of a column (see ``keel.domain.signature.TYPES``): what a model given
    this column must get back. An object column is ``string`` only when it holds only text."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    kind = column_kind(series)
    if kind == "category":
        if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
            return "string"
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        return "string" if inferred in ("string", "empty") else "other"
    return {"number": "float", "integer": "int", "boolean": "bool", "datetime": "datetime"}.get(
        kind, "other"
    )


def json_value(value: Any) -> Any:
    """A category as JSON keeps it: numbers, text and booleans as they are, anything else as
    text."""
    if isinstance(value, str):
        return str(value)
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool | int | float):
        return value
    return str(value)


def category_order(series: pd.Series) -> list[Any]:
    """The categories of a ``category`` column in the dtype's order, as JSON values."""
    return [json_value(c) for c in series.cat.categories.tolist()]


def _numeric_profile(values: pd.Series) -> dict[str, Any]:
    data = values.dropna().to_numpy(dtype="float64")
    data = data[np.isfinite(data)]
    if data.size == 0:
        return {"count": 0}
    with np.errstate(over="ignore", invalid="ignore"):
        return _numeric_summary(data)


def _number(value: float) -> float | None:
    """Sums of huge values overflow float64; store None rather than inf, which JSON cannot hold."""
    return float(value) if np.isfinite(value) else None


def _numeric_summary(data: np.ndarray) -> dict[str, Any]:
    qs = np.quantile(data, QUANTILES)
    low, high = float(data.min()), float(data.max())
    try:
        counts, edges = np.histogram(
            data, bins=HISTOGRAM_BINS, range=(low, high if high > low else low + 1)
        )
    except (ValueError, OverflowError):
        # float64 cannot split a range this narrow for its magnitude into equal bins (e.g. a
        # constant column of nanosecond timestamps, where low + 1 == low): keep one bin
        counts, edges = np.array([data.size]), np.array([low, high])
    return {
        "count": int(data.size),
        "min": low,
        "max": high,
        "mean": _number(data.mean()),
        "std": _number(data.std(ddof=1)) if data.size > 1 else 0.0,
        "quantiles": {str(q): _number(v) for q, v in zip(QUANTILES, qs, strict=True)},
        "histogram": {"edges": [_number(e) for e in edges], "counts": [int(c) for c in counts]},
    }


def _category_profile(values: pd.Series) -> dict[str, Any]:
    present = values.dropna().astype(str)
    total = int(present.size)
    counts = present.value_counts(sort=True)
    shares = (counts / total) if total else counts.astype(float)
    complete = len(counts) <= MAX_CATEGORIES
    kept = shares.iloc[:MAX_CATEGORIES]
    return {
        "count": total,
        "n_unique": len(counts),
        "top": [
            {"value": str(k), "share": float(v)} for k, v in shares.iloc[:TOP_CATEGORIES].items()
        ],
        "categories": {str(k): float(v) for k, v in kept.items()},
        "complete": complete,
    }


def profile_column(series: pd.Series) -> dict[str, Any]:
    kind = column_kind(series)
    rows = int(series.size)
    missing = int(series.isna().sum())
    out: dict[str, Any] = {
        "kind": kind,
        "type": column_type(series),
        "dtype": str(series.dtype),
        "missing_share": (missing / rows) if rows else 0.0,
    }
    if kind in ("number", "integer"):
        out.update(_numeric_profile(series))
    elif kind == "boolean":
        present = series.dropna()
        out["count"] = int(present.size)
        out["true_share"] = float(present.mean()) if present.size else None
    elif kind == "category":
        out.update(_category_profile(series))
        if isinstance(series.dtype, pd.CategoricalDtype):
            out["order"] = category_order(series)
            out["ordered"] = bool(series.cat.ordered)
    elif kind == "datetime":
        present = series.dropna()
        out["count"] = int(present.size)
        if present.size:
            out["min"] = present.min().isoformat()
            out["max"] = present.max().isoformat()
    return out


def profile_frame(frame: pd.DataFrame) -> dict[str, Any]:
    """The profile of every column, keyed by column name, plus the row count."""
    return {
        "rows": len(frame),
        "columns": {str(name): profile_column(frame[name]) for name in frame.columns},
    }


def schema_of(frame: pd.DataFrame) -> dict[str, str]:
    return {str(name): str(dtype) for name, dtype in frame.dtypes.items()}


__all__ = [
    "category_order",
    "column_kind",
    "column_type",
    "json_value",
    "profile_column",
    "profile_frame",
    "schema_of",
]
