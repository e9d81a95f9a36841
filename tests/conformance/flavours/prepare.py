"""The scikit-learn preprocessing the pipeline cases share: categories one-hot encoded (a value
never seen in training encodes as all zeros), numbers scaled or passed through."""

from __future__ import annotations

from typing import Any


def columns(categorical: list[str], numeric: list[str], *, scale: bool) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    return ColumnTransformer(
        [
            (
                "categories",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                categorical,
            ),
            ("numbers", StandardScaler() if scale else "passthrough", numeric),
        ]
    )
