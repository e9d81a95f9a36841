"""Row masks for the slices a suite defines (``{age: {lt: 25}, region: {in: [DE, FR]}}``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from keel.domain.policy import SliceCondition
from keel.errors import InvalidInput


def slice_mask(frame: pd.DataFrame, name: str, conditions: dict[str, SliceCondition]) -> np.ndarray:
    """Rows that meet every condition of the slice (missing values never do)."""
    mask = np.ones(len(frame), dtype=bool)
    for feature, condition in conditions.items():
        if feature not in frame.columns:
            raise InvalidInput(
                f"slices.{name}", f"names the column {feature!r}, which the data lacks"
            )
        column = frame[feature]
        present = column.notna().to_numpy()
        mask &= present
        if condition.eq is not None:
            mask &= (column == condition.eq).to_numpy()
        if condition.in_ is not None:
            mask &= column.isin(condition.in_).to_numpy()
        for bound, op in (("ge", "__ge__"), ("gt", "__gt__"), ("le", "__le__"), ("lt", "__lt__")):
            value = getattr(condition, bound)
            if value is None:
                continue
            if not pd.api.types.is_numeric_dtype(column.dtype):
                raise InvalidInput(
                    f"slices.{name}.{feature}",
                    f"'{bound}' needs a numeric column, got {column.dtype}",
                )
            mask &= getattr(column, op)(value).fillna(False).to_numpy(dtype=bool)
    return mask
