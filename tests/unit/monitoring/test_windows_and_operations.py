"""Cutting the log into windows, and the operations figures of a window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.monitoring.operations import operations
from keel.monitoring.windows import cut_by_rows, cut_by_time


def log_frame(versions: list[int], start: datetime | None = None, step_s: float = 1.0):  # type: ignore[no-untyped-def]
    begin = start or datetime(2026, 1, 1, tzinfo=UTC)
    return pd.DataFrame(
        {
            "version": versions,
            "timestamp": [begin + timedelta(seconds=i * step_s) for i in range(len(versions))],
            "request_id": [f"r{i}" for i in range(len(versions))],
        }
    )


@settings(deadline=None, max_examples=60)
@given(st.lists(st.sampled_from([1, 2, 3]), max_size=300), st.integers(min_value=1, max_value=50))
def test_row_windows_keep_every_row_once(versions: list[int], size: int) -> None:
    frame = log_frame(versions)
    closed, waiting = cut_by_rows(frame, size)
    assert all(len(w) == size and w["version"].nunique() == 1 for w in closed)
    seen = [r for w in closed for r in w["request_id"]] + list(waiting["request_id"])
    assert sorted(seen) == sorted(frame["request_id"])
    for version in set(versions):
        assert (waiting["version"] == version).sum() < size


def test_time_windows_close_behind_newer_rows_or_after_a_period() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    frame = log_frame([1] * 180, start, step_s=60)  # three hours, one row a minute
    closed, waiting = cut_by_time(frame, timedelta(hours=1), now=start + timedelta(hours=3))
    assert [len(w) for w in closed] == [60, 60] and len(waiting) == 60
    closed, waiting = cut_by_time(frame, timedelta(hours=1), now=start + timedelta(hours=4))
    assert [len(w) for w in closed] == [60, 60, 60] and waiting.empty


def test_time_windows_split_versions() -> None:
    frame = log_frame([1, 2] * 30, step_s=120)
    closed, _ = cut_by_time(frame, timedelta(hours=1), now=datetime(2026, 1, 2, tzinfo=UTC))
    assert sorted((int(w["version"].iloc[0]), len(w)) for w in closed) == [
        (1, 15),
        (1, 15),
        (2, 15),
        (2, 15),
    ]


def test_operations_percentiles_errors_throughput_and_cost() -> None:
    rows = 1000
    frame = log_frame([1] * rows, step_s=0.1)
    frame["latency_ms"] = np.arange(1, rows + 1, dtype=float)
    frame["cpu_ms"] = 2.0
    frame["status"] = ["error" if i % 100 == 0 else "ok" for i in range(rows)]
    stats = operations(frame, cpu_hour_price=0.36, request_price=0.0001)
    assert stats["latency_p50_ms"] == np.percentile(frame["latency_ms"], 50)
    assert stats["latency_p99_ms"] == np.percentile(frame["latency_ms"], 99)
    assert stats["error_rate"] == 0.01
    assert abs(stats["throughput_rps"] - rows / 99.9) < 1e-9
    cpu_cost = rows * 0.002 * 0.36 / 3600
    assert abs(stats["cost_per_1k"] - (cpu_cost + 0.0001 * rows)) < 1e-12


def test_operations_without_cpu_time_use_latency_and_say_so() -> None:
    frame = log_frame([1] * 4)
    frame["latency_ms"] = [1.0, 2.0, np.nan, 4.0]
    stats = operations(frame, cpu_hour_price=3.6, request_price=0.0)
    assert stats["cpu_estimated_rows"] == 3
    assert stats["cpu_seconds"] == 0.007
    assert stats["latency_p50_ms"] == 2.0  # the missing latency is left out, not a NaN
    empty_prices = operations(log_frame([1, 1]), cpu_hour_price=0.0, request_price=0.0)
    assert empty_prices["cost_per_1k"] is None and empty_prices["latency_p99_ms"] is None
