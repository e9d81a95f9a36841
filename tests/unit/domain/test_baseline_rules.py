"""Every profile carries a rule that fires when the model does not beat a naive baseline."""

from __future__ import annotations

from typing import Any

import pytest

from keel.domain.policy import Policy
from keel.errors import InvalidInput

GATED: dict[str, Any] = {
    "gates": {"checks": ["accuracy >= 0.5", "accuracy not worse than champion by more than 0.01"]}
}


def baseline_rules(policy: Policy) -> list[str]:
    return [r.text for r in policy.monitoring.alerts if r.against == "baseline"]


@pytest.mark.parametrize(
    ("profile", "severity"), [("low", "warning"), ("medium", "critical"), ("high", "critical")]
)
def test_every_profile_has_the_rules_for_classifiers_and_regressors(
    profile: str, severity: str
) -> None:
    policy = Policy.parse({"risk_profile": profile, **GATED})
    assert baseline_rules(policy) == [
        f"accuracy beats baseline majority as {severity}",
        f"rmse beats baseline mean as {severity}",
    ]
    # the user's own rules do not drop them, and a round trip does not double them
    own = Policy.parse({"risk_profile": profile, **GATED, "monitoring": {"alerts": ["f1 < 0.5"]}})
    assert len(baseline_rules(own)) == 2
    assert Policy.parse(policy.to_dict()) == policy


def test_a_rule_of_ones_own_replaces_the_default_and_off_removes_them() -> None:
    mine = "accuracy beats baseline majority over the last 500 labelled predictions as critical"
    policy = Policy.parse({"monitoring": {"alerts": [mine]}})
    assert baseline_rules(policy) == [mine, "rmse beats baseline mean as warning"]
    for off in ("off", False):  # YAML reads an unquoted off as false
        assert baseline_rules(Policy.parse({"monitoring": {"baseline_alerts": off}})) == []
    with pytest.raises(InvalidInput) as caught:
        Policy.parse({"monitoring": {"baseline_alerts": "loud"}})
    assert caught.value.field == "policy.monitoring.baseline_alerts"


def test_persistence_needs_a_time_ordered_suite() -> None:
    rule = "accuracy beats baseline persistence"
    for section, where in (
        ({"monitoring": {"alerts": [rule]}}, "policy.monitoring.alerts[0]"),
        ({"retraining": {"triggers": [rule]}}, "policy.retraining.triggers[0]"),
    ):
        with pytest.raises(InvalidInput) as caught:
            Policy.parse(section)
        assert caught.value.field == where and "time_ordered" in caught.value.problem
    suite = {"snapshots": ["s"], "target": "y", "time_column": "day"}
    ordered = Policy.parse({"suites": {"s": suite}, "monitoring": {"alerts": [rule]}})
    assert rule in baseline_rules(ordered)
