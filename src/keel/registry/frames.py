"""The one rule for rebuilding the frame a model was trained on from the values that reach it.

Rows arrive as JSON gives them (text for categories, strings and timestamps; numbers; booleans;
None), or as a frame someone passes or the prediction log returns (categories as their labels,
ints as floats, booleans as 0/1, timestamps as text). A model trained on pandas ``category``
columns, ints or timestamps needs exactly those dtypes back, or it fails (LightGBM: "categorical
feature do not match"; XGBoost: "Invalid columns"). ``frame_from_rows`` and ``restore_types``
give every column its training dtype, in signature order:

- ``int``: the trained integer dtype; with missing values the nullable one if that was trained,
  else float64 (as pandas would); values that are not whole stay float64;
- ``float``: the trained float dtype; ``bool``: bool (nullable ``boolean`` if trained, else
  float64 when values are missing);
- ``string``: the trained text dtype (``str`` or object), numbers sent as text;
- ``category``: a ``pd.Categorical`` with the training categories in order; a value is matched
  as itself (``3`` for the int category 3, ``3.0`` too) or as its label (``"3"``); a value never
  seen becomes missing (flagging it is the checks' job, not this module's);
- ``datetime``: the trained unit and time zone (naive text is read in the trained zone, or as
  UTC when other values of the column carry offsets).

Restoring never raises on a value: what cannot be converted becomes missing, and
``keel.registry.signatures.check_frame`` is what reports it, naming the field.

>>> from keel.registry.signatures import infer_signature
>>> import pandas as pd
>>> train = pd.DataFrame({"n": [1, 2], "c": pd.Categorical([3, 1], categories=[3, 1])})
>>> frame_from_rows(infer_signature(train), [[2, "1"], [1, "3"]]).dtypes.astype(str).tolist()
['int64', 'category']
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from keel.domain.signature import FeatureSpec, Signature
from keel.errors import SignatureMismatch
from keel.registry.categories import (
    categories_index,
    category_codes,
    lookup,
    with_new_categories,
)

__all__ = [
    "category_codes",
    "frame_from_rows",
    "restore_column",
    "restore_types",
    "to_bools",
    "with_new_categories",
]

_TRUTH = {"true": 1.0, "1": 1.0, "1.0": 1.0, "false": 0.0, "0": 0.0, "0.0": 0.0}


def frame_from_rows(signature: Signature, rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """A frame with the training dtypes from rows of values in signature order.

    Serving calls this on every batch, so a column that NumPy converts exactly as the rules
    above would (numbers, booleans, categories given as themselves or their labels, text) is
    converted without a pandas Series per column; any other goes through ``restore_column``.
    """
    specs = signature.inputs
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(specs)
    if len(columns) != len(specs):
        raise ValueError(f"rows have {len(columns)} values; the signature has {len(specs)}")
    data: dict[str, Any] = {}
    for spec, values in zip(specs, columns, strict=True):
        fast = _fast_column(spec, values)
        if fast is None:
            fast = restore_column(spec, pd.Series(values, dtype=object)).array
        if _is_object(fast.dtype):  # a bare object array of text would be inferred as ``str``
            fast = pd.Series(fast, dtype=object, copy=False)
        data[spec.name] = fast
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))


def _fast_column(spec: FeatureSpec, values: Sequence[Any]) -> Any:
    """The column as NumPy or a Categorical builds it, or None when only the general rules will
    do (missing values in an int column, numbers as text, unseen categories...)."""
    kind, target = spec.type, _dtype(spec)
    try:
        if kind == "float" and isinstance(target, np.dtype):
            array = np.array(values, dtype=np.float64)  # None is NaN, as the general rule has it
            with np.errstate(over="ignore"):
                return array.astype(target, copy=False) if array.ndim == 1 else None
        if kind in ("int", "bool") and isinstance(target, np.dtype):
            array = np.array(values)
            wanted = "iu" if kind == "int" else "b"
            if array.ndim != 1 or array.dtype.kind not in wanted or len(array) != len(values):
                return None
            converted = array.astype(target, copy=False)
            return converted if (converted == array).all() else None  # nothing wrapped round
        if kind == "category" and spec.categories is not None:
            index, _, _ = lookup(spec)
            codes = index.get_indexer(pd.Index(np.array(values, dtype=object), dtype=object))
            if (codes < 0).any():  # labels, numbers as text, missing or unseen: the full rule
                return None
            return pd.Categorical.from_codes(codes, dtype=target)
        if kind == "string":
            array = np.array(values, dtype=object)
            if not _is_object(target):
                return pd.array(array, dtype=target)
            if pd.api.types.infer_dtype(array, skipna=True) in ("string", "empty"):
                return array
    except (TypeError, ValueError, OverflowError):
        return None
    return None


def restore_types(signature: Signature, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``'s signature columns, in signature order, each with its training dtype.

    SignatureMismatch names the fields the frame lacks; values never raise (see the module).
    """
    names = signature.feature_names
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise SignatureMismatch([{"field": name, "problem": "missing field"} for name in missing])
    restored = {}
    changed = list(frame.columns) != names
    for spec in signature.inputs:
        column = frame[spec.name]
        restored[spec.name] = restore_column(spec, column)
        changed = changed or restored[spec.name] is not column
    if not changed:
        return frame
    return _assemble(restored, frame.index)


def _assemble(columns: dict[str, pd.Series], index: pd.Index) -> pd.DataFrame:
    """One frame of the columns as they are (arrays would let pandas infer text as ``str``
    where the training column was object)."""
    data = {name: series.set_axis(index) for name, series in columns.items()}
    return pd.DataFrame(data, index=index, columns=list(columns))


def restore_column(spec: FeatureSpec, values: pd.Series) -> pd.Series:
    """One column with ``spec``'s training dtype; ``values`` itself when it already has it."""
    restore = _RESTORERS.get(spec.type, _other)
    return restore(spec, values)


def _numbers(values: pd.Series) -> pd.Series:
    """Numbers from any column: text parsed, what is no number missing (nullable dtypes keep
    integers above 2**53 exact)."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values
    return pd.to_numeric(values, errors="coerce", dtype_backend="numpy_nullable")


def _int(spec: FeatureSpec, values: pd.Series) -> pd.Series:
    target = _dtype(spec)
    if values.dtype == target:
        return values
    numbers = _numbers(values)
    if pd.api.types.is_float_dtype(numbers.dtype):
        whole = numbers.isna() | (numbers % 1 == 0)
        if not bool(whole.all()):
            return numbers.astype("float64")
    missing = bool(numbers.isna().any())
    if missing and isinstance(target, np.dtype):
        return numbers.astype("float64")
    if not _fits(numbers, target):  # 300 in an int8 column: the model gets 300, not 44
        return numbers.astype("float64" if missing else "int64")
    try:
        return numbers.astype(target)
    except (TypeError, ValueError, OverflowError):
        return numbers.astype("float64")


def _fits(numbers: pd.Series, target: Any) -> bool:
    """Whether every value fits the integer dtype ``target`` (a narrow one wraps round)."""
    kind = getattr(target, "numpy_dtype", target)
    if not isinstance(kind, np.dtype) or kind.kind not in "iu" or not numbers.notna().any():
        return True
    bounds = np.iinfo(kind)
    return bool(bounds.min <= numbers.min() and numbers.max() <= bounds.max)


def _float(spec: FeatureSpec, values: pd.Series) -> pd.Series:
    target = _dtype(spec)
    if values.dtype == target:
        return values
    numbers = _numbers(values)
    if not isinstance(target, np.dtype):
        return numbers.astype(target)
    # through float64 first, as a JSON number is read; beyond float32's range is infinite
    wide = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(over="ignore"):
        return pd.Series(wide.astype(target, copy=False), index=values.index)


def to_bools(values: pd.Series) -> pd.Series:
    """1.0/0.0 (float64) from booleans, 0/1 and their text (``"true"``, ``"0"``...); anything
    else missing."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("float64")
    return values.astype("str").str.lower().map(_TRUTH).astype("float64")


def _bool(spec: FeatureSpec, values: pd.Series) -> pd.Series:
    target = _dtype(spec)
    if values.dtype == target:
        return values
    truth = to_bools(values)
    if bool(truth.isna().any()) and isinstance(target, np.dtype):
        return truth
    return truth.astype(target)


def _string(spec: FeatureSpec, values: pd.Series) -> pd.Series:
    target = _dtype(spec)
    if values.dtype == target and not _is_object(target):
        return values
    if not _is_object(target):
        return values.astype(target)
    if pd.api.types.is_object_dtype(values.dtype) and pd.api.types.infer_dtype(
        values, skipna=True
    ) in ("string", "empty"):
        return values
    present = values.notna()
    return values.astype(object).where(~present, values.astype("str").astype(object))


def _category(spec: FeatureSpec, values: pd.Series) -> pd.Series:
    if spec.categories is None:  # stored before categories were kept whole: best effort
        if isinstance(values.dtype, pd.CategoricalDtype):
            return values
        return values.astype("category")
    target = _dtype(spec)
    if _same_categories(values.dtype, target):
        return values
    codes = category_codes(spec, values)
    return pd.Series(pd.Categorical.from_codes(codes, dtype=target), index=values.index)


def _same_categories(dtype: Any, target: pd.CategoricalDtype) -> bool:
    """Equal categories in the same order (pandas' == ignores order when unordered)."""
    return (
        isinstance(dtype, pd.CategoricalDtype)
        and dtype.ordered == target.ordered
        and dtype.categories.dtype == target.categories.dtype
        and dtype.categories.equals(target.categories)
    )


def _datetime(spec: FeatureSpec, values: pd.Series) -> pd.Series:
    target = _dtype(spec)
    if values.dtype == target:
        return values
    tz = getattr(target, "tz", None)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = values
    elif pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
        values.dtype
    ):
        parsed = pd.to_datetime(values, errors="coerce")
    else:
        return _times_from_text(values, target, tz)
    if tz is not None:
        if parsed.dt.tz is None:
            parsed = parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        else:
            parsed = parsed.dt.tz_convert(tz)
    elif parsed.dt.tz is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    try:
        return parsed.astype(target)
    except (TypeError, ValueError):
        return parsed


#: text that ends in a UTC offset (or Z): an instant; anything else is a wall-clock time
_OFFSET = r"(?:Z|[+-]\d\d(?::?\d\d)?)$"


def _times_from_text(values: pd.Series, target: Any, tz: Any) -> pd.Series:
    """Timestamps from ISO 8601 text, each read on its own terms, so a value means the same
    whatever else shares its batch: a wall-clock time (no offset) is in the training zone,
    text with an offset is that instant, shown in the training zone (UTC-naive when the
    training times had no zone)."""
    text = values.astype("str")
    aware = text.str.contains(_OFFSET, regex=True, na=False).to_numpy()
    wall = pd.to_datetime(text.where(~aware), errors="coerce", format="ISO8601")
    instants = pd.to_datetime(text.where(aware), errors="coerce", format="ISO8601", utc=True)
    if tz is not None:
        wall = wall.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        instants = instants.dt.tz_convert(tz)
    else:
        instants = instants.dt.tz_convert("UTC").dt.tz_localize(None)
    if isinstance(target, np.dtype | pd.DatetimeTZDtype):
        wall, instants = wall.astype(target), instants.astype(target)
    return wall.where(~aware, instants)


def _other(spec: FeatureSpec, values: pd.Series) -> pd.Series:
    try:
        target = _dtype(spec)
        return values if values.dtype == target else values.astype(target)
    except (TypeError, ValueError):
        return values


_RESTORERS = {
    "int": _int,
    "float": _float,
    "bool": _bool,
    "string": _string,
    "category": _category,
    "datetime": _datetime,
    "other": _other,
}


def _is_object(dtype: Any) -> bool:
    return isinstance(dtype, np.dtype) and dtype == np.dtype(object)


@lru_cache(maxsize=1024)
def _dtype(spec: FeatureSpec) -> Any:
    """The training dtype of ``spec`` (cached: serving asks for it on every batch)."""
    if spec.type == "category":
        if spec.categories is None:  # an old signature's: categories unknown
            return pd.CategoricalDtype()
        return pd.CategoricalDtype(categories_index(spec.categories), ordered=spec.ordered)
    try:
        return pd.api.types.pandas_dtype(spec.dtype)
    except TypeError:
        return np.dtype(object)
