"""What a model costs to run: single-row and batch latency, peak memory, artifact size."""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import numpy as np
import pandas as pd


def measure_cost(
    model: Any,
    frame: pd.DataFrame,
    size_bytes: int,
    *,
    single_rows: int = 200,
    batch_rows: int = 1000,
    batch_repeats: int = 20,
    budget_s: float = 5.0,
) -> dict[str, float]:
    """Latency percentiles in milliseconds and peak traced memory (MB) while predicting."""
    out: dict[str, float] = {"size_mb": size_bytes / 1e6}
    if len(frame) == 0:
        return out
    started_all = time.perf_counter()
    singles_deadline, deadline = started_all + budget_s / 2, started_all + budget_s
    for i in range(min(5, len(frame))):  # warm caches and lazy imports
        model.predict(frame.iloc[[i]])
    singles = []
    for i in range(min(single_rows, len(frame))):
        started = time.perf_counter()
        model.predict(frame.iloc[[i]])
        singles.append((time.perf_counter() - started) * 1000)
        if time.perf_counter() > singles_deadline:
            break
    out["latency_p50_ms"] = float(np.percentile(singles, 50))
    out["latency_p99_ms"] = float(np.percentile(singles, 99))
    batch = frame.iloc[:batch_rows]
    batches = []
    for _ in range(batch_repeats):
        started = time.perf_counter()
        model.predict(batch)
        batches.append((time.perf_counter() - started) * 1000)
        if time.perf_counter() > deadline:
            break
    out["latency_batch_p50_ms"] = float(np.percentile(batches, 50))
    out["latency_batch_p99_ms"] = float(np.percentile(batches, 99))
    out["batch_rows"] = float(len(batch))
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    baseline, _ = tracemalloc.get_traced_memory()
    model.predict(frame.iloc[: max(batch_rows, 10_000)])
    _, peak = tracemalloc.get_traced_memory()
    if not was_tracing:
        tracemalloc.stop()
    out["peak_memory_mb"] = (peak - baseline) / 1e6
    return out
