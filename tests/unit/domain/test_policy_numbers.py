"""A policy that passes validation is one Keel can act on: every number finite, and the rollout
section held to the rules ``keel deploy`` applies (one validation for both)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from keel.domain.deployments import validate_shares, validate_steps
from keel.domain.durations import parse_duration
from keel.domain.policy import Policy
from keel.errors import InvalidInput

#: each is refused when a policy file holds it, naming the field
REFUSED: list[tuple[str, str, str]] = [
    ("rollout:\n  strategy: canary\n  steps: [5, 1e400]\n", "rollout.steps", "finite"),
    ("rollout:\n  strategy: canary\n  steps: [5, .nan]\n", "rollout.steps", "finite"),
    ("rollout:\n  strategy: canary\n  steps: [50, 25]\n", "rollout.steps", "increase"),
    ("rollout:\n  strategy: canary\n  steps: [5, 150]\n", "rollout.steps", "(0, 100]"),
    ("rollout:\n  strategy: ab\n  steps: [50, 60]\n", "rollout.steps", "one split"),
    ("rollout:\n  steps: [0]\n", "rollout.steps", "(0, 100]"),
    ("rollout:\n  interval: 99999999999999999999d\n", "rollout.interval", "1,000 years"),
    ("rollout:\n  interval: soon\n", "rollout.interval", "not a duration"),
    ("rollout:\n  max_latency_p99_ratio: .inf\n", "rollout.max_latency_p99_ratio", "finite"),
    ("rollout:\n  max_error_rate_increase: .nan\n", "rollout.max_error_rate_increase", "finite"),
    ("gates:\n  checks: ['accuracy >= 1e400']\n", "gates.checks[0]", "finite"),
    ("gates:\n  checks: ['accuracy beats baseline majority by 1e999']\n", "gates.checks", "finite"),
    (
        "gates:\n  checks: ['roc_auc not worse than champion by more than 1e400']\n",
        "gates.checks[0]",
        "finite",
    ),
    ("monitoring:\n  alerts: ['accuracy < 1e400']\n", "monitoring.alerts[0]", "finite"),
    (
        "monitoring:\n  alerts: ['drifted_features >= 1 over the last 1e400 windows']\n",
        "monitoring.alerts[0]",
        "finite",
    ),
    ("monitoring:\n  accuracy_threshold: .inf\n", "monitoring.accuracy_threshold", "finite"),
    ("monitoring:\n  drift:\n    numeric_effect: .inf\n", "monitoring.drift", "finite"),
    ("monitoring:\n  cost:\n    cpu_hour_price: .nan\n", "monitoring.cost", "finite"),
    (
        "retraining:\n  triggers: ['accuracy drops by 0.01 over the last 1e400 labelled "
        "predictions']\n",
        "retraining.triggers[0]",
        "finite",
    ),
    (
        "suites:\n  s:\n    snapshots: [a]\n    target: y\n    slices:\n      old:\n"
        "        age: {ge: .inf}\n",
        "suites.s.slices.old.age.ge",
        "finite",
    ),
    ("risk_profile: high\nrollout:\n  strategy: ab\n", "rollout.steps", "one split"),
]


@pytest.mark.parametrize(("text", "field", "problem"), REFUSED)
def test_a_policy_with_a_number_keel_cannot_act_on_is_refused(
    text: str, field: str, problem: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        Policy.parse(yaml.safe_load(text), "p.yaml")
    assert caught.value.field.startswith(f"p.yaml.{field}"), caught.value.message
    assert problem in caught.value.message


@pytest.mark.parametrize(
    ("steps", "strategy"),
    [([5, "1e400"], "canary"), ([5, float("inf")], "canary"), ([float("nan")], "ab"), ([0], "ab")],
)
def test_deploy_refuses_what_the_policy_refuses(steps: list[Any], strategy: str) -> None:
    with pytest.raises(InvalidInput, match="steps"):
        validate_steps(strategy, steps)
    with pytest.raises(InvalidInput, match=r"rollout\.steps"):
        Policy.parse({"rollout": {"strategy": strategy, "steps": steps}})


@pytest.mark.parametrize("interval", ["99999999999999999999d", float("inf"), float("nan"), 0])
def test_an_interval_deploy_refuses_is_refused_by_the_policy_too(interval: Any) -> None:
    with pytest.raises(InvalidInput):
        parse_duration(interval, "interval")
    with pytest.raises(InvalidInput, match=r"rollout\.interval"):
        Policy.parse({"rollout": {"interval": interval}})


def test_a_valid_rollout_section_still_parses() -> None:
    policy = Policy.parse(
        {"rollout": {"strategy": "canary", "steps": [5, 25, 50, 100], "interval": "15m"}}
    )
    assert policy.rollout.steps == [5.0, 25.0, 50.0, 100.0]
    assert Policy.parse({"risk_profile": "high", "gates": {"checks": GATES}}).rollout.steps
    assert validate_shares(["5", 50]) == [5.0, 50.0]
    with pytest.raises(InvalidInput):
        validate_shares([True])


GATES = [
    "accuracy >= 0.9",
    "roc_auc not worse than champion by more than 0.005 at 95% confidence",
]
