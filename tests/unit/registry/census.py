"""A census-like table: text and int categories in a non-sorted order beside int, float and bool
columns, with a label that depends on them (what LightGBM and XGBoost are trained on in the
registry tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def census_table(seed: int, rows: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue", "teal"], rows)
    grade = rng.choice([3, 1, 2, 10], rows)
    frame = pd.DataFrame(
        {
            "colour": pd.Categorical(colour, categories=["teal", "red", "blue", "green"]),
            "grade": pd.Categorical(grade, categories=[10, 3, 1, 2]),
            "age": rng.integers(18, 90, rows),
            "income": rng.normal(50.0, 10.0, rows).round(3),
            "member": rng.random(rows) < 0.4,
        }
    )
    logit = (
        (colour == "red") * 1.5
        - (grade == 10) * 1.2
        + (frame["age"].to_numpy() - 50) / 20
        + frame["member"].to_numpy() * 0.8
    )
    labels = (logit + rng.normal(0, 0.5, rows) > 0.3).astype(int)
    return frame, labels
