"""Gate checks on evaluation results: every kind of gate, pass and fail, with its reason."""

from __future__ import annotations

from typing import Any

import pytest

from keel.domain.policy import Policy, parse_gate
from keel.evaluation.gates import check_gate, run_gates
from keel.evaluation.runner import Evaluation


def quantiles(centre: float, spread: float) -> dict[str, float]:
    z = {
        "0.005": -2.576,
        "0.01": -2.326,
        "0.025": -1.96,
        "0.05": -1.645,
        "0.1": -1.2816,
        "0.5": 0.0,
        "0.9": 1.2816,
        "0.95": 1.645,
        "0.975": 1.96,
        "0.99": 2.326,
        "0.995": 2.576,
    }
    return {k: centre + v * spread for k, v in z.items()}


def snapshot(ref: str = "holdout/1", **changes: Any) -> dict[str, Any]:
    snap: dict[str, Any] = {
        "ref": ref,
        "sha256": "ab" * 32,
        "rows": 1000,
        "metrics": {"rows": 1000, "accuracy": 0.91, "roc_auc": 0.95, "log_loss": 0.25},
        "slices": {
            "young": {"rows": 120, "accuracy": 0.82, "recall": 0.55},
            "empty": {"rows": 0},
        },
        "baselines": {"majority": {"rows": 1000, "accuracy": 0.88, "log_loss": 0.36}},
        "quality": [],
        "comparison": {
            "champion_metrics": {"accuracy": 0.905, "roc_auc": 0.952, "log_loss": 0.24},
            "differences": {
                "accuracy": {"difference": 0.005, "quantiles": quantiles(0.005, 0.004)},
                "roc_auc": {"difference": -0.002, "quantiles": quantiles(-0.002, 0.003)},
                "log_loss": {"difference": 0.01, "quantiles": quantiles(0.01, 0.01)},
                "brier": {"difference": 0.001},
            },
        },
    }
    snap.update(changes)
    return snap


def evaluation(*snapshots: dict[str, Any], cost: dict[str, float] | None = None) -> Evaluation:
    results: dict[str, Any] = {"snapshots": list(snapshots) or [snapshot()]}
    if cost is not None:
        results["cost"] = cost
    return Evaluation("credit/2", "holdout", "finished", results)


def one(text: str, ev: Evaluation | None = None) -> dict[str, Any]:
    checks = check_gate(parse_gate(text), ev or evaluation())
    assert len(checks) == 1
    return checks[0]


@pytest.mark.parametrize(
    ("text", "passed"),
    [
        ("accuracy >= 0.91", True),
        ("accuracy > 0.91", False),
        ("accuracy >= 0.92", False),
        ("log_loss <= 0.25", True),
        ("log_loss < 0.25", False),
        ("roc_auc > 0.9", True),
    ],
)
def test_absolute_thresholds(text: str, passed: bool) -> None:
    check = one(text)
    assert check["passed"] is passed
    assert check["kind"] == "absolute" and check["snapshot"] == "holdout/1"
    assert check["detail"] == "1000 rows"


def test_a_metric_that_was_not_computed_fails() -> None:
    check = one("f1 >= 0.5")
    assert not check["passed"] and check["value"] is None
    assert check["detail"] == "f1 was not computed"


def test_slice_gates() -> None:
    young = one("slice young: recall >= 0.5")
    assert young["passed"] and young["value"] == 0.55 and young["detail"] == "120 rows"
    assert not one("slice young: accuracy >= 0.9")["passed"]
    empty = one("slice empty: accuracy >= 0.5")
    assert not empty["passed"] and empty["detail"] == "the slice has no rows"


def test_cost_gates() -> None:
    ev = evaluation(cost={"size_mb": 12.0, "latency_p99_ms": 30.0})
    assert one("size_mb <= 50", ev)["passed"]
    slow = one("latency_p99_ms <= 20", ev)
    assert not slow["passed"] and slow["value"] == 30.0 and slow["snapshot"] is None
    unmeasured = one("peak_memory_mb <= 100", ev)
    assert not unmeasured["passed"] and unmeasured["detail"] == "cost was not measured"
    assert one("size_mb <= 50", evaluation())["detail"] == "cost was not measured"


def test_ratio_cost_gates_compare_with_the_champion_measured_beside_it() -> None:
    ev = evaluation(cost={"latency_p99_ms": 30.0})
    ev.results["cost_detail"] = {
        "runs": 5,
        "spread": {"latency_p99_ms": [25.0, 90.0]},
        "champion": {"latency_p99_ms": 25.0},
        "ratio": {"latency_p99_ms": 1.2},
        "champion_error": None,
    }
    within = one("latency_p99_ms <= 1.5x champion", ev)
    assert within["passed"] and within["value"] == 1.2
    assert within["threshold"] == "<= 1.5x champion"
    assert within["detail"] == "30 vs champion 25; median of 5 runs, 25-90"
    assert not one("latency_p99_ms < 1.1x champion", ev)["passed"]
    budget = one("latency_p99_ms <= 40", ev)  # a plain budget judges the median, with its spread
    assert budget["passed"] and budget["detail"] == "median of 5 runs, 25-90"
    ev.results["cost_detail"].update(champion=None, ratio={})
    alone = one("latency_p99_ms <= 1.5x champion", ev)
    assert alone["passed"] and alone["detail"].endswith("nothing to compare with")
    ev.results["cost_detail"]["champion_error"] = "the champion failed to predict"
    failed = one("latency_p99_ms <= 1.5x champion", ev)
    assert not failed["passed"] and failed["detail"] == "the champion failed to predict"
    assert not one("latency_p99_ms <= 1.5x champion", evaluation())["passed"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("accuracy <= 2x champion", "a ratio to the champion is a cost budget"),
        ("latency_p99_ms <= 0x champion", "the ratio must be above 0"),
        ("latency_p99_ms >= 2x champion", "is not a gate"),
    ],
)
def test_ratio_gates_are_cost_budgets(text: str, problem: str) -> None:
    from keel.errors import InvalidInput

    with pytest.raises(InvalidInput, match=problem):
        parse_gate(text)


def test_the_policy_sets_cost_runs_and_the_reuse_age() -> None:
    from datetime import timedelta

    from keel.errors import InvalidInput

    default = Policy.parse({})
    assert default.gates.cost_runs == 5 and default.gates.reuse_age == timedelta(hours=1)
    assert not default.gates.compares_with_champion
    off = Policy.parse({"gates": {"reuse_evaluation": False, "cost_runs": 9}})
    assert off.gates.reuse_age is None and off.to_dict()["gates"]["reuse_evaluation"] == "off"
    ratio = Policy.parse({"gates": {"checks": ["size_mb <= 2x champion"]}})
    assert ratio.gates.compares_with_champion
    for bad, field in (({"cost_runs": 0}, "cost_runs"), ({"reuse_evaluation": "soon"}, "reuse")):
        with pytest.raises(InvalidInput) as raised:
            Policy.parse({"gates": bad})
        assert raised.value.field == f"policy.gates.{field}" or field in raised.value.field


def test_comparative_gates_use_the_one_sided_bound() -> None:
    # roc_auc: difference -0.002, lower 95% one-sided bound -0.002 - 1.645 * 0.003 = -0.006935
    close = one("roc_auc not worse than champion by more than 0.01")
    assert close["passed"] and close["value"] == -0.002
    assert "lower bound -0.006935" in close["detail"]
    assert close["threshold"] == "diff >= -0.01 at 95%"
    assert not one("roc_auc not worse than champion by more than 0.005")["passed"]
    # at 99% the bound is -0.002 - 2.326 * 0.003 = -0.008978
    assert one("roc_auc not worse than champion by more than 0.009 at 99% confidence")["passed"]
    assert not one("roc_auc not worse than champion by more than 0.0085 at 99% confidence")[
        "passed"
    ]
    # log_loss is better when lower: its upper bound 0.01 + 1.645 * 0.01 = 0.02645 must stay small
    loss = one("log_loss not worse than champion by more than 0.03")
    assert loss["passed"] and loss["threshold"] == "diff <= +0.03 at 95%"
    assert "upper bound +0.02645" in loss["detail"]
    assert not one("log_loss not worse than champion by more than 0.02")["passed"]


def test_comparative_gates_without_a_usable_comparison() -> None:
    first = one(
        "accuracy not worse than champion by more than 0",
        evaluation(snapshot(comparison=None)),
    )
    assert first["passed"] and "nothing to compare with" in first["detail"]
    broken = one(
        "accuracy not worse than champion by more than 0",
        evaluation(snapshot(comparison={"error": "credit/1 failed to predict: boom"})),
    )
    assert not broken["passed"] and "boom" in broken["detail"]
    no_interval = one("brier not worse than champion by more than 0.1")
    assert not no_interval["passed"] and no_interval["detail"] == "no interval for brier"
    assert not one("f1 not worse than champion by more than 0.1")["passed"]


def test_baseline_gates() -> None:
    beats = one("accuracy beats baseline majority")
    assert beats["passed"] and beats["threshold"] == "> 0.88 (majority)"
    assert beats["detail"] == "majority scores 0.88"
    assert not one("accuracy beats majority by 0.05")["passed"]
    assert one("log_loss beats majority by 0.1")["passed"]  # 0.25 < 0.36 - 0.1
    assert not one("log_loss beats majority by 0.2")["passed"]
    tie = evaluation(snapshot(baselines={"majority": {"accuracy": 0.91}}))
    assert not one("accuracy beats majority", tie)["passed"]  # equal is not beating
    persistence = one("accuracy beats baseline persistence")
    assert not persistence["passed"]
    assert persistence["detail"] == "no persistence baseline: the suite is not time-ordered"
    assert one("roc_auc beats majority")["detail"] == "roc_auc was not computed"


def test_gates_naming_a_snapshot() -> None:
    ev = evaluation(
        snapshot("holdout/1"),
        snapshot("recent/3", metrics={"rows": 50, "accuracy": 0.7}),
    )
    both = check_gate(parse_gate("accuracy >= 0.8"), ev)
    assert [(c["snapshot"], c["passed"]) for c in both] == [
        ("holdout/1", True),
        ("recent/3", False),
    ]
    assert one("accuracy >= 0.8 on holdout", ev)["passed"]
    assert not one("accuracy >= 0.8 on recent/3", ev)["passed"]
    missing = one("accuracy >= 0.8 on archive", ev)
    assert not missing["passed"] and missing["detail"] == "no such snapshot in the suite"


def policy(*checks: str, profile: str = "low") -> Policy:
    return Policy.parse({"risk_profile": profile, "gates": {"checks": list(checks)}})


def test_blessed_only_when_every_check_passes() -> None:
    good = run_gates(
        policy("accuracy >= 0.9", "accuracy beats majority", profile="medium"), evaluation()
    )
    assert good.blessed and good.verdict == "blessed" and good.reasons == []
    assert good.risk_profile == "medium" and len(good.checks) == 2
    bad = run_gates(policy("accuracy >= 0.95", "slice young: recall >= 0.5"), evaluation())
    assert bad.verdict == "rejected" and not bad.blessed
    assert bad.reasons == ["accuracy >= 0.95 on holdout/1: 0.91 (1000 rows)"]
    assert bad.to_dict()["checks"][1]["passed"] is True


def test_no_gates_or_a_failed_evaluation_is_rejected() -> None:
    empty = run_gates(policy(), evaluation())
    assert empty.verdict == "rejected" and empty.reasons == ["the policy declares no gates"]
    failed = Evaluation("credit/2", "holdout", "failed", {}, "credit/2 failed to predict: boom")
    outcome = run_gates(policy("accuracy >= 0.5"), failed)
    assert outcome.verdict == "rejected" and outcome.checks == []
    assert outcome.reasons == ["the evaluation failed: credit/2 failed to predict: boom"]


def test_a_guarded_policy_whose_gates_compare_needs_a_suite_that_compares() -> None:
    from keel.errors import InvalidInput

    suite = {"snapshots": ["holdout"], "target": "y", "compare_with": ""}
    checks = ["accuracy >= 0.9", "latency_p99_ms <= 2x champion"]
    with pytest.raises(InvalidInput) as raised:
        Policy.parse(
            {"risk_profile": "medium", "suites": {"s": suite}, "gates": {"checks": checks}}
        )
    assert raised.value.field == "policy.suites.s.compare_with"
    assert "set compare_with: champion" in raised.value.problem
    unguarded = Policy.parse({"suites": {"s": suite}, "gates": {"checks": checks}})
    assert unguarded.risk_profile == "low"  # nothing is promoted on its blessing
