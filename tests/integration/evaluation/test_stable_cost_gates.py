"""Cost measured against the champion in k interleaved runs, gates on the ratio, and `keel gate`
reusing a fresh evaluation instead of measuring again. No assertion here depends on how fast the
machine is: only on what was recorded and which evaluation a verdict judged."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from keel.client import Client
from keel.registry.clock import replayed, utcnow

from .conftest import HOLDOUT_SUITE, Cancer

RATIO = "latency_p99_ms <= 1000x champion"


def policy(*, cost: bool = True, **gates: Any) -> dict[str, Any]:
    suite = {**HOLDOUT_SUITE, "slices": {}, "resamples": 0, "measure_cost": cost}
    checks = ["accuracy >= 0.5", *([RATIO] if cost else [])]
    return {"suites": {"holdout": suite}, "gates": {"checks": checks, "cost_runs": 2, **gates}}


def test_cost_is_the_median_of_interleaved_runs_and_the_gate_judges_the_ratio(
    registered: Client,
) -> None:
    registered.set_policy("cancer", policy())
    evaluation = registered.evaluate("cancer/2")
    detail = evaluation.results["cost_detail"]
    assert detail["runs"] == 2 and detail["champion_error"] is None
    low, high = detail["spread"]["latency_p99_ms"]
    assert low <= evaluation.results["cost"]["latency_p99_ms"] <= high
    theirs = detail["champion"]["latency_p99_ms"]
    assert detail["ratio"]["latency_p99_ms"] == pytest.approx(
        evaluation.results["cost"]["latency_p99_ms"] / theirs
    )
    again, outcome = registered.gate("cancer/2")
    assert again.reused and again.id == evaluation.id  # judged, not measured a second time
    [ratio_check] = [c for c in outcome.checks if c["gate"] == RATIO]
    assert ratio_check["value"] == detail["ratio"]["latency_p99_ms"]
    assert ratio_check["threshold"] == "<= 1000x champion" and ratio_check["passed"]
    assert "median of 2 runs" in ratio_check["detail"]
    assert registered.gate_history("cancer/2")[-1].evaluation_id == evaluation.id
    [audited] = registered.audit_log(action="gate.blessed")
    assert audited.details["cause"] == f"reused evaluation {evaluation.id}"


def test_an_old_evaluation_other_data_or_another_champion_is_measured_again(
    registered: Client, cancer: Cancer
) -> None:
    registered.set_policy("cancer", policy(cost=False))
    first = registered.evaluate("cancer/2")
    later = utcnow() + timedelta(hours=2)
    with replayed(lambda: later):
        older, _ = registered.gate("cancer/2")  # the policy's default age is 1h
    assert not older.reused and older.id != first.id
    registered.set_policy("cancer", policy(cost=False, reuse_evaluation="off"))
    never, _ = registered.gate("cancer/2")
    assert not never.reused
    registered.set_policy("cancer", policy(cost=False, reuse_evaluation="1d"))
    assert registered.gate("cancer/2")[0].id == never.id  # reusable again
    registered.register_snapshot(cancer.holdout.iloc[:150], "holdout")  # holdout/2
    fresh, _ = registered.gate("cancer/2")
    assert not fresh.reused and fresh.snapshot()["ref"] == "holdout/2"
    registered.set_alias("cancer", "champion", 2, reason="compare with nothing now")
    alone, outcome = registered.gate("cancer/2")
    assert not alone.reused and outcome.champion is None
    registered.set_policy("cancer", policy(cost=False, cost_runs=3, reuse_evaluation="1d"))
    assert not registered.gate("cancer/2")[0].reused  # another number of cost runs
