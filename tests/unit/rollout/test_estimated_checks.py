"""Canary analysis judges every estimated metric a monitoring rule names: the candidate's
estimate on its step rows against the rule's threshold or its reference limit at the step's
size, a breach only when the stable version is within its own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from keel.domain.alert_rules import parse_alert_rule
from keel.domain.policy import Rollout
from keel.monitoring.drift import ReferenceProfile
from keel.monitoring.estimation import Calibrator
from keel.monitoring.reference_limits import build_limits
from keel.monitoring.references import Reference
from keel.rollout.analysis import analyse_step
from keel.rollout.limits import Limits

LIMITS = Limits.resolve(Rollout())
RULES = [
    parse_alert_rule("estimated_accuracy below reference"),
    parse_alert_rule("estimated_roc_auc below reference"),
    parse_alert_rule("estimated_f1 < 0.5"),
    parse_alert_rule("drifted_features >= 3"),  # not an estimate: no check
]


def rows(n: int, sharpness: float, prefix: str, seed: int) -> pd.DataFrame:
    """Scores ``sharpness`` away from 0.5 on average: 0.45 is a confident model, 0.05 a lost one."""
    rng = np.random.default_rng(seed)
    score = np.clip(0.5 + rng.choice([-1, 1], n) * rng.uniform(0, 2 * sharpness, n), 0, 1)
    return pd.DataFrame(
        {
            "request_id": [f"{prefix}{i}" for i in range(n)],
            "status": ["ok"] * n,
            "latency_ms": np.full(n, 10.0),
            "prediction": (score >= 0.5).astype(int),
            "score": score,
        }
    )


@pytest.fixture(scope="module")
def reference() -> Reference:
    rng = np.random.default_rng(0)
    held = rows(5_000, 0.35, "h", 1)
    truth = (rng.random(5_000) < held["score"]).astype(int).to_numpy()
    limits = build_limits(
        "classification",
        [0, 1],
        truth,
        held["prediction"].to_numpy(),
        held["score"].to_numpy(),
        chunk_rows=1_000,
    )
    return Reference(
        snapshot="train/1",
        task="classification",
        classes=[0, 1],
        features=["x"],
        target="y",
        inputs=ReferenceProfile.build(pd.DataFrame({"x": np.linspace(0, 1, 50)})),
        outputs=None,
        labels=None,
        calibrator=Calibrator.identity([0, 1]),
        rows=5_000,
        limits=limits,
    )


def analyse(stable: pd.DataFrame, candidate: pd.DataFrame, reference: Reference, rules=RULES):  # type: ignore[no-untyped-def]
    return analyse_step(
        stable,
        candidate,
        LIMITS,
        elapsed_s=10,
        interval_s=600,
        reference_of=lambda side: reference,
        rules=rules,
    )


def test_every_estimate_is_measured_with_its_error(reference: Reference) -> None:
    result = analyse(rows(800, 0.35, "s", 2), rows(800, 0.35, "c", 3), reference, rules=())
    measured = result.candidate
    assert set(measured.estimated) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    assert all(0 < measured.estimated_se[m] < 0.1 for m in measured.estimated)
    assert measured.estimated_rows == 800
    assert measured.estimated_accuracy == measured.estimated["accuracy"]
    assert [c.metric for c in result.checks] == ["error_rate", "latency_p99_ms", "accuracy"]


def test_a_candidate_whose_estimates_fall_below_its_reference_breaches(
    reference: Reference,
) -> None:
    calm = analyse(rows(800, 0.35, "s", 4), rows(800, 0.33, "c", 5), reference)
    estimated = {c.metric: c for c in calm.checks if c.metric.startswith("estimated_")}
    assert set(estimated) == {"estimated_accuracy", "estimated_roc_auc", "estimated_f1"}
    assert not any(c.breached for c in estimated.values()) and calm.verdict == "wait"
    limit = reference.limits.get("accuracy").limit([800])  # type: ignore[union-attr]
    assert estimated["estimated_accuracy"].limit == pytest.approx(limit)

    lost = analyse(rows(800, 0.35, "s", 4), rows(800, 0.08, "c", 6), reference)
    assert lost.verdict == "breach"
    breached = {c.metric for c in lost.breaches}
    assert {"estimated_accuracy", "estimated_roc_auc"} <= breached
    assert any("estimated_accuracy" in reason and "800 rows" in reason for reason in lost.reasons)


def test_when_both_versions_breach_the_data_moved_not_the_candidate(
    reference: Reference,
) -> None:
    both = analyse(rows(800, 0.08, "s", 7), rows(800, 0.08, "c", 8), reference)
    estimated = [c for c in both.checks if c.metric.startswith("estimated_")]
    assert estimated and not any(c.breached for c in estimated)
    assert any("the data moved" in c.detail for c in estimated)


def test_a_sticky_step_is_held_to_the_limit_of_the_keys_it_is_worth(reference: Reference) -> None:
    """400 rows whose keys make them worth 50 independent ones get the wider limit of 50 rows:
    an estimate that would breach 400 independent rows' limit does not breach it."""
    from keel.rollout.estimated_checks import Estimates, estimated_checks

    accuracy = reference.limits.get("accuracy")  # type: ignore[union-attr]
    between = (accuracy.limit([400]) + accuracy.limit([50])) / 2  # below 400's, above 50's
    rule = [parse_alert_rule("estimated_accuracy below reference")]
    stable = Estimates({"accuracy": accuracy.mean}, 400)
    sides = {"stable": reference, "candidate": reference}
    (independent,) = estimated_checks(rule, stable, Estimates({"accuracy": between}, 400), sides)
    (clustered,) = estimated_checks(
        rule, stable, Estimates({"accuracy": between}, 400, effect=8.0), sides
    )
    assert independent.breached and independent.limit == pytest.approx(accuracy.limit([400]))
    assert not clustered.breached and clustered.limit == pytest.approx(accuracy.limit([50]))
    assert "worth 50 independent ones by key" in clustered.detail
    assert Estimates({}, 0, effect=3.0).effective_rows == 0
    assert Estimates({}, 10, effect=0.5).effective_rows == 10  # never more than its rows
