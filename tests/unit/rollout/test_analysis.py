"""Step analysis on synthetic rows: waiting, breaching only on significant regressions beyond
the limits, accuracy from labels or estimates, and shadow agreement."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

from keel.domain.policy import Rollout
from keel.monitoring.drift import ReferenceProfile
from keel.monitoring.estimation import Calibrator
from keel.monitoring.references import Reference
from keel.rollout import analysis
from keel.rollout.analysis import analyse_step, shadow_agreement, stats_of
from keel.rollout.limits import Limits

LIMITS = Limits.resolve(Rollout())


def rows(
    n: int,
    *,
    errors: int = 0,
    latency: float = 20.0,
    prefix: str = "r",
    seed: int = 0,
    prediction: int = 1,
    score: float | None = None,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "request_id": [f"{prefix}{i}" for i in range(n)],
            "status": ["error"] * errors + ["ok"] * (n - errors),
            "latency_ms": rng.lognormal(np.log(latency), 0.3, n),
            "prediction": [prediction] * n,
            "score": [np.nan if score is None else score] * n,
        }
    )


def labels_for(frame: pd.DataFrame, wrong: int) -> pd.DataFrame:
    truth = frame["prediction"].to_numpy().copy()
    truth[:wrong] = 1 - truth[:wrong]
    return pd.DataFrame({"request_id": frame["request_id"], "label": truth})


@pytest.fixture(scope="module")
def reference() -> Reference:
    profile = ReferenceProfile.build(pd.DataFrame({"x": np.linspace(0, 1, 50)}))
    return Reference(
        snapshot="train/1",
        task="classification",
        classes=[0, 1],
        features=["x"],
        target="y",
        inputs=profile,
        outputs=None,
        labels=None,
        calibrator=Calibrator.identity([0, 1]),
        rows=50,
    )


def test_docstring_examples_run() -> None:
    from keel.rollout import limits, variant_stats, window

    for module in (analysis, window, limits, variant_stats):
        assert doctest.testmod(module).failed == 0


def test_too_few_rows_wait_even_when_they_look_bad() -> None:
    result = analyse_step(rows(400), rows(150, errors=75), LIMITS, elapsed_s=1e6, interval_s=60)
    assert result.verdict == "wait" and "150" in result.reasons[0] and not result.checks


def test_a_clear_error_regression_breaches_and_noise_above_the_limit_does_not() -> None:
    bad = analyse_step(rows(400), rows(300, errors=30), LIMITS, elapsed_s=0, interval_s=600)
    assert bad.verdict == "breach" and bad.breaches[0].metric == "error_rate"
    assert bad.candidate.error_rate == pytest.approx(0.1)
    # 2.5% against 0% is above the +2% limit, but 5 errors in 200 rows are not evidence
    noisy = analyse_step(rows(200), rows(200, errors=5), LIMITS, elapsed_s=0, interval_s=600)
    check = noisy.checks[0]
    assert check.candidate - check.stable > LIMITS.max_error_rate_increase
    assert check.p_value is not None and check.p_value > analysis.SIGNIFICANCE
    assert noisy.verdict == "wait" and not noisy.breaches


def test_latency_breaches_on_a_slower_version_not_on_a_few_slow_requests() -> None:
    slower = analyse_step(
        rows(500), rows(300, latency=40.0, seed=1), LIMITS, elapsed_s=700, interval_s=600
    )
    assert slower.verdict == "breach" and "latency p99" in slower.reasons[0]
    spiky = rows(300, seed=2)
    spiky.loc[:2, "latency_ms"] = 5_000.0  # three stuck requests: p99 x100, but 1% of rows
    result = analyse_step(rows(500), spiky, LIMITS, elapsed_s=700, interval_s=600)
    latency = next(c for c in result.checks if c.metric == "latency_p99_ms")
    assert latency.candidate > 1.5 * latency.stable and not latency.breached
    assert result.verdict == "pass"


def test_the_interval_must_run_out_before_a_pass() -> None:
    waiting = analyse_step(rows(300), rows(300, seed=3), LIMITS, elapsed_s=100, interval_s=600)
    assert waiting.verdict == "wait" and "100 of 600 s" in waiting.reasons[0]
    assert [c.metric for c in waiting.checks] == ["error_rate", "latency_p99_ms"]
    assert (
        analyse_step(rows(300), rows(300, seed=3), LIMITS, elapsed_s=600, interval_s=600).verdict
        == "pass"
    )


def test_accuracy_from_labels_needs_enough_labelled_rows(reference: Reference) -> None:
    stable, candidate = rows(300, prefix="s"), rows(300, prefix="c")
    labels = pd.concat([labels_for(stable, 6), labels_for(candidate[:150], 45)])
    result = analyse_step(
        stable, candidate, LIMITS, elapsed_s=700, interval_s=600,
        labels=labels, reference_of=lambda side: reference,
    )  # fmt: skip
    assert (result.stable.labelled, result.candidate.labelled) == (300, 150)
    assert result.candidate.accuracy == pytest.approx(0.7)
    assert result.verdict == "breach" and "accuracy (labels)" in result.reasons[0]
    few = Limits.resolve(Rollout(min_labelled_rows=200))
    quiet = analyse_step(
        stable, candidate, few, elapsed_s=700, interval_s=600,
        labels=labels, reference_of=lambda side: reference,
    )  # fmt: skip
    assert quiet.candidate.accuracy is None and quiet.verdict == "pass"  # no scores: no estimate
    assert "accuracy" not in [c.metric for c in quiet.checks]


def test_accuracy_estimates_stand_in_for_missing_labels(reference: Reference) -> None:
    confident = rows(300, prefix="s", score=0.97)
    unsure = rows(300, prefix="c", score=0.62)
    result = analyse_step(
        confident,
        unsure,
        LIMITS,
        elapsed_s=700,
        interval_s=600,
        reference_of=lambda side: reference,
    )
    assert result.stable.estimated_accuracy == pytest.approx(0.97)
    assert result.candidate.estimated_accuracy == pytest.approx(0.62)
    assert result.verdict == "breach" and "accuracy (estimates)" in result.reasons[0]
    without = analyse_step(
        confident, unsure, LIMITS, elapsed_s=700, interval_s=600,
        reference_of=lambda side: reference, accuracy=False,
    )  # fmt: skip
    assert without.verdict == "pass"


def test_regression_models_and_missing_references_have_no_accuracy(reference: Reference) -> None:
    from dataclasses import replace

    regression = replace(reference, task="regression", classes=[], calibrator=None)
    measured = stats_of(rows(50, score=0.9), reference=regression)
    assert (measured.accuracy, measured.estimated_accuracy) == (None, None)
    assert stats_of(rows(50, score=0.9), reference=None).estimated_accuracy is None
    empty = stats_of(rows(0))
    assert (empty.rows, empty.error_rate, empty.latency_p99_ms) == (0, None, None)


def test_shadow_agreement_pairs_answers_by_request() -> None:
    stable = pd.DataFrame(
        {"request_id": ["a", "b", "c", "d"], "prediction": [1, 0, 1, 1], "status": ["ok"] * 4}
    )
    shadow = pd.DataFrame(
        {"request_id": ["b", "c", "d", "e"], "prediction": [0, 0, 1, 1],
         "status": ["ok", "ok", "error", "ok"]}
    )  # fmt: skip
    assert shadow_agreement(stable, shadow) == {
        "paired": 2,
        "agreement": 0.5,
        "mean_abs_difference": 0.5,
    }
    words = shadow_agreement(
        stable.assign(prediction=["x", "y", "x", "x"]),
        shadow.assign(prediction=["y", "y", "x", "z"]),
    )
    assert (words["agreement"], words["mean_abs_difference"]) == (0.5, None)
    assert shadow_agreement(stable, shadow.assign(request_id=list("wxyz")))["paired"] == 0
