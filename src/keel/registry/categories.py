"""Matching values to a signature's categories, and widening them for training data.

A category is matched as itself (``3`` for the int category 3, and ``3.0`` too), as its label
(``"3"``, the text clients and the prediction log write), or, for number categories, as text
holding the number (``"3.0"``). What matches nothing gets -1: missing, or never seen in training.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from keel.domain.signature import FeatureSpec, Signature
from keel.registry.profiling import json_value

__all__ = ["categories_index", "category_codes", "lookup", "with_new_categories"]


def category_codes(spec: FeatureSpec, values: pd.Series) -> np.ndarray:
    """The position of each value in ``spec.categories`` (-1: missing or never seen), matching a
    value as itself or as its label."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        known = _codes_of_values(spec, pd.Series(values.cat.categories, dtype=object))
        source = values.cat.codes.to_numpy()
        mapped = known[np.where(source >= 0, source, 0)] if len(known) else source
        return np.where(source >= 0, mapped, -1).astype(np.int64)
    return _codes_of_values(spec, values)


def _codes_of_values(spec: FeatureSpec, values: pd.Series) -> np.ndarray:
    index, labels, numeric = lookup(spec)
    present = values.notna().to_numpy()
    codes = np.full(len(values), -1, dtype=np.int64)
    if not present.any():
        return codes
    given = values[present]
    try:
        found = index.get_indexer(pd.Index(given.to_numpy(dtype=object), dtype=object))
    except (TypeError, ValueError):
        found = np.full(len(given), -1, dtype=np.int64)
    unmatched = found < 0
    if unmatched.any():
        text = given[unmatched].astype("str")
        found[unmatched] = text.map(labels).fillna(-1).to_numpy(dtype=np.int64)
    unmatched = found < 0
    if unmatched.any() and numeric:  # "7.0" is the int category 7, as 7.0 is
        numbers = pd.to_numeric(given[unmatched].astype("str"), errors="coerce")
        found[unmatched] = index.get_indexer(pd.Index(numbers.to_numpy(dtype=object), dtype=object))
    codes[present] = found
    return codes


@lru_cache(maxsize=256)
def lookup(spec: FeatureSpec) -> tuple[pd.Index, dict[str, int], bool]:
    """The categories as an index (matching values), label -> position (matching text), and
    whether any category is a number (then text is also read as a number)."""
    assert spec.categories is not None
    labels: dict[str, int] = {}
    for position, label in enumerate(spec.labels or ()):
        labels.setdefault(label, position)
    numeric = any(isinstance(c, int | float) and not isinstance(c, bool) for c in spec.categories)
    return pd.Index(list(spec.categories), dtype=object), labels, numeric


def with_new_categories(signature: Signature, frame: pd.DataFrame) -> Signature:
    """``signature`` with the values of ``frame`` its categories lack appended to them (sorted,
    after the training ones, whose order is kept): the types of data to *train* on, where a new
    category is something to learn rather than a missing value. A new value keeps the
    categories' type when it has it (``"7"`` joins int categories as 7), else it is text."""
    specs = []
    for spec in signature.inputs:
        if spec.type == "category" and spec.categories is not None and spec.name in frame:
            column = frame[spec.name]
            unseen = column[(category_codes(spec, column) < 0) & column.notna().to_numpy()]
            if len(unseen):
                new = _as_categories(spec.categories, unseen.drop_duplicates())
                spec = replace(spec, categories=(*spec.categories, *new))
        specs.append(spec)
    return replace(signature, inputs=tuple(specs))


def _as_categories(categories: tuple[Any, ...], values: pd.Series) -> list[Any]:
    """New values as categories like ``categories``: numbers when those are numbers, text when
    those are text; sorted by label, each value once."""
    kind = categories_index(categories).dtype
    text = values.astype("str")
    if pd.api.types.is_integer_dtype(kind) or pd.api.types.is_float_dtype(kind):
        numbers = pd.to_numeric(text, errors="coerce")
        whole = pd.api.types.is_integer_dtype(kind) & (numbers % 1 == 0)
        converted: list[Any] = [
            label if pd.isna(n) else (int(n) if w else float(n))
            for label, n, w in zip(text.tolist(), numbers.tolist(), whole.tolist(), strict=True)
        ]
    elif pd.api.types.is_string_dtype(kind) and kind != np.dtype(object):
        converted = text.tolist()
    else:
        converted = [json_value(v) for v in values.tolist()]
    seen = set(categories)
    out = []
    for _, value in sorted(zip(text.tolist(), converted, strict=True), key=lambda p: p[0]):
        if value not in seen:  # "7" and "7.0" are one new int category
            seen.add(value)
            out.append(value)
    return out


def categories_index(categories: tuple[Any, ...]) -> pd.Index:
    """The categories as pandas builds them from the training column's values (ints as int64,
    text as str); a mix stays object."""
    # pandas-stubs picks no overload for elements typed Any, so it says what it builds here
    index: pd.Index = pd.Index(list(categories))
    return index
