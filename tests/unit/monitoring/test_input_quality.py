"""Data quality from serving's input checks: values never seen in training counted per feature
and check, rejected rows counted apart and kept out of error rates."""

from __future__ import annotations

import pandas as pd

from keel.monitoring.input_quality import input_quality
from keel.monitoring.operations import operations
from keel.rollout.analysis import stats_of

AGE = '{"field":"age","code":"out_of_range"}'
PLAN = '{"field":"plan","code":"unseen_category"}'


def window() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "status": ["ok", "ok", "rejected", "rejected", "error", "ok"],
            "warnings": [None, f"[{AGE}]", f"[{AGE},{PLAN}]", f"[{PLAN}]", None, "not json"],
            "latency_ms": [1.0] * 6,
            "cpu_ms": [1.0] * 6,
            "timestamp": pd.date_range("2026-01-01", periods=6, freq="s", tz="UTC"),
        }
    )


def test_each_feature_and_check_is_one_issue_with_its_counts() -> None:
    found = input_quality(window())
    issues = {(i["column"], i["code"]): i for i in found.issues}
    assert set(issues) == {("age", "out_of_range"), ("plan", "unseen_category")}
    assert (
        issues[("age", "out_of_range")]["rows"],
        issues[("age", "out_of_range")]["rejected"],
    ) == (2, 1)
    assert issues[("plan", "unseen_category")]["rows"] == 2
    assert issues[("plan", "unseen_category")]["rejected"] == 2
    assert issues[("age", "out_of_range")]["problem"] == (
        "2 of 6 rows outside the training range (1 rejected)"
    )
    assert (found.flagged_rows, found.rejected_rows) == (2, 2)  # "not json" counts, names nothing


def test_a_log_without_the_columns_has_nothing_to_say() -> None:
    found = input_quality(pd.DataFrame({"x": [1, 2]}))
    assert (found.issues, found.flagged_rows, found.rejected_rows) == ([], 0, 0)


def test_rejected_rows_are_not_errors_nor_in_the_error_rate() -> None:
    stats = operations(window(), cpu_hour_price=0.0, request_price=0.0)
    assert (stats["errors"], stats["rejected"], stats["rows"]) == (1, 2, 6)
    assert stats["error_rate"] == 1 / 4
    every = window().assign(status="rejected")
    assert operations(every, cpu_hour_price=0.0, request_price=0.0)["error_rate"] is None


def test_canary_error_rates_leave_rejected_rows_out() -> None:
    rows = window().assign(request_id=[str(i) for i in range(6)], prediction=[1] * 6)
    stats = stats_of(rows)
    assert (stats.rows, stats.errors, stats.rejected, stats.scored) == (6, 1, 2, 4)
    assert stats.error_rate == 1 / 4
