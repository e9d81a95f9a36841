"""Reading pandas columns for the drift tests: the kind of a column, its numbers, its categories.

- Booleans, text, categorical and object columns are *categorical*; integers, floats (NumPy or
  nullable), datetimes and durations are *numeric* (datetimes as nanoseconds since the epoch).
- Numbers are read as one float64 array (no copy for a float64 column; missing values become
  NaN). An object column of numbers can be read as numbers too; one holding text cannot.
- Categories are counted as text, ``str(value)``, so ``True`` and ``"True"`` are one category.

>>> import pandas as pd
>>> kind_of(pd.Series([1.5, 2.0])), kind_of(pd.Series(["a", "b"])), kind_of(pd.Series([True]))
('numeric', 'categorical', 'categorical')
>>> count_categories(pd.Series(["a", "b", "a", None]))
({'a': 2, 'b': 1}, 1)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from keel.monitoring.drift.summary import Kind

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["as_floats", "count_categories", "kind_of"]


def kind_of(series: pd.Series) -> Kind:
    """The kind of test a column's data type calls for."""
    from pandas.api import types

    dtype = series.dtype
    if types.is_bool_dtype(dtype):
        return "categorical"
    if types.is_numeric_dtype(dtype) or types.is_datetime64_any_dtype(dtype):
        return "numeric"
    if types.is_timedelta64_dtype(dtype):
        return "numeric"
    return "categorical"


def as_floats(series: pd.Series) -> np.ndarray | None:
    """The column as float64 (NaN where missing), or ``None`` if it does not hold numbers."""
    import pandas as pd
    from pandas.api import types

    dtype = series.dtype
    if dtype == np.float64:
        return series.to_numpy()
    if types.is_datetime64_any_dtype(dtype) or types.is_timedelta64_dtype(dtype):
        return _nanoseconds(series)
    if kind_of(series) == "numeric":
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    if types.is_object_dtype(dtype):
        try:
            numbers = pd.to_numeric(series, errors="raise")
        except (TypeError, ValueError):
            return None
        if kind_of(numbers) == "numeric":
            return numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    return None


def _nanoseconds(series: pd.Series) -> np.ndarray:
    """Datetimes (UTC) and durations as float nanoseconds; NaT as NaN."""
    if getattr(series.dtype, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    unit = "datetime64[ns]" if series.dtype.kind == "M" else "timedelta64[ns]"
    missing = series.isna().to_numpy()
    floats = series.to_numpy(dtype=unit).view(np.int64).astype(np.float64)
    floats[missing] = np.nan
    return floats


def count_categories(series: pd.Series) -> tuple[dict[str, int], int]:
    """The count of each category (as text) among the non-missing values, and the missing count."""
    counts = series.value_counts(dropna=True, sort=False)
    result: dict[str, int] = {}
    for value, count in zip(counts.index, counts.to_numpy(), strict=True):
        if count:  # a categorical dtype lists its unused categories with 0
            key = _text(value)
            result[key] = result.get(key, 0) + int(count)
    return result, int(series.isna().sum())


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)
