"""Seeded synthetic data for the drift tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

LABELS = np.array(["alpha", "beta", "gamma", "delta", "epsilon"])
SHARES = np.array([0.4, 0.25, 0.15, 0.12, 0.08])


def numbers(rows: int, columns: int = 20, seed: int = 0, prefix: str = "x") -> pd.DataFrame:
    """Independent standard normal columns ``x00``, ``x01``, ..."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        rng.standard_normal((rows, columns)), columns=[f"{prefix}{i:02d}" for i in range(columns)]
    )


def categories(rows: int, seed: int = 0, shares: np.ndarray = SHARES) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return LABELS[rng.choice(len(LABELS), size=rows, p=shares)]


def mixed(rows: int, seed: int = 0, numeric: int = 6, categorical: int = 2) -> pd.DataFrame:
    frame = numbers(rows, numeric, seed)
    for i in range(categorical):
        frame[f"c{i}"] = categories(rows, seed * 1000 + i)
    return frame
