"""The policy's retraining section: trigger sentences, guards, the training window and the cron
schedule, each error naming its field, and the section surviving Policy.to_dict -> Policy.parse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.domain.policy import Policy
from keel.domain.retraining import (
    Retraining,
    Training,
    Trigger,
    next_run_after,
    parse_trigger,
    validate_cron,
)
from keel.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "metric", "op", "threshold", "labelled_rows", "windows"),
    [
        ("accuracy < 0.92", "accuracy", "<", 0.92, 1000, 1),
        (
            "accuracy < 0.92 over the last 2,000 labelled predictions",
            "accuracy",
            "<",
            0.92,
            2000,
            1,
        ),
        ("estimated_accuracy < 0.9", "estimated_accuracy", "<", 0.9, None, 1),
        ("accuracy_drop >= 1", "accuracy_drop", ">=", 1.0, 1000, 1),
        ("drifted_features >= 3 over the last 2 windows", "drifted_features", ">=", 3.0, None, 2),
        ("domain_auc > 0.6 as critical", "domain_auc", ">", 0.6, None, 1),
    ],
)
def test_alert_rule_sentences_are_rule_triggers(
    text: str,
    metric: str,
    op: str,
    threshold: float,
    labelled_rows: int | None,
    windows: int,
) -> None:
    trigger = parse_trigger(text)
    assert trigger.kind == "rule"
    assert trigger.text == text
    assert trigger.rule is not None
    assert trigger.rule.metric == metric
    assert trigger.rule.op == op
    assert trigger.rule.threshold == pytest.approx(threshold)
    assert trigger.rule.labelled_rows == labelled_rows
    assert trigger.rule.windows == windows


@pytest.mark.parametrize("text", ["drift alert", "Drift Alert", "  drift \t alert ", "drift"])
def test_drift_alert_sentences(text: str) -> None:
    trigger = parse_trigger(text)
    assert trigger.kind == "drift_alert"
    assert trigger.rule is None
    assert trigger.text == " ".join(text.split())


def test_spacing_is_normalised_in_the_stored_text() -> None:
    trigger = parse_trigger("  accuracy   <  0.92\nover the last 500 labelled predictions ")
    assert trigger.text == "accuracy < 0.92 over the last 500 labelled predictions"
    assert trigger.rule is not None and trigger.rule.labelled_rows == 500


@pytest.mark.parametrize(
    "text",
    [
        "retrain when it feels right",
        "acurracy < 0.92",
        "accuracy < 0.92 over the last 3 windows",
        "drift alerts please",
        "accuracy",
        "",
        "   ",
        None,
        0.92,
        ["accuracy < 0.92"],
    ],
)
def test_what_is_not_a_trigger_is_refused_naming_the_field(text: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_trigger(text, "retraining.triggers[4]")
    assert caught.value.field == "retraining.triggers[4]"
    # either the general hint, or what exactly is wrong with a sentence that is nearly a rule
    assert any(
        hint in caught.value.problem
        for hint in ("trigger", "unknown observation 'acurracy'", "last N labelled predictions")
    )
    assert str(caught.value).startswith("retraining.triggers[4]: ")


def test_the_section_parses_its_triggers_and_keeps_their_order() -> None:
    section = Retraining.model_validate(
        {"triggers": ["drift alert", "accuracy < 0.92", "estimated_accuracy < 0.9"]}
    )
    assert [t.kind for t in section.triggers] == ["drift_alert", "rule", "rule"]
    assert [t.text for t in section.triggers] == [
        "drift alert",
        "accuracy < 0.92",
        "estimated_accuracy < 0.9",
    ]


def test_a_bad_trigger_is_named_by_its_position() -> None:
    with pytest.raises(InvalidInput) as caught:
        Retraining.model_validate({"triggers": ["accuracy < 0.92", "when sales drop"]})
    assert caught.value.field == "retraining.triggers[1]"
    assert "'when sales drop' is not a trigger" in caught.value.problem


def test_defaults_need_nothing() -> None:
    section = Retraining()
    assert section.schedule is None
    assert section.triggers == []
    assert section.min_interval is None and section.max_age is None
    assert (section.max_per_day, section.min_new_labels, section.max_attempts) == (24, 0, 3)
    assert section.training == Training()
    assert section.training.include_snapshot == "fill"
    assert section.trainer is None
    assert section.executor == "inline"


FULL: dict[str, Any] = {
    "schedule": "30 2 * * 1-5",
    "triggers": ["accuracy < 0.92 over the last 2,000 labelled predictions", "drift alert"],
    "min_interval": "6h",
    "max_age": "30d",
    "max_per_day": 2,
    "min_new_labels": 500,
    "training": {
        "recent_rows": 5000,
        "include_snapshot": "always",
        "holdout": 0.25,
        "min_rows": 50,
    },
    "trainer": "credit.training:fit",
    "executor": "ray",
    "max_attempts": 5,
}


def test_a_full_section_is_read_field_by_field() -> None:
    section = Policy.parse({"retraining": FULL}).retraining
    assert section.schedule == "30 2 * * 1-5"
    assert [t.kind for t in section.triggers] == ["rule", "drift_alert"]
    assert section.min_interval == "6h" and section.max_age == "30d"
    assert (section.max_per_day, section.min_new_labels, section.max_attempts) == (2, 500, 5)
    assert section.training == Training(  # the low profile refits unless told otherwise
        recent_rows=5000, include_snapshot="always", holdout=0.25, min_rows=50, refit=True
    )
    assert section.trainer == "credit.training:fit"
    assert section.executor == "ray"


@pytest.mark.parametrize(
    ("retraining", "field", "problem"),
    [
        ({"triggers": ["accuracy < 0.92", "bogus"]}, "policy.retraining.triggers[1]", "bogus"),
        ({"triggers": ["retrain often"]}, "policy.retraining.triggers[0]", "not a trigger"),
        ({"triggers": [""]}, "policy.retraining.triggers[0]", "sentence"),
        ({"triggers": [{"text": "anything", "kind": "rule"}]}, "policy.retraining.triggers[0]", ""),
        ({"triggers": "drift alert"}, "policy.retraining.triggers", "list"),
        ({"schedule": "every sunday"}, "policy.retraining.schedule", "not a cron expression"),
        ({"schedule": "0 3 * *"}, "policy.retraining.schedule", "'0 3 * *'"),
        ({"schedule": "61 * * * *"}, "policy.retraining.schedule", "not a cron expression"),
        ({"min_interval": "soon"}, "policy.retraining.min_interval", "not a duration"),
        ({"min_interval": "0s"}, "policy.retraining.min_interval", "longer than zero"),
        ({"min_interval": "10 minutes"}, "policy.retraining.min_interval", "not a duration"),
        ({"max_age": "a month"}, "policy.retraining.max_age", "not a duration"),
        ({"max_age": "0d"}, "policy.retraining.max_age", "longer than zero"),
        ({"max_age": "99999999999d"}, "policy.retraining.max_age", "longer than Keel can count"),
        ({"trainer": "train_model"}, "policy.retraining.trainer", "'module:function'"),
        ({"trainer": ":fit"}, "policy.retraining.trainer", "'module:function'"),
        ({"trainer": "credit.training:"}, "policy.retraining.trainer", "'module:function'"),
        ({"max_per_day": 0}, "policy.retraining.max_per_day", ""),
        ({"min_new_labels": -1}, "policy.retraining.min_new_labels", ""),
        ({"max_attempts": 21}, "policy.retraining.max_attempts", ""),
        ({"executor": "spark"}, "policy.retraining.executor", ""),
        ({"training": {"holdout": 0.95}}, "policy.retraining.training.holdout", ""),
        ({"training": {"recent_rows": 5}}, "policy.retraining.training.recent_rows", ""),
        (
            {"training": {"include_snapshot": "maybe"}},
            "policy.retraining.training.include_snapshot",
            "",
        ),
        ({"training": {"window": 10}}, "policy.retraining.training.window", "unknown key"),
        ({"retrain_on": "drift"}, "policy.retraining.retrain_on", "unknown key"),
    ],
)
def test_errors_name_the_field(retraining: dict[str, Any], field: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Policy.parse({"retraining": retraining})
    assert caught.value.field == field
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"{field}: ")


def test_the_policy_file_name_is_the_field_prefix() -> None:
    with pytest.raises(InvalidInput) as caught:
        Policy.parse({"retraining": {"triggers": ["nope"]}}, source="keel.yaml")
    assert caught.value.field == "keel.yaml.retraining.triggers[0]"


@pytest.mark.parametrize("cron", ["0 3 * * 0", "*/15 * * * *", "30 2 * * 1-5", "0 0 1 * *"])
def test_cron_expressions_are_accepted_as_written(cron: str) -> None:
    assert validate_cron(cron, "retraining.schedule") == cron
    assert Policy.parse({"retraining": {"schedule": cron}}).retraining.schedule == cron


def test_the_next_scheduled_time() -> None:
    monday = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert next_run_after("0 3 * * 0", monday) == datetime(2026, 3, 8, 3, 0, tzinfo=UTC)
    assert next_run_after("*/15 * * * *", monday) == monday + timedelta(minutes=15)
    sunday_night = datetime(2026, 3, 8, 3, 0, tzinfo=UTC)
    assert next_run_after("0 3 * * 0", sunday_night) == sunday_night + timedelta(days=7)
    oslo = timezone(timedelta(hours=1))
    local = next_run_after("0 3 * * *", datetime(2026, 3, 2, 12, 0, tzinfo=oslo))
    assert local == datetime(2026, 3, 3, 3, 0, tzinfo=oslo)
    assert local.utcoffset() == timedelta(hours=1)


def test_a_full_section_round_trips_through_to_dict() -> None:
    policy = Policy.parse({"risk_profile": "low", "retraining": FULL})
    dumped = policy.to_dict()
    assert dumped["retraining"]["triggers"] == FULL["triggers"]
    assert dumped["retraining"]["schedule"] == FULL["schedule"]
    again = Policy.parse(dumped)
    assert again == policy
    assert again.retraining == policy.retraining
    assert again.to_dict() == dumped


def test_a_dumped_section_validates_back_to_itself() -> None:
    section = Retraining.model_validate(FULL)
    dumped = section.model_dump()
    assert isinstance(dumped["triggers"][0], dict)
    assert Retraining.model_validate(dumped) == section
    assert Trigger.model_validate(dumped["triggers"][1]) == section.triggers[1]


TRIGGERS = [
    "accuracy < 0.92",
    "accuracy < 0.9 over the last 5,000 labelled predictions",
    "estimated_accuracy < 0.93",
    "accuracy_drop >= 1",
    "drifted_features >= 3 over the last 2 windows",
    "drift alert",
    "latency_p99_ms > 50 as critical",
]
sections = st.fixed_dictionaries(
    {},
    optional={
        "schedule": st.sampled_from([None, "0 3 * * 0", "*/30 * * * *", "15 4 1 * *"]),
        "triggers": st.lists(st.sampled_from(TRIGGERS), max_size=4),
        "min_interval": st.sampled_from([None, "90s", "10m", "1h30m", "2d"]),
        "max_per_day": st.integers(1, 48),
        "min_new_labels": st.integers(0, 10_000),
        "training": st.fixed_dictionaries(
            {},
            optional={
                "recent_rows": st.integers(10, 100_000),
                "include_snapshot": st.sampled_from(["always", "never", "fill"]),
                "holdout": st.floats(0.05, 0.85),
                "min_rows": st.integers(10, 5000),
            },
        ),
        "trainer": st.sampled_from([None, "pkg.train:fit", "trainers:refit_model"]),
        "executor": st.sampled_from(["inline", "process", "ray"]),
        "max_attempts": st.integers(1, 20),
    },
)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["low", "medium"]), sections)
def test_any_valid_section_survives_to_dict_and_parse(
    profile: str, section: dict[str, Any]
) -> None:
    data: dict[str, Any] = {"risk_profile": profile, "retraining": section}
    if profile == "medium":
        data["gates"] = {"checks": ["accuracy >= 0.9"]}
    policy = Policy.parse(data)
    if "schedule" not in section and profile == "medium":
        assert policy.retraining.schedule == "0 3 * * 0"  # from the preset
    again = Policy.parse(policy.to_dict())
    assert again.retraining == policy.retraining
    assert [t.text for t in again.retraining.triggers] == section.get("triggers", [])


def test_a_policy_that_is_not_a_mapping_is_refused_with_a_hint() -> None:
    with pytest.raises(InvalidInput) as caught:
        Policy.parse("risk_profile: low")  # type: ignore[arg-type]
    assert caught.value.field == "policy"
    assert "a mapping of sections" in caught.value.problem and "not str" in caught.value.problem
