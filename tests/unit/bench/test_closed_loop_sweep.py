"""The online rules of ``bench/closed_loop_sweep.py``: each decides from the windows seen so far,
as the trigger it stands for would, and the sweep compares the best of them with the ceiling."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from closed_loop_results import Replay, WindowOutcome
from closed_loop_sweep import age, champions, drop, either, level, sweep

from .test_closed_loop import synthetic


def served(window: int, accuracy: float, model: int, first: float) -> WindowOutcome:
    """Window ``window`` served by the model trained after window ``model`` (-1: initial)."""
    empty = np.zeros(0, dtype=np.int64)
    rows = (0, 100 + model)
    return WindowOutcome(window, (0, 0), accuracy, empty, empty, rows, first, False)


def test_age_fires_once_a_model_has_served_k_windows() -> None:
    rule = age(3)
    model, fired = -1, []
    for window in range(9):
        fired.append(rule(served(window, 0.9, model, 0.9)))
        if fired[-1]:
            model = window  # the harness retrains: the next window is the new model's first
    assert fired == [False, False, True] * 3


def test_age_counts_from_a_retrain_another_rule_fired() -> None:
    rule = either(drop(0.05), age(3))
    assert not rule(served(0, 0.90, -1, 0.90))
    assert rule(served(1, 0.80, -1, 0.90))  # the drop fires: retrained after window 1
    assert not rule(served(2, 0.90, 1, 0.90))  # the new model has served 1 window, not 3
    assert not rule(served(3, 0.90, 1, 0.90))
    assert rule(served(4, 0.90, 1, 0.90))


def test_drop_compares_with_the_serving_models_first_window() -> None:
    rule = drop(0.02)
    assert not rule(served(3, 0.881, 1, 0.90))
    assert rule(served(3, 0.88, 1, 0.90))  # exactly the margin fires, as Keel's trigger does


def test_champions_holds_a_model_to_the_mean_first_window_of_the_newest_k() -> None:
    rule = champions(0.05, 2)
    assert not rule(served(0, 0.90, -1, 0.90))  # the initial model's first window: 0.90
    assert not rule(served(1, 0.86, -1, 0.90))  # 0.04 below
    assert rule(served(2, 0.85, -1, 0.90))
    # a new model starts poorly at 0.70: its own first window does not excuse it, the level is
    # the mean of 0.90 and 0.70
    assert rule(served(3, 0.70, 2, 0.70))
    assert not rule(served(4, 0.76, 3, 0.76))  # next model: the mean of 0.70 and 0.76 is 0.73


def test_level_is_fixed_at_the_first_window() -> None:
    rule = level(0.01)
    assert not rule(served(0, 0.95, -1, 0.95))
    assert not rule(served(1, 0.94, -1, 0.95))  # exactly at the level minus the points
    assert rule(served(2, 0.939, -1, 0.95))
    assert not rule(served(3, 0.94, 2, 0.94))  # a new model does not move the launch level


def test_either_keeps_every_rules_state() -> None:
    rule = either(drop(1.0), level(1.0), age(2))
    assert [rule(served(w, 0.9, w // 2 * 2 - 1, 0.9)) for w in range(4)] == [
        False,
        True,
        False,
        True,
    ]


def test_the_sweep_reports_the_best_rule_within_the_budget_and_the_ceiling() -> None:
    with threadpool_limits(1):
        answer = sweep(Replay(synthetic()))  # 9 windows, the concept flips halfway
    assert answer["budget"] == 4
    assert answer["best_retrains"] <= answer["budget"]
    assert answer["best_mean_accuracy"] <= answer["ceiling_mean_accuracy"] + 1e-12
    assert answer["bar"] == pytest.approx(answer["every"] - 0.005)
    assert answer["every_unweighted"] == answer["every"]
    assert answer["best_meets_bar"] == (answer["best_mean_accuracy"] >= answer["bar"])
    assert answer["rules_meeting_bar"] == len(answer["met_by"])
    assert answer["rules"] == 88
