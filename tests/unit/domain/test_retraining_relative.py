"""Relative triggers ("accuracy drops by 0.02 over the last 1,000 labelled predictions") and
``training.refit``: parsed with their metric, margin and span, refused with the field named when
the direction or the metric is wrong, and kept through Policy.to_dict -> Policy.parse."""

from __future__ import annotations

from typing import Any

import pytest

from keel.domain.policy import Policy
from keel.domain.retraining import Retraining, Training, Trigger, parse_trigger
from keel.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "metric", "margin", "rows"),
    [
        ("accuracy drops by 0.02 over the last 1,000 labelled predictions", "accuracy", 0.02, 1000),
        ("accuracy drops by 0.02", "accuracy", 0.02, 1000),
        ("f1 drops by .05 over the last 500 labeled predictions", "f1", 0.05, 500),
        ("roc_auc drops by 0.01 over the last 20,000 labelled predictions", "roc_auc", 0.01, 20000),
        ("log_loss rises by 0.1 over the last 2,000 labelled predictions", "log_loss", 0.1, 2000),
        ("brier rises by 0.01", "brier", 0.01, 1000),
        ("mae rises by 3 over the last 300 labelled predictions", "mae", 3.0, 300),
        ("r2 drops by 0.1", "r2", 0.1, 1000),
    ],
)
def test_drop_sentences_are_parsed(text: str, metric: str, margin: float, rows: int) -> None:
    trigger = parse_trigger(text)
    assert trigger.kind == "drop" and trigger.rule is None
    assert (trigger.metric, trigger.margin, trigger.rows) == (metric, margin, rows)
    assert trigger.text == text


@pytest.mark.parametrize(
    ("text", "champions", "rows"),
    [
        ("accuracy drops by 0.01 against the last 5 champions", 5, 1000),
        ("accuracy drops by 0.01 against the last 1 champion over the last 500 labelled "
         "predictions", 1, 500),
        ("log_loss rises by 0.1 against the last 12 champions over the last 2,000 labelled "
         "predictions", 12, 2000),
        ("accuracy drops by 0.02", 1, 1000),
    ],
)  # fmt: skip
def test_drops_against_the_last_champions_are_parsed(text: str, champions: int, rows: int) -> None:
    trigger = parse_trigger(text)
    assert trigger.kind == "drop"
    assert (trigger.champions, trigger.rows) == (champions, rows)


def test_spacing_is_normalised() -> None:
    trigger = parse_trigger(" accuracy  drops by 0.02 over  the last 1,000 labelled predictions ")
    assert trigger.text == "accuracy drops by 0.02 over the last 1,000 labelled predictions"


def test_worse_counts_the_metric_s_own_direction() -> None:
    accuracy = parse_trigger("accuracy drops by 0.02")
    assert not accuracy.lower_is_better
    assert accuracy.worse_by(0.90, 0.87) == pytest.approx(0.03)
    assert accuracy.worse_by(0.90, 0.95) == pytest.approx(-0.05)
    log_loss = parse_trigger("log_loss rises by 0.1")
    assert log_loss.lower_is_better
    assert log_loss.worse_by(0.30, 0.45) == pytest.approx(0.15)
    assert log_loss.worse_by(0.30, 0.20) == pytest.approx(-0.10)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("accuracy rises by 0.02", "higher accuracy is better"),
        ("log_loss drops by 0.1", "write 'log_loss rises by ...'"),
        ("mae drops by 1", "lower mae is better"),
        ("accuracy drops by 0", "the margin must be above 0"),
        ("accuracy drops by 0.02 over the last 0 labelled predictions", "at least 1"),
        ("estimated_accuracy drops by 0.02", "not a metric of labelled predictions"),
        ("accuracy_drop drops by 1", "not a metric of labelled predictions"),
        ("latency_p99_ms rises by 5", "not a metric of labelled predictions"),
        ("accuracy drops by 0.02 over the last 3 windows", "is not a trigger"),
        ("accuracy drops 0.02", "is not a trigger"),
        ("accuracy < 0.8 over the last 200 windows", "measured over the last N labelled"),
        ("accuracy drops by 0.02 against the last 0 champions", "a whole number, 1 or more"),
        ("accuracy drops by 0.02 against the last 2.5 champions", "a whole number, 1 or more"),
        ("accuracy drops by 5 against the last 3 champions", "cannot move by 5"),
        ("roc_auc drops by 1", "cannot move by 1"),
        (
            "accuracy drops by 0.02 over the last 500 labelled predictions against the last 5 "
            "champions",
            "is not a trigger",
        ),
    ],
)
def test_wrong_drop_sentences_are_refused(text: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Policy.parse({"retraining": {"triggers": ["drift alert", text]}})
    assert caught.value.field == "policy.retraining.triggers[1]"
    assert problem in caught.value.problem


SECTION: dict[str, Any] = {
    "triggers": [
        "accuracy < 0.7 over the last 1,000 labelled predictions",
        "accuracy drops by 0.02 over the last 1,000 labelled predictions",
        "log_loss rises by 0.05",
        "accuracy drops by 0.01 against the last 5 champions over the last 1,000 labelled "
        "predictions",
    ],
    "training": {"recent_rows": 10_000, "holdout": 0.1, "refit": True},
}


def test_a_section_with_drops_and_refit_round_trips_through_to_dict() -> None:
    policy = Policy.parse({"retraining": SECTION})
    assert [t.kind for t in policy.retraining.triggers] == ["rule", "drop", "drop", "drop"]
    assert [t.champions for t in policy.retraining.triggers] == [1, 1, 1, 5]
    assert policy.retraining.training.refit is True
    dumped = policy.to_dict()
    assert dumped["retraining"]["triggers"] == SECTION["triggers"]
    assert dumped["retraining"]["training"]["refit"] is True
    again = Policy.parse(dumped)
    assert again == policy
    assert again.to_dict() == dumped


def test_a_dumped_drop_trigger_validates_back_from_its_text() -> None:
    section = Retraining.model_validate(SECTION)
    dumped = section.model_dump()
    assert dumped["triggers"][1]["kind"] == "drop"
    assert Retraining.model_validate(dumped) == section
    assert Trigger.model_validate(dumped["triggers"][1]) == section.triggers[1]
    # the text says everything: a dumped mapping with a wrong margin is read from its text
    forged = {**dumped["triggers"][1], "margin": 0.5}
    assert Retraining.model_validate({"triggers": [forged]}).triggers[0].margin == 0.02


def test_refit_is_on_for_low_stakes_off_where_gates_judge_what_ships_and_a_boolean() -> None:
    assert Training().refit is False
    assert Policy.parse({}).retraining.training.refit is True
    for profile in ("medium", "high"):
        checks = ["accuracy >= 0.9", "accuracy not worse than champion by more than 0.01"]
        gated = {"risk_profile": profile, "gates": {"checks": checks}}
        assert Policy.parse(gated).retraining.training.refit is False
    assert (
        Policy.parse({"retraining": {"training": {"refit": False}}}).retraining.training.refit
        is False
    )
    with pytest.raises(InvalidInput) as caught:
        Policy.parse({"retraining": {"training": {"refit": "sometimes"}}})
    assert caught.value.field == "policy.retraining.training.refit"
