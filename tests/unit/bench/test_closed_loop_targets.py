"""The targets of ``bench/closed_loop.py``: the calendar read at the autopilot's retrain count,
and no target met by a strategy a constant beats."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from closed_loop_results import StrategyResult
from closed_loop_targets import (
    baseline_alert,
    beats_calendar,
    calendar_at,
    interpolate,
    near_every,
    targets,
    window_beats_baseline,
)


def flat(name: str, accuracy: float, retrains: int, windows: int = 4) -> StrategyResult:
    return StrategyResult(name, [accuracy] * windows, retrains)


PLAIN = [
    flat("never", 0.60, 0),
    flat("every", 0.70, 40),
    flat("every_2", 0.68, 20),
    flat("every_3", 0.66, 13),
    flat("every_4", 0.65, 10),
    flat("every_5", 0.64, 8),
]


@pytest.mark.parametrize(
    ("retrains", "expected"),
    [(0, 0.60), (4, 0.62), (8, 0.64), (9, 0.645), (30, 0.69), (40, 0.70), (55, 0.70)],
)
def test_the_calendar_is_read_between_the_two_nearest_retrain_counts(
    retrains: int, expected: float
) -> None:
    assert calendar_at(PLAIN, retrains) == pytest.approx(expected)


def test_schedules_with_the_same_retrain_count_are_averaged() -> None:
    assert interpolate([(0, 0.5), (2, 0.6), (2, 0.7), (4, 0.9)], 2) == pytest.approx(0.65)
    assert interpolate([(0, 0.5), (2, 0.6), (2, 0.7), (4, 0.9)], 3) == pytest.approx(0.775)
    with pytest.raises(ValueError):
        interpolate([], 1)


def test_a_target_is_never_met_by_a_strategy_a_constant_beats() -> None:
    every = flat("every", 0.80, 4)
    pilot = StrategyResult("autopilot", [0.80, 0.79], 2)  # 0.5 points below, half the retrains
    always_on_time = flat("majority", 0.81, 0)
    check = near_every(pilot, every, always_on_time)
    assert check["margin"] == pytest.approx(0.0) and check["retrain_margin"] == 0
    assert check["met"] is False
    assert near_every(pilot, every, flat("majority", 0.6, 0))["met"] is True
    calendar = [flat("never", 0.70, 0), flat("every", 0.79, 4)]
    assert beats_calendar(pilot, calendar, always_on_time)["margin"] > 0
    assert beats_calendar(pilot, calendar, always_on_time)["met"] is False
    assert beats_calendar(pilot, calendar, flat("majority", 0.6, 0))["met"] is True
    made = targets(pilot, [*calendar], always_on_time)
    assert made["c_above_majority"] == {
        "value": pytest.approx(0.795),
        "limit": 0.81,
        "met": False,
        "margin": pytest.approx(-0.015),
    }
    assert not any(t["met"] for t in made.values())


def test_near_every_needs_half_the_retrains_too() -> None:
    every, trivial = flat("every", 0.80, 10), flat("majority", 0.5, 0)
    assert near_every(flat("autopilot", 0.80, 5), every, trivial)["met"] is True
    late = near_every(flat("autopilot", 0.80, 6), every, trivial)
    assert late["met"] is False and late["retrain_margin"] == -1 and late["margin"] > 0


def test_every_target_has_value_limit_met_and_margin() -> None:
    pilot = flat("autopilot", 0.65, 10)
    selected = [flat("never", 0.60, 0), flat("every_selected", 0.72, 40)]
    made = targets(pilot, PLAIN, flat("majority", 0.5, 0), selected)
    assert set(made) == {"a_near_every", "b_beats_calendar", "c_above_majority"}
    for check in made.values():
        assert {"value", "limit", "met", "margin"} <= set(check)
    b = made["b_beats_calendar"]
    assert b["limit"] == pytest.approx(0.65) and b["met"] is True
    assert b["calendar_selected"] == pytest.approx(0.63)


def test_the_bench_scores_the_rows_the_baseline_alert_reads() -> None:
    labels = [1, 1, 1, 0] * 3  # the best constant scores 0.75 on any 4 rows in a row
    right = list(labels)
    wrong = [1 - v for v in labels]
    predictions = right[:4] + [1] * 4 + wrong[:4]  # beats it, ties it, loses
    assert window_beats_baseline(predictions, labels, [2, 4, 8, 12], 4) == [
        None,
        True,
        False,
        False,
    ]


def test_the_alert_must_be_open_wherever_the_model_does_not_beat_the_constant() -> None:
    check = baseline_alert([None, True, False, False], [False, True, True, False])
    assert check["met"] is False and check["value"] == 1 and check["margin"] == -1
    assert check["missed_windows"] == [3] and check["false_alarms"] == 1
    assert check["windows_not_beating"] == 2 and check["alert_open_windows"] == 2
    assert baseline_alert([True, False], [False, True])["met"] is True
    assert baseline_alert([], [])["met"] is True
    with pytest.raises(ValueError):
        baseline_alert([True], [])


def test_target_figures_keep_six_decimals_in_the_json() -> None:
    from closed_loop_results import rounded

    answer = {"elec2": {"targets": {"b": {"margin": -0.0000312}}, "every": {"x": 0.123456}}}
    assert rounded(answer) == {
        "elec2": {"targets": {"b": {"margin": -3.1e-05}}, "every": {"x": 0.1235}}
    }
