"""What the closed-loop demo replays: a world that produces decisions over time, and their
outcomes later.

A world is its pre-launch history (to train the first model), then a list of ticks in time
order; each tick holds the rows decided in it with ``decided_at`` and ``labelled_at`` (when the
outcome becomes known). ``lending_world`` is the built-in seeded portfolio; ``table_world``
turns any time-ordered table into one (the first 10% of rows is the history; each later period's
outcomes arrive one period after it, test-then-train).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from keel.errors import InvalidInput

__all__ = ["Tick", "World", "lending_world", "table_world"]


@dataclass(frozen=True)
class Tick:
    start: datetime
    end: datetime
    period: str  # the label of the summary row it belongs to (a month)
    rows: pd.DataFrame  # features + target + decided_at + labelled_at


@dataclass(frozen=True)
class World:
    model: str
    target: str
    features: list[str]
    history: pd.DataFrame
    ticks: list[Tick]
    make_model: Callable[[], Any]
    threshold: float
    story: list[str] = field(default_factory=list)
    open_categories: list[str] = field(default_factory=list)


def lending_world(
    scenario: Any = None, *, weeks_per_month: int = 4, history_rows: int = 8000
) -> World:
    """The seeded lending portfolio (``keel.demo.lending``), a tick a week."""
    from keel.demo.lending import LendingPortfolio, Scenario, make_model

    portfolio = LendingPortfolio(scenario if scenario is not None else Scenario())
    months = portfolio.scenario.months
    ticks: list[Tick] = []
    for month in range(months):
        frame = portfolio.month(month)
        stamps = pd.to_datetime(frame["decided_at"], utc=True)
        edges = pd.date_range(stamps.min().floor("D"), periods=weeks_per_month + 1, freq="7D")
        edges = pd.DatetimeIndex([*edges[:-1], stamps.max() + pd.Timedelta(seconds=1)])
        for week in range(weeks_per_month):
            mask = (stamps >= edges[week]) & (stamps < edges[week + 1])
            ticks.append(
                Tick(
                    edges[week].to_pydatetime(),
                    edges[week + 1].to_pydatetime(),
                    f"{stamps.min():%Y-%m}",
                    frame[mask.to_numpy()].reset_index(drop=True),
                )
            )
    return World(
        model="credit-risk",
        target=LendingPortfolio.TARGET,
        features=list(LendingPortfolio.FEATURES),
        history=portfolio.history(history_rows),
        ticks=ticks,
        make_model=make_model,
        threshold=0.92,
        story=portfolio.describe(),
        open_categories=["employment_type"],
    )


def table_world(
    path: str | Path,
    target: str,
    time: str,
    *,
    drop: list[str] | None = None,
    period_rows: int = 1000,
    threshold: float | None = None,
) -> World:
    """Any time-ordered CSV or Parquet table as a world (a HistGradientBoosting model);
    ``drop`` names columns that are not features (ids, leaks such as a call's duration)."""
    from keel.registry.snapshots import read_data

    frame, _ = read_data(path, "data")
    named = [(target, "target"), (time, "time"), *((c, "drop") for c in drop or [])]
    for column, what in named:
        if column not in frame.columns:
            raise InvalidInput(what, f"{column!r} is not a column of {path}")
    frame = frame.drop(columns=[c for c in drop or [] if c not in (target, time)])
    stamps = pd.to_datetime(frame[time], utc=True, errors="coerce")
    if stamps.isna().all():
        raise InvalidInput("time", f"{time!r} holds no dates or times")
    frame = frame.assign(decided_at=stamps).dropna(subset=["decided_at", target])
    frame = frame.sort_values("decided_at", kind="stable").reset_index(drop=True)
    features = [c for c in frame.columns if c not in (target, time, "decided_at")]
    first = max(len(frame) // 10, 200)
    history, rest = frame.iloc[:first], frame.iloc[first:]
    chunks = [rest.iloc[i : i + period_rows] for i in range(0, len(rest), period_rows)]
    ticks = []
    for index, chunk in enumerate(chunks):
        following = chunks[index + 1] if index + 1 < len(chunks) else chunk
        arrival = following["decided_at"].max() + pd.Timedelta(seconds=1)
        rows = chunk.assign(labelled_at=arrival).reset_index(drop=True)
        ticks.append(
            Tick(
                chunk["decided_at"].min().to_pydatetime(),
                (chunk["decided_at"].max() + pd.Timedelta(seconds=1)).to_pydatetime(),
                f"{chunk['decided_at'].min():%Y-%m}",
                rows,
            )
        )
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    return World(
        model=Path(path).stem.replace("_", "-").lower()[:60] or "model",
        target=target,
        features=features,
        history=history.drop(columns=["decided_at"]),
        ticks=ticks,
        make_model=lambda: _table_model(features, categorical),
        threshold=threshold if threshold is not None else 0.0,
        open_categories=categorical,
    )


def _table_model(features: list[str], categorical: list[str]) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    encode = ColumnTransformer(
        [
            (
                "categories",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                categorical,
            )
        ],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    flags = [True] * len(categorical) + [False] * (len(features) - len(categorical))
    return Pipeline(
        [
            ("encode", encode),
            ("model", HistGradientBoostingClassifier(categorical_features=flags, random_state=0)),
        ]
    )
