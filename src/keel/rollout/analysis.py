"""One step's analysis: is the candidate doing worse than the stable version?

On the rows a step received (``keel.rollout.window``) each version is measured the same way
(``keel.rollout.variant_stats``): its error rate (``status == "error"`` among the rows the
model was asked about: a row the input policy rejected never reached it and counts neither
way), its latency p99 and, for classifiers, its accuracy from delayed labels when at least
``min_labelled_rows`` of its rows have one, else its label-free CBPE estimate when its rows
carry scores (``keel.monitoring.estimation``). The candidate
breaches a limit only when the difference is both larger than the policy allows and
significant (one-sided, p < 0.01), the rule drift alarms follow too: a canary step of a few
hundred rows must not roll a good version back on noise, and a real regression is both.

- error rate: candidate minus stable above ``max_error_rate_increase``, two-proportion z-test;
- latency: candidate p99 above ``max_latency_p99_ratio`` times stable's, tested as more than
  1% of the candidate's rows slower than that bound (one-sided binomial test), so a few stuck
  requests in a small step cannot breach;
- accuracy: stable minus candidate above ``max_accuracy_drop``, z-test on the two accuracies
  (labels on both sides, or estimates on both sides; never one of each);
- every estimated metric (``estimated_accuracy``, ``_precision``, ``_recall``, ``_f1``,
  ``_roc_auc``) that a monitoring rule of the policy names (``rules``): the candidate's estimate
  on its step rows breaches the rule (its typed threshold, or for ``below reference`` the
  candidate's reference limit at the step's row count, so a small step is not judged by a
  window's limit) while the stable version's estimate on its own rows does not (when both
  breach, the data moved, not the candidate).

Counted by keys. On a sticky deployment (``sticky``) a customer's requests all go to one
version, and they are alike: a key that errors errors on most of its requests. Twenty requests
of one key are then not twenty independent rows, and a row-level z-test of a step where
customers come back 5 to 20 times breaches healthy canaries many times more often than its
1%. So, as the A/B test does (``keel.rollout.units``), rows that carry an entity key are
grouped by key (keyless rows, and every row of a deployment that is not sticky, stay one unit
each): the error rate and accuracy keep their per-request values, and each version's variance
is multiplied by its design effect, the cluster-robust (CR1) variance over the rows' own
(``keel.rollout.sequential.design_effect``; for the estimated accuracy, of each row's
calibrated chance of being right summed per key). The latency check keeps its question (is
more than 1% of the candidate's *requests* slower than the bound: the p99 is a share of
requests, and counting slow keys instead would ask another question, whose healthy share
grows with the requests per key), and answers it as Rao and Scott did for clustered binary
data: the slow and total row counts are divided by the design effect of the slow-request
indicator over keys before the binomial test, so one slow customer's 20 requests weigh as
about one observation, while slowness spread over many keys still breaches. With fewer than
``MIN_UNITS`` (30) keys on a side (400 rows from 3 keys are 3 observations) the checks still
run: the design effect is then estimated from few clusters (or not at all: 1 with a single
key), which errs towards rolling back, the safe error of the two, and a canary whose few keys
fail far more than the stable version's rolls back at once. A step that passes so says that it
saw few keys: its checks could only see a large regression. (Waiting for 30 keys instead would
hold forever a deployment routed by a handful of keys, such as a lender's branches.) Each
check's detail says which unit it used ("by 212 and 48 keys" or "by rows").

The verdict is ``wait`` until both versions have ``min_rows_per_step`` rows, ``breach`` as
soon as a limit is breached (even before the step's interval is over: a regression is rolled
back at once), ``wait`` while the interval runs, and ``pass`` after it.

>>> import pandas as pd
>>> from keel.domain.policy import Rollout
>>> from keel.rollout.limits import Limits
>>> ok = pd.DataFrame({"status": ["ok"] * 400, "latency_ms": [10.0] * 400})
>>> bad = ok.assign(status=["error"] * 80 + ["ok"] * 320)
>>> result = analyse_step(ok, bad, Limits.resolve(Rollout()), elapsed_s=60, interval_s=600)
>>> result.verdict, result.reasons[0][:38]
('breach', 'error rate 20.00% against 0.00% (+20.0')
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from keel.rollout.limits import Limits
from keel.rollout.sequential import MIN_UNITS
from keel.rollout.units import by_unit
from keel.rollout.variant_stats import UNANSWERED, VariantStats, floats_of, stats_of

if TYPE_CHECKING:
    import pandas as pd

    from keel.domain.alert_rules import AlertRule
    from keel.monitoring.references import Reference

__all__ = ["Check", "StepAnalysis", "VariantStats", "analyse_step", "shadow_agreement", "stats_of"]

SIGNIFICANCE = 0.01
Verdict = Literal["pass", "breach", "wait"]


@dataclass(frozen=True)
class Check:
    """One limit compared: the two values, the limit, and whether it was breached."""

    metric: str
    stable: float | None
    candidate: float | None
    limit: float
    breached: bool
    p_value: float | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StepAnalysis:
    verdict: Verdict
    reasons: list[str]
    stable: VariantStats
    candidate: VariantStats
    checks: list[Check] = field(default_factory=list)

    @property
    def breaches(self) -> list[Check]:
        return [c for c in self.checks if c.breached]

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reasons": self.reasons,
            "stable": self.stable.to_dict(),
            "candidate": self.candidate.to_dict(),
            "checks": [c.to_dict() for c in self.checks],
        }


def _counted(stable: VariantStats, candidate: VariantStats) -> str:
    """Which unit a check used, for its detail."""
    if stable.unit == candidate.unit == "rows":
        return "by rows"
    unit = stable.unit if stable.unit == candidate.unit else "keys and rows"
    return f"by {stable.units:,} and {candidate.units:,} {unit}"


def _widened(stable: float, candidate: float) -> str:
    if stable == candidate == 1.0:
        return ""
    return f", variance x{stable:.2g} and x{candidate:.2g}"


def _one_sided(z: float) -> float:
    return 1.0 - statistics.NormalDist().cdf(z)


def _error_check(stable: VariantStats, candidate: VariantStats, limits: Limits) -> Check:
    s, c = stable.error_rate or 0.0, candidate.error_rate or 0.0
    se = 0.0
    if stable.scored and candidate.scored:  # else every row was rejected: nothing to compare
        pooled = (stable.errors + candidate.errors) / (stable.scored + candidate.scored)
        spread = stable.error_effect / stable.scored + candidate.error_effect / candidate.scored
        se = math.sqrt(pooled * (1 - pooled) * spread)
    p_value = _one_sided((c - s) / se) if se > 0 else 1.0
    breached = c - s > limits.max_error_rate_increase and p_value < SIGNIFICANCE
    detail = (
        f"error rate {c:.2%} against {s:.2%} ({c - s:+.2%}, limit "
        f"+{limits.max_error_rate_increase:.2%}, p = {p_value:.2g}; "
        f"{_counted(stable, candidate)}{_widened(stable.error_effect, candidate.error_effect)})"
    )
    return Check("error_rate", s, c, limits.max_error_rate_increase, breached, p_value, detail)


def _latency_check(
    stable_rows: pd.DataFrame,
    candidate_rows: pd.DataFrame,
    limits: Limits,
    counted: tuple[VariantStats, VariantStats],
    sticky: bool,
) -> Check | None:
    from scipy import stats

    stable, every = floats_of(stable_rows, "latency_ms"), floats_of(candidate_rows, "latency_ms")
    stable, candidate = stable[np.isfinite(stable)], every[np.isfinite(every)]
    if stable.size == 0 or candidate.size == 0:
        return None
    s99, c99 = float(np.percentile(stable, 99)), float(np.percentile(candidate, 99))
    ratio = c99 / s99 if s99 > 0 else (math.inf if c99 > 0 else 1.0)
    # the candidate's p99 exceeds the limit exactly when more than 1% of its rows are slower
    # than the limit: a one-sided binomial test of that share against 1%, on rows counted by
    # key (Rao-Scott: both counts divided by the design effect of "slower" over the keys)
    bound = limits.max_latency_p99_ratio * s99
    above = int((candidate > bound).sum())
    effect = 1.0
    if counted[1].unit != "rows":
        slow = by_unit(candidate_rows, every > bound, sticky=sticky, keep=np.isfinite(every))
        effect = slow.effect
    trials = max(1, round(candidate.size / effect))
    hits = min(trials, round(above / effect))
    p_value = float(stats.binomtest(hits, trials, 0.01, alternative="greater").pvalue)
    breached = ratio > limits.max_latency_p99_ratio and p_value < SIGNIFICANCE
    widened = "" if effect == 1.0 else f", counts / {effect:.2g}"
    detail = (
        f"latency p99 {c99:.4g} ms against {s99:.4g} ms (x{ratio:.2f}, limit "
        f"x{limits.max_latency_p99_ratio:g}; {above / candidate.size:.1%} of the candidate's "
        f"rows slower than {bound:.4g} ms, p = {p_value:.2g}; {_counted(*counted)}{widened})"
    )
    return Check(
        "latency_p99_ms", s99, c99, limits.max_latency_p99_ratio, breached, p_value, detail
    )


def _accuracy_check(stable: VariantStats, candidate: VariantStats, limits: Limits) -> Check | None:
    if stable.accuracy is not None and candidate.accuracy is not None:
        s, c, source = stable.accuracy, candidate.accuracy, "labels"
        effects = stable.accuracy_effect, candidate.accuracy_effect
        se = math.sqrt(
            effects[0] * s * (1 - s) / stable.labelled
            + effects[1] * c * (1 - c) / candidate.labelled
        )
    elif stable.estimated_accuracy is not None and candidate.estimated_accuracy is not None:
        s, c, source = stable.estimated_accuracy, candidate.estimated_accuracy, "estimates"
        effects = stable.estimated_effect, candidate.estimated_effect
        se = math.hypot(
            (stable.estimated_accuracy_se or 0.0) * math.sqrt(effects[0]),
            (candidate.estimated_accuracy_se or 0.0) * math.sqrt(effects[1]),
        )
    else:
        return None
    drop = s - c
    p_value = _one_sided(drop / se) if se > 0 else (0.0 if drop > 0 else 1.0)
    breached = drop > limits.max_accuracy_drop and p_value < SIGNIFICANCE
    detail = (
        f"accuracy ({source}) {c:.2%} against {s:.2%} ({-drop:+.2%}, limit "
        f"-{limits.max_accuracy_drop:.2%}, p = {p_value:.2g}; "
        f"{_counted(stable, candidate)}{_widened(*effects)})"
    )
    return Check("accuracy", s, c, limits.max_accuracy_drop, breached, p_value, detail)


def analyse_step(
    stable_rows: pd.DataFrame,
    candidate_rows: pd.DataFrame,
    limits: Limits,
    *,
    elapsed_s: float,
    interval_s: float,
    labels: pd.DataFrame | None = None,
    reference_of: Callable[[str], Reference | None] | None = None,
    accuracy: bool = True,
    rules: Sequence[AlertRule] = (),
    sticky: bool = False,
) -> StepAnalysis:
    """Compare the candidate's rows with the stable version's under ``limits``.

    ``reference_of("stable" | "candidate")`` gives each version's reference (None: no accuracy);
    ``accuracy=False`` leaves accuracy out (an A/B test measures it with its own test).
    ``rules``: the policy's monitoring rules; those on estimated metrics are checks too.
    ``sticky``: the deployment routes by entity key, so rows that carry one count by key.
    """
    references: dict[str, Reference | None] = {"stable": None, "candidate": None}
    if accuracy and reference_of is not None:
        references = {side: reference_of(side) for side in references}
    stable, candidate = (
        stats_of(
            rows,
            labels=labels,
            reference=references[side],
            min_labelled=limits.min_labelled_rows,
            sticky=sticky,
        )
        for rows, side in ((stable_rows, "stable"), (candidate_rows, "candidate"))
    )
    if min(stable.rows, candidate.rows) < limits.min_rows_per_step:
        reason = (
            f"waiting for rows: stable {stable.rows:,}, candidate {candidate.rows:,} of the "
            f"{limits.min_rows_per_step:,} each needs"
        )
        return StepAnalysis("wait", [reason], stable, candidate)
    checks = [_error_check(stable, candidate, limits)]
    checks += [
        c
        for c in (
            _latency_check(stable_rows, candidate_rows, limits, (stable, candidate), sticky),
            _accuracy_check(stable, candidate, limits) if accuracy else None,
        )
        if c is not None
    ]
    if accuracy:
        from keel.rollout.estimated_checks import Estimates, estimated_checks

        judged = estimated_checks(
            rules,
            Estimates(stable.estimated, stable.estimated_rows, stable.estimated_effect),
            Estimates(candidate.estimated, candidate.estimated_rows, candidate.estimated_effect),
            references,
        )
        checks += [
            Check(j.metric, j.stable, j.candidate, j.limit, j.breached, None, j.detail)
            for j in judged
        ]
    breaches = [c.detail for c in checks if c.breached]
    if breaches:
        return StepAnalysis("breach", breaches, stable, candidate, checks)
    caution = _few_keys(stable, candidate)
    if elapsed_s < interval_s:
        reason = f"within limits; the step's interval runs {elapsed_s:.0f} of {interval_s:.0f} s"
        return StepAnalysis("wait", [reason, *caution], stable, candidate, checks)
    return StepAnalysis("pass", [*caution, *[c.detail for c in checks]], stable, candidate, checks)


def _few_keys(stable: VariantStats, candidate: VariantStats) -> list[str]:
    """A caution when a side's rows come from fewer than ``MIN_UNITS`` keys: its checks had
    little power (the rows of one key are alike), which a pass should say."""
    keyed = [v for v in (stable, candidate) if v.unit != "rows"]
    if not keyed or min(v.units for v in keyed) >= MIN_UNITS:
        return []
    return [
        f"few keys: stable {stable.units:,} {stable.unit}, candidate {candidate.units:,} "
        f"{candidate.unit} (under {MIN_UNITS} a side, the rows of one key are alike, so the "
        "checks could only see a large regression)"
    ]


def shadow_agreement(stable_rows: pd.DataFrame, candidate_rows: pd.DataFrame) -> dict[str, Any]:
    """How often the shadow answered what the stable version answered, request by request
    (and, for numbers, the mean absolute difference)."""
    import pandas as pd

    answered = [
        frame[~frame["status"].isin(UNANSWERED)][["request_id", "prediction"]]
        for frame in (stable_rows, candidate_rows)
    ]
    paired = answered[0].merge(answered[1], on="request_id", suffixes=("_stable", "_shadow"))
    if paired.empty:
        return {"paired": 0, "agreement": None, "mean_abs_difference": None}
    left, right = paired["prediction_stable"], paired["prediction_shadow"]
    numbers = pd.api.types.is_numeric_dtype(left) and pd.api.types.is_numeric_dtype(right)
    if numbers:
        a, b = left.to_numpy(dtype="float64"), right.to_numpy(dtype="float64")
        same = np.isclose(a, b, rtol=1e-9, atol=0.0)
        difference: float | None = float(np.mean(np.abs(a - b)))
    else:
        same = (left.astype(str) == right.astype(str)).to_numpy()
        difference = None
    return {
        "paired": len(paired),
        "agreement": float(same.mean()),
        "mean_abs_difference": difference,
    }
