"""Operations of one window: latency percentiles, throughput, error rate and cost.

The error rate is over the rows the model was asked about: a row the input policy rejected
(status ``rejected``) never reached the model, so it is counted apart (``rejected``), not as an
error nor as a success.

Cost per 1,000 predictions is CPU time priced per CPU-hour plus a price per request. CPU time
comes from the logged ``cpu_ms``; where a row has none, its latency stands in for it (an upper
bound for a single-threaded model), and the result says how many rows were estimated that way.

>>> import pandas as pd
>>> frame = pd.DataFrame({"latency_ms": [1.0, 2.0, 3.0, 4.0], "cpu_ms": [1.0] * 4,
...     "status": ["ok", "ok", "ok", "error"],
...     "timestamp": pd.date_range("2026-01-01", periods=4, freq="s", tz="UTC")})
>>> stats = operations(frame, cpu_hour_price=3.6, request_price=0.0)
>>> stats["error_rate"], round(stats["cost_per_1k"], 6)
(0.25, 0.001)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def _percentiles(values: np.ndarray) -> dict[str, float | None]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"latency_p50_ms": None, "latency_p95_ms": None, "latency_p99_ms": None}
    p50, p95, p99 = np.percentile(finite, [50, 95, 99])
    return {
        "latency_p50_ms": float(p50),
        "latency_p95_ms": float(p95),
        "latency_p99_ms": float(p99),
    }


def operations(
    frame: pd.DataFrame, *, cpu_hour_price: float, request_price: float
) -> dict[str, Any]:
    """Latency, throughput, error rate and cost of the rows of one window."""
    rows = len(frame)
    if rows == 0:
        return {"rows": 0}
    latency = _floats(frame, "latency_ms", rows)
    cpu = _floats(frame, "cpu_ms", rows)
    stand_in = np.isnan(cpu) & np.isfinite(latency)
    cpu_ms = np.where(np.isnan(cpu), latency, cpu)
    known_cpu = np.isfinite(cpu_ms)
    status = frame["status"].to_numpy() if "status" in frame else np.full(rows, "ok")
    errors = int(np.count_nonzero(status == "error"))
    rejected = int(np.count_nonzero(status == "rejected"))
    scored = rows - rejected
    stamps = frame["timestamp"]
    span = (stamps.max() - stamps.min()).total_seconds()
    cpu_seconds = float(cpu_ms[known_cpu].sum()) / 1000.0
    cost = cpu_seconds * cpu_hour_price / 3600.0 + request_price * rows
    out: dict[str, Any] = {
        "rows": rows,
        **_percentiles(latency),
        "throughput_rps": rows / span if span > 0 else None,
        "error_rate": errors / scored if scored else None,
        "errors": errors,
        "rejected": rejected,
        "cpu_seconds": cpu_seconds,
        "cpu_estimated_rows": int(stand_in.sum()),
        "cost": cost,
        "cost_per_1k": cost / rows * 1000.0 if (known_cpu.any() or request_price) else None,
    }
    return out


def _floats(frame: pd.DataFrame, column: str, rows: int) -> np.ndarray:
    if column not in frame:
        return np.full(rows, np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
