"""What a model costs to run: single-row and batch latency, peak memory, artifact size.

One measurement of latency on a shared machine says as much about the machine's load as about
the model (the same model measured p99 60 ms, then 219 ms a minute later). So the candidate is
measured ``runs`` times, interleaved with the champion in the same process (candidate,
champion, candidate, champion, ...): each figure is the median of its runs, reported with its
spread (min and max), and the candidate/champion ratio of the medians cancels the load that
both suffered alike.

>>> import pandas as pd
>>> class Constant:
...     def predict(self, frame):
...         return [0] * len(frame)
>>> measured = measure_interleaved(Constant(), Constant(), pd.DataFrame({"x": [1.0, 2.0]}),
...                                (1000, 1000), runs=3, budget_s=0.3)
>>> measured.runs, set(measured.ratio) <= set(measured.candidate), measured.champion is not None
(3, True, True)
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from keel.domain.metric_specs import METRIC_SPECS

__all__ = ["CostMeasurement", "measure_cost", "measure_interleaved"]

Clock = Callable[[], float]

#: figures that depend on the machine's load (memory and size do not; they are measured once)
TIMED = tuple(s.name for s in METRIC_SPECS if s.timed)


def measure_cost(
    model: Any,
    frame: pd.DataFrame,
    size_bytes: int,
    *,
    single_rows: int = 200,
    batch_rows: int = 1000,
    batch_repeats: int = 20,
    budget_s: float = 5.0,
    memory: bool = True,
    clock: Clock = time.perf_counter,
) -> dict[str, float]:
    """Latency percentiles in milliseconds and (with ``memory``) peak traced memory (MB) while
    predicting; one run. ``clock`` (seconds) times the calls and the budget."""
    out: dict[str, float] = {"size_mb": size_bytes / 1e6}
    if len(frame) == 0:
        return out
    started_all = clock()
    singles_deadline, deadline = started_all + budget_s / 2, started_all + budget_s
    for i in range(min(5, len(frame))):  # warm caches and lazy imports
        model.predict(frame.iloc[[i]])
    singles = []
    for i in range(min(single_rows, len(frame))):
        started = clock()
        model.predict(frame.iloc[[i]])
        singles.append((clock() - started) * 1000)
        if clock() > singles_deadline:
            break
    out["latency_p50_ms"] = float(np.percentile(singles, 50))
    out["latency_p99_ms"] = float(np.percentile(singles, 99))
    batch = frame.iloc[:batch_rows]
    batches = []
    for _ in range(batch_repeats):
        started = clock()
        model.predict(batch)
        batches.append((clock() - started) * 1000)
        if clock() > deadline:
            break
    out["latency_batch_p50_ms"] = float(np.percentile(batches, 50))
    out["latency_batch_p99_ms"] = float(np.percentile(batches, 99))
    out["batch_rows"] = float(len(batch))
    if memory:
        out["peak_memory_mb"] = _peak_memory_mb(model, frame.iloc[: max(batch_rows, 10_000)])
    return out


def _peak_memory_mb(model: Any, frame: pd.DataFrame) -> float:
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    baseline, _ = tracemalloc.get_traced_memory()
    model.predict(frame)
    _, peak = tracemalloc.get_traced_memory()
    if not was_tracing:
        tracemalloc.stop()
    return (peak - baseline) / 1e6


@dataclass(frozen=True)
class CostMeasurement:
    """Medians of ``runs`` interleaved runs, their spread, and the candidate/champion ratios
    (empty without a champion; ``champion_error`` says why a champion was not measured)."""

    runs: int
    candidate: dict[str, float]
    spread: dict[str, list[float]] = field(default_factory=dict)
    champion: dict[str, float] | None = None
    champion_spread: dict[str, list[float]] = field(default_factory=dict)
    ratio: dict[str, float] = field(default_factory=dict)
    champion_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """What an evaluation stores beside ``cost`` (the candidate's medians)."""
        return {
            "runs": self.runs,
            "spread": self.spread,
            "champion": self.champion,
            "champion_spread": self.champion_spread,
            "ratio": self.ratio,
            "champion_error": self.champion_error,
        }


def measure_interleaved(
    candidate: Any,
    champion: Any | None,
    frame: pd.DataFrame,
    sizes: tuple[int, int | None],
    *,
    runs: int = 5,
    budget_s: float = 5.0,
    clock: Clock = time.perf_counter,
    champion_frame: pd.DataFrame | None = None,
    **options: Any,
) -> CostMeasurement:
    """Measure ``candidate`` and ``champion`` (or the candidate alone) ``runs`` times each, in
    turn, within ``budget_s`` in all; ``sizes`` are their artifact sizes in bytes and
    ``champion_frame`` the same rows typed for the champion (default: ``frame``). A champion
    that fails to predict is dropped (with the reason), never failing the candidate's figures."""
    if runs < 1:
        raise ValueError("runs must be at least 1")
    measurements = runs * (2 if champion is not None else 1)
    share = budget_s / measurements
    # the calls of one run shrink with the number of runs and models: measuring k runs of two
    # models costs about what one run of one model did (200 single rows, 20 batches)
    options = {
        "single_rows": max(20, 200 // measurements),
        "batch_repeats": max(2, 20 // measurements),
        **options,
    }
    mine: list[dict[str, float]] = []
    theirs: list[dict[str, float]] = []
    error = None
    for run in range(runs):
        first = run == 0  # memory does not depend on load: measured in the first run only
        common = {"budget_s": share, "memory": first, "clock": clock, **options}
        mine.append(measure_cost(candidate, frame, sizes[0], **common))
        if champion is not None and error is None:
            try:
                rows = frame if champion_frame is None else champion_frame
                theirs.append(measure_cost(champion, rows, sizes[1] or 0, **common))
            except Exception as exc:  # the champion's failure is not the candidate's cost
                error = f"the champion failed to predict while its cost was measured: {exc}"
    medians, spread = _summary(mine)
    if error is not None or not theirs:
        return CostMeasurement(runs, medians, spread, champion_error=error)
    champion_medians, champion_spread = _summary(theirs)
    ratio = {
        k: medians[k] / v
        for k, v in champion_medians.items()
        if k in medians and k != "batch_rows" and v > 0
    }
    return CostMeasurement(runs, medians, spread, champion_medians, champion_spread, ratio)


def _summary(measured: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, list[float]]]:
    """The median of each figure over the runs, and [min, max] of the timed ones."""
    medians: dict[str, float] = {}
    spread: dict[str, list[float]] = {}
    for key in measured[0]:
        values = [m[key] for m in measured if key in m]
        medians[key] = float(np.median(values))
        if key in TIMED:
            spread[key] = [float(min(values)), float(max(values))]
    return medians, spread
