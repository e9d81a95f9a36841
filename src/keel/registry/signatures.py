"""Inferring a model's input signature and checking data against it.

A signature is inferred from the training frame (or a snapshot's profile) and then enforced on
every frame given to the model: missing columns, wrong types, missing values, unseen categories and
values outside the training range are reported together, one entry per problem. What
``keel.registry.frames.restore_types`` rebuilds unambiguously is accepted (a category given as its
label or value, a number as text, an int as ``3.0``, a boolean as 0/1); the rest is reported.

A pandas ``category`` column keeps all its categories in the dtype's order, however many; text
keeps its values sorted, up to ``MAX_CATEGORIES`` (beyond that it is open: any value is fine).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from keel.domain.signature import FeatureSpec, Signature
from keel.errors import InvalidInput
from keel.registry.frames import category_codes, restore_column, to_bools
from keel.registry.profiling import MAX_CATEGORIES, category_order, column_kind, column_type

#: at most this many example values are quoted for one field
_EXAMPLES = 3


def infer_signature(frame: pd.DataFrame, features: list[str] | None = None) -> Signature:
    """The signature of ``frame`` restricted to ``features`` (all columns when None)."""
    names = [str(c) for c in frame.columns] if features is None else list(features)
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise InvalidInput("features", f"not in the training data: {', '.join(missing)}")
    specs = []
    for name in names:
        series = frame[name]
        kind = column_kind(series)
        spec = FeatureSpec(
            name=name,
            kind=kind,
            dtype=str(series.dtype),
            nullable=bool(series.isna().any()),
            type=column_type(series),
        )
        if kind in ("number", "integer"):
            present = series.dropna()
            if present.size:
                spec = _with(spec, minimum=float(present.min()), maximum=float(present.max()))
        elif spec.type == "category":
            order = category_order(series)
            spec = _with(spec, categories=tuple(order), ordered=bool(series.cat.ordered))
        elif kind == "category":
            uniques = series.dropna().astype(str).unique()
            if len(uniques) <= MAX_CATEGORIES:
                spec = _with(spec, categories=tuple(sorted(uniques)))
        specs.append(spec)
    return Signature(inputs=tuple(specs))


def signature_from_profile(profile: dict[str, Any], features: list[str]) -> Signature:
    """A signature built from a snapshot's stored profile, without reading the data again."""
    columns = profile.get("columns", {})
    missing = [n for n in features if n not in columns]
    if missing:
        raise InvalidInput("features", f"not in the training snapshot: {', '.join(missing)}")
    specs = []
    for name in features:
        col = columns[name]
        spec = FeatureSpec(
            name=name,
            kind=col["kind"],
            dtype=col["dtype"],
            nullable=col["missing_share"] > 0,
            type=col.get("type", ""),
        )
        if col["kind"] in ("number", "integer") and "min" in col:
            spec = _with(spec, minimum=col["min"], maximum=col["max"])
        elif spec.type == "category" and "order" in col:
            spec = _with(spec, categories=tuple(col["order"]), ordered=bool(col.get("ordered")))
        elif col["kind"] == "category" and col.get("complete"):
            spec = _with(spec, categories=tuple(sorted(col["categories"])))
        specs.append(spec)
    return Signature(inputs=tuple(specs))


def _with(spec: FeatureSpec, **changes: Any) -> FeatureSpec:
    from dataclasses import replace

    return replace(spec, **changes)


def _problem(field: str, problem: str, value: Any = None, expected: Any = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"field": field, "problem": problem}
    if value is not None:
        entry["value"] = value
    if expected is not None:
        entry["expected"] = expected
    return entry


def _examples(values: pd.Series) -> list[Any]:
    return [v.item() if hasattr(v, "item") else v for v in values.head(_EXAMPLES).tolist()]


def check_frame(
    signature: Signature, frame: pd.DataFrame, *, check_ranges: bool = True
) -> list[dict[str, Any]]:
    """Every way ``frame`` breaks ``signature``; an empty list means it fits."""
    problems: list[dict[str, Any]] = []
    for spec in signature.inputs:
        if spec.name not in frame.columns:
            problems.append(_problem(spec.name, "missing field", expected=spec.kind))
            continue
        problems.extend(_check_column(spec, frame[spec.name], check_ranges))
    return problems


def _check_column(spec: FeatureSpec, series: pd.Series, check_ranges: bool) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    nulls = series.isna()
    if nulls.any() and not spec.nullable:
        problems.append(
            _problem(spec.name, f"{int(nulls.sum())} missing value(s)", expected=spec.kind)
        )
    present = series[~nulls]
    if spec.kind in ("number", "integer"):
        problems.extend(_check_numbers(spec, series.dtype, present, check_ranges))
    elif spec.type == "category" and spec.categories is not None:
        never = category_codes(spec, present) < 0
        if never.any():
            problems.append(_unseen(spec, present[never]))
    elif spec.kind == "category" and spec.categories is not None:
        text = present.astype(str)
        unseen = ~text.isin(spec.categories)
        if unseen.any():
            problems.append(_unseen(spec, text[unseen]))
    elif spec.kind == "boolean":
        wrong = to_bools(present).isna()
        if wrong.any():
            problems.append(
                _problem(
                    spec.name,
                    f"wrong type {series.dtype}",
                    value=_examples(present[wrong]),
                    expected="boolean",
                )
            )
    elif spec.kind == "datetime":
        wrong = restore_column(spec, present).isna()
        if wrong.any():
            problems.append(
                _problem(
                    spec.name,
                    "not a datetime",
                    value=_examples(present[wrong]),
                    expected="datetime",
                )
            )
    return problems


def _unseen(spec: FeatureSpec, values: pd.Series) -> dict[str, Any]:
    assert spec.categories is not None
    return _problem(
        spec.name,
        "unseen category",
        value=_examples(values.drop_duplicates()),
        expected=list(spec.categories[:20]),
    )


def _check_numbers(
    spec: FeatureSpec, dtype: Any, present: pd.Series, check_ranges: bool
) -> list[dict[str, Any]]:
    """Numbers, or text and categories holding numbers (``"3"``); never booleans or dates."""
    problems: list[dict[str, Any]] = []
    numeric = present
    if not pd.api.types.is_numeric_dtype(present.dtype):
        textual = pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
        if textual or isinstance(dtype, pd.CategoricalDtype):
            numeric = pd.to_numeric(present.astype(object), errors="coerce")
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(numeric.dtype):
        return [_problem(spec.name, f"wrong type {dtype}", expected=spec.kind)]
    bad = numeric.isna()
    if bad.any():
        if bad.all():  # nothing here is a number: the column has the wrong type
            return [_problem(spec.name, f"wrong type {dtype}", expected=spec.kind)]
        problems.append(
            _problem(spec.name, "not a number", value=_examples(present[bad]), expected=spec.kind)
        )
        numeric = numeric[~bad]
    if spec.kind == "integer" and numeric.size:
        as_float = numeric.to_numpy(dtype="float64")
        fractional = as_float != np.floor(as_float)
        if fractional.any():
            problems.append(
                _problem(
                    spec.name,
                    "not an integer",
                    value=_examples(numeric[fractional]),
                    expected="integer",
                )
            )
    if check_ranges and spec.minimum is not None and spec.maximum is not None and numeric.size:
        outside = (numeric < spec.minimum) | (numeric > spec.maximum)
        if outside.any():
            problems.append(
                _problem(
                    spec.name,
                    "outside the training range",
                    value=_examples(numeric[outside]),
                    expected=[spec.minimum, spec.maximum],
                )
            )
    return problems
