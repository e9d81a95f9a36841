"""The pure helpers of ``bench/dashboard.py``: Server-Timing parsing, percentiles, cold and warm
samples, the store marker, and the store plan's champions."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from _dashboard_pages import Samples, percentile, server_ms
from _dashboard_store import ModelReport, StoreSpec, role
from dashboard import MARKER, make_marker, marker_matches, read_marker


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("app;dur=12.3", 12.3),
        ("db;dur=4, app;dur=250", 250.0),
        ('app;desc="render";dur=7.5', 7.5),
        ("APP;DUR=1", 1.0),
        ("db;dur=4", None),
        ("", None),
        (None, None),
    ],
)
def test_server_timing_reads_the_app_entry(header: str | None, expected: float | None) -> None:
    assert server_ms(header) == expected


@pytest.mark.parametrize("q", [0, 25, 50, 95, 99, 100])
def test_percentile_matches_numpy(q: float) -> None:
    values = [5.0, 1.0, 9.0, 3.0, 7.5, 2.25, 11.0]
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 50))


def test_the_first_request_is_cold_and_kept_apart() -> None:
    samples = Samples(urls=1)
    samples.add(900.0, 910.0, 2048)
    for ms in (10.0, 20.0, 30.0):
        samples.add(ms, ms + 2, 1024)
    summary = samples.summary(limit_ms=300)
    assert summary["cold_ms"] == 900.0 and summary["cold_wall_ms"] == 910.0
    assert summary["p50_ms"] == 20.0 and summary["max_ms"] == 30.0
    assert summary["requests"] == 4
    assert summary["under_limit"] and not summary["cold_under_limit"]


def test_an_error_or_a_slow_request_fails_the_limit() -> None:
    slow = Samples()
    for ms in (1.0, 5.0, 301.0):
        slow.add(ms, ms, 1)
    assert not slow.summary(limit_ms=300)["under_limit"]
    failed = Samples()
    for ms in (1.0, 2.0):
        failed.add(ms, ms, 1)
    failed.errors.append("/ui/x: HTTP 500")
    assert not failed.summary(limit_ms=300)["under_limit"]


def test_a_marker_is_reused_only_when_complete_with_the_same_parameters(tmp_path: Path) -> None:
    spec = StoreSpec(models=2, versions_per_model=3, predictions=100, days=4)
    assert read_marker(tmp_path) is None
    (tmp_path / MARKER).write_text("{not json")
    assert read_marker(tmp_path) is None
    reports = [ModelReport("a", versions=3, rows=50, windows=4), ModelReport("b", versions=3)]
    marker = make_marker(spec.params(), reports, 12.5)
    (tmp_path / MARKER).write_text(json.dumps(marker))
    found = read_marker(tmp_path)
    assert marker_matches(found, spec.params())
    assert found is not None and found["totals"]["versions"] == 6 and found["totals"]["rows"] == 50
    other = StoreSpec(models=2, versions_per_model=3, predictions=100, days=5)
    assert not marker_matches(found, other.params())
    (tmp_path / MARKER).write_text(json.dumps({**marker, "complete": False}))
    assert read_marker(tmp_path) is None


def test_champions_are_evenly_spaced_and_serve_the_days_in_order() -> None:
    spec = StoreSpec(models=1, versions_per_model=100, predictions=1, days=60)
    assert spec.champions() == [20, 40, 60, 80, 100]
    served = [spec.served_by(day) for day in range(spec.days)]
    assert served == sorted(served) and served[0] == 0 and served[-1] == 4
    assert [served.count(k) for k in range(5)] == [12] * 5
    few = StoreSpec(models=1, versions_per_model=3, predictions=1, days=10)
    assert few.champions() == [1, 2, 3]


def test_roles_give_some_models_drift_noisy_labels_and_gates() -> None:
    spec = StoreSpec(models=20, versions_per_model=1, predictions=1, days=1)
    roles = [role(i, spec) for i in range(20)]
    assert sum(r["drifting"] for r in roles) == 2
    assert sum(r["noisy_labels"] for r in roles) == 2
    assert sum(r["gated"] for r in roles) == 2
