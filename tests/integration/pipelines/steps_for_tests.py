"""Module-level steps, so spawned worker processes and Ray workers can load them.

``training`` is a small pipeline shaped like a retrain: a data window, features, independent
steps that run side by side, a summary, a step that opens the registry from its context (so a
worker needs a store it can reach) and one that tells which process it ran in. ``failing``
raises inside the worker.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from keel.pipelines.pipeline import Pipeline
from keel.pipelines.step import StepContext, step


@step
def window(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=rows), "y": rng.integers(0, 2, size=rows)})


@step
def features(window: pd.DataFrame) -> pd.DataFrame:
    return window.assign(x2=window["x"] ** 2, bucket=(window["x"] > 0).astype(int))


@step
def positive_rate(features: pd.DataFrame) -> float:
    return float(features["y"].mean())


@step
def moments(features: pd.DataFrame) -> dict[str, float]:
    return {"mean": float(features["x"].mean()), "energy": float(features["x2"].sum())}


@step
def run_status(context: StepContext, features: pd.DataFrame) -> dict[str, Any]:
    """Reads this very run back from the store, from wherever the step runs."""
    with context.client() as client:
        record = client.pipeline_run(context.run_id)
    return {
        "run": context.run_id,
        "step": context.step,
        "status": record.status,
        "features": record.step("features").status,
        "rows": len(features),
    }


@step
def summary(
    positive_rate: float, moments: dict[str, float], features: pd.DataFrame
) -> dict[str, Any]:
    return {"positive_rate": positive_rate, **moments, "rows": len(features)}


@step(cache=False)
def worker_pid(window: pd.DataFrame) -> int:
    return os.getpid()


class WorkerSaysNo(RuntimeError):
    pass


@step
def refuse(window: pd.DataFrame, reason: str) -> int:
    raise WorkerSaysNo(f"refused {len(window)} rows: {reason}")


def training() -> Pipeline:
    return Pipeline(
        "worker-training",
        [summary, run_status, moments, positive_rate, features, window, worker_pid],
    )


def failing() -> Pipeline:
    return Pipeline("worker-failing", [window, refuse])
