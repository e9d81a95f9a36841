"""Alert rule sentences and durations: what parses, what each part means, and clear refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.domain.alert_rules import DEFAULT_LABELLED_ROWS, parse_alert_rule, rule_metric
from keel.domain.durations import parse_duration
from keel.domain.metric_specs import metric_spec
from keel.domain.policy import Policy
from keel.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "family", "labelled", "windows", "severity"),
    [
        (
            "accuracy < 0.92 over the last 5,000 labelled predictions",
            "realized",
            5000,
            1,
            "warning",
        ),
        ("accuracy < 0.92", "realized", DEFAULT_LABELLED_ROWS, 1, "warning"),
        ("roc_auc <= 0.8 over the last 200 labeled predictions", "realized", 200, 1, "warning"),
        ("estimated_accuracy < 0.93", "estimated", None, 1, "warning"),
        ("drifted_features >= 3 as critical", "drift", None, 1, "critical"),
        ("latency_p99_ms > 50 over the last 3 windows", "operations", None, 3, "warning"),
        ("cost_per_1k > 0.20", "operations", None, 1, "warning"),
        ("domain_auc > 0.6", "drift", None, 1, "warning"),
    ],
)
def test_rules_parse(
    text: str, family: str, labelled: int | None, windows: int, severity: str
) -> None:
    rule = parse_alert_rule(text)
    assert (rule.family, rule.labelled_rows, rule.windows, rule.severity) == (
        family,
        labelled,
        windows,
        severity,
    )


@pytest.mark.parametrize(
    "text",
    [
        "accuracy < 0.92 over the last 5,000 labelled predictions",
        "estimated_accuracy < 0.93",
        "drifted_features>=3 as critical",
        "  domain_auc > 0.6",
        "prediction_drift >= 1",
        "latency_p99_ms > 50 over the last 3 windows",
        "accuracy below reference",
        "accuracy beats baseline majority",
    ],
)
def test_a_stored_rule_names_its_metric_and_family_without_the_grammar(text: str) -> None:
    rule = parse_alert_rule(text)
    assert rule_metric(rule.text) == rule_metric(text) == rule.metric
    assert metric_spec(rule.metric).rule_family == rule.family


def test_breached_follows_the_operator() -> None:
    rule = parse_alert_rule("accuracy < 0.92")
    assert rule.breached(0.91) and not rule.breached(0.92)
    assert parse_alert_rule("error_rate >= 0.01").breached(0.01)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("accuracy is bad", "not an alert rule"),
        ("happiness < 3", "unknown observation"),
        ("latency_p99_ms > 50 over the last 10 labelled predictions", "only realized"),
        ("accuracy < 0.9 over the last 3 windows", "labelled predictions"),
        ("accuracy < 0.9 over the last 0 labelled predictions", "at least 1"),
    ],
)
def test_bad_rules_name_the_problem(text: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_alert_rule(text, "monitoring.alerts[0]")
    assert caught.value.field == "monitoring.alerts[0]"
    assert problem in caught.value.problem


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), st.sampled_from(["<", ">"]))
def test_thresholds_round_trip(value: float, op: str) -> None:
    rule = parse_alert_rule(f"latency_p50_ms {op} {value!r}")
    assert rule.threshold == value


def test_policy_shorthands_become_rules_and_survive_a_round_trip() -> None:
    policy = Policy.parse(
        {"monitoring": {"accuracy_threshold": 0.92, "drift_alerts": True, "alerts": []}}
    )
    assert [r.text for r in policy.monitoring.alerts] == [
        "accuracy < 0.92",
        "drifted_features >= 1",
        "accuracy beats baseline majority as warning",
        "rmse beats baseline mean as warning",
    ]
    assert Policy.parse(policy.to_dict()) == policy


def test_policy_refuses_bad_monitoring_fields() -> None:
    for bad, field in [
        ({"window": {"rows": 100, "every": "1h"}}, "monitoring.window"),
        ({"window": {"every": "soon"}}, "monitoring.window.every"),
        ({"cooldown": "-1h"}, "monitoring.cooldown"),
        ({"sinks": [{"type": "webhook"}]}, "monitoring.sinks.0"),
        ({"drift": {"alpha": 2}}, "monitoring.drift.alpha"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            Policy.parse({"monitoring": bad}, "p")
        assert field in caught.value.field, (bad, caught.value.field)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("10m", 600), ("1h30m", 5400), ("2d", 172800), ("1w", 604800), (30, 30)],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "10", "1h-", "0s", "h1", True])
def test_bad_durations(text: object) -> None:
    with pytest.raises(InvalidInput):
        parse_duration(text)  # type: ignore[arg-type]


# -- rules with no number: limits from the reference, comparisons with a baseline ----------------
@pytest.mark.parametrize(
    ("text", "op", "metric", "family"),
    [
        ("accuracy below reference", "<", "accuracy", "realized"),
        ("estimated_roc_auc below reference", "<", "estimated_roc_auc", "estimated"),
        ("rmse above reference over the last 2,000 labelled predictions", ">", "rmse", "realized"),
        (
            "estimated_f1 below reference over the last 3 windows as critical",
            "<",
            "estimated_f1",
            "estimated",
        ),
    ],
)
def test_reference_rules_take_their_limit_later(
    text: str, op: str, metric: str, family: str
) -> None:
    rule = parse_alert_rule(text)
    assert (rule.op, rule.metric, rule.family, rule.against) == (op, metric, family, "reference")
    assert rule.threshold is None
    assert rule.breached(0.80, 0.85) == (op == "<")
    with pytest.raises(InvalidInput, match="limit"):
        rule.breached(0.8)


def test_a_baseline_rule_fires_when_the_margin_is_not_positive() -> None:
    rule = parse_alert_rule("accuracy beats baseline majority as critical")
    assert (rule.against, rule.baseline, rule.severity, rule.labelled_rows) == (
        "baseline",
        "majority",
        "critical",
        DEFAULT_LABELLED_ROWS,
    )
    assert rule.breached(0.0) and rule.breached(-0.01) and not rule.breached(0.001)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("accuracy above reference", "accuracy below reference"),
        ("rmse below reference", "rmse above reference"),
        ("drifted_features below reference", "reference limit"),
        ("accuracy_drop below reference", "reference limit"),
        ("estimated_accuracy beats baseline majority", "realized"),
        ("accuracy beats baseline random", "unknown baseline 'random'"),
        ("accuracy beats baseline majority over the last 3 windows", "labelled predictions"),
        ("acuracy below reference", "unknown observation"),
    ],
)
def test_relative_rules_are_refused_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        parse_alert_rule(text)
