"""The replay harness of ``bench/closed_loop.py``: windows, retrain counts, rules, baselines."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn.ensemble  # noqa: F401  (loads OpenMP before the thread limit is set)
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from closed_loop import (
    AUTOPILOT_TRIGGERS,
    AutopilotOptions,
    Replay,
    StrategyResult,
    WindowOutcome,
    accuracy_drop,
    accuracy_drop_fixed,
    autopilot_policy,
    every,
    every_kth,
    majority,
    never,
    parse_args,
    persistence,
    run_autopilot,
    target_check,
)
from closed_loop_data import Dataset, load_dataset, make_windows


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """As the benchmark runs: OpenMP threads spin when the machine is busy."""
    with threadpool_limits(1):
        yield


def synthetic(rows: int = 1_000, window_rows: int = 100) -> Dataset:
    """A stream whose concept flips halfway: y = x > 0, then y = x <= 0."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(rows)
    target = (x > 0).astype(np.int64)
    target[rows // 2 :] = 1 - target[rows // 2 :]
    initial = rows // 10
    return Dataset(
        name="synthetic",
        features=pd.DataFrame({"x": x}),
        target=target,
        initial_rows=initial,
        window_rows=window_rows,
        windows=make_windows(rows, initial, window_rows),
        source=Path("synthetic"),
    )


def outcome(window: int, accuracy: float, first: float) -> WindowOutcome:
    empty = np.zeros(0, dtype=np.int64)
    return WindowOutcome(window, (0, 0), accuracy, empty, empty, (0, 0), first, False)


@pytest.mark.parametrize(
    ("rows", "window_rows", "count", "last"),
    [(45_312, 1_000, 41, 781), (18_159, 1_000, 16, 1_344), (41_188, 2_000, 19, 1_070)],
)
def test_windows_keep_a_half_window_remainder_and_merge_a_shorter_one(
    rows: int, window_rows: int, count: int, last: int
) -> None:
    windows = make_windows(rows, int(0.1 * rows), window_rows)
    assert len(windows) == count
    assert windows[-1][1] - windows[-1][0] == last
    assert windows[0][0] == int(0.1 * rows) and windows[-1][1] == rows
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))


def test_retrains_are_counted_except_after_the_last_window() -> None:
    replay = Replay(synthetic())  # 9 windows
    assert replay.run("never", never).retrains == 0
    result = replay.run("every", every)
    assert result.retrains == 8 and result.retrained_after == list(range(8))
    assert replay.run("every_2", every_kth(2)).retrained_after == [1, 3, 5, 7]
    assert replay.fits == 9  # the initial model and one per retrain point, shared


def test_retraining_recovers_from_the_flip_and_never_does_not() -> None:
    replay = Replay(synthetic(), history_windows=3)
    stale, fresh = replay.run("never", never), replay.run("every", every)
    assert stale.window_accuracy[-1] < 0.1 and fresh.window_accuracy[-1] > 0.9


def test_training_rows_fill_up_with_the_initial_rows() -> None:
    replay = Replay(synthetic(), history_windows=3)
    assert replay.training_rows(0) == (0, 200)
    assert replay.training_rows(5) == (400, 700)


def test_drop_rule_compares_with_the_serving_models_first_window() -> None:
    rule = accuracy_drop(0.02)
    assert rule(outcome(3, 0.70, 0.72)) and not rule(outcome(3, 0.701, 0.72))
    fixed = accuracy_drop_fixed(0.02)
    assert not fixed(outcome(0, 0.80, 0.80))
    assert fixed(outcome(5, 0.78, 0.70))  # its reference stays the first window's 0.80


def test_baselines() -> None:
    dataset = synthetic()
    start, end = dataset.windows[0]
    expected = float((dataset.target[start - 1 : end - 1] == dataset.target[start:end]).mean())
    assert persistence(dataset).window_accuracy[0] == expected
    label = int(np.bincount(dataset.target[: dataset.initial_rows]).argmax())
    assert majority(dataset).window_accuracy[0] == float(
        (dataset.target[start:end] == label).mean()
    )


def test_a_target_is_never_met_by_a_strategy_a_constant_beats() -> None:
    every = StrategyResult("every", [0.80, 0.80], 4)
    pilot = StrategyResult("autopilot", [0.80, 0.79], 2)  # 0.5 points below, half the retrains
    always_on_time = StrategyResult("majority", [0.81, 0.81], 0)
    check = target_check(pilot, every, always_on_time)
    assert check["met"] is False and check["baseline"] == "majority"
    assert check["points_above_baseline"] == pytest.approx(-1.5)
    assert check["baseline_mean_accuracy"] == pytest.approx(0.81)
    assert target_check(pilot, every, StrategyResult("majority", [0.6, 0.6], 0))["met"] is True


def test_share_below_threshold_is_strict() -> None:
    result = StrategyResult("x", [0.6, 0.7, 0.8, 0.9], 0)
    assert result.below_threshold is None
    scored = result.with_threshold(0.7)
    assert scored.mean_accuracy == pytest.approx(0.75) and scored.below_threshold == 0.25


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("name", "windows", "absent"),
    [("elec2", 41, {"date", "nswprice", "class"}), ("weather", 16, {"row_id"}),
     ("bank", 19, {"duration", "y", "year_derived"})],
)  # fmt: skip
def test_real_data_sets_load_without_leaking_columns(
    shared_data: Path, name: str, windows: int, absent: set[str]
) -> None:
    dataset = load_dataset(name, shared_data)
    assert len(dataset.windows) == windows
    assert not absent & set(dataset.features.columns)
    assert set(np.unique(dataset.target)) == {0, 1}
    quick = load_dataset(name, shared_data, max_windows=12)
    assert len(quick.windows) == 12 and quick.rows == quick.windows[-1][1]


def test_autopilot_drives_keels_controller_through_the_flip(tmp_path: Path) -> None:
    dataset = synthetic(rows=1_200, window_rows=200)  # 5 windows; the concept flips in the 3rd
    replay = Replay(dataset)
    args = parse_args(["--store-root", str(tmp_path)])
    result = run_autopilot(dataset, args, replay)
    stale = replay.run("never", never)
    assert result.name == "autopilot" and len(result.window_accuracy) == len(dataset.windows)
    details = result.details
    assert result.retrains >= 1 and details["promoted"] + details["rejected"] == result.retrains
    served = result.retrained_after[0] + 1  # windows the initial model served
    assert result.window_accuracy[:served] == stale.window_accuracy[:served]
    assert details["promoted"] >= 1 and result.window_accuracy[-1] > stale.window_accuracy[-1]
    assert details["trigger"].startswith("accuracy drops by 0.01 against the last 5 champions")
    assert details["gate"] == "accuracy not worse than champion by more than 0.02 at 95% confidence"
    gates = details["gates"]
    assert gates["verdict"] in ("blessed", "rejected") and gates["rows"] == 1_080
    assert set(gates["checks"]) == {
        "accuracy beats baseline persistence",
        "accuracy beats baseline majority",
    }
    assert list(tmp_path.iterdir()) == []  # the store was temporary


@pytest.mark.parametrize("trigger", AUTOPILOT_TRIGGERS)
def test_every_autopilot_option_writes_a_policy_keel_accepts(trigger: str) -> None:
    from keel.domain.policy import Policy

    options = AutopilotOptions(trigger=trigger, max_age_windows=4, half_life_windows=2)
    policy = Policy.parse(autopilot_policy(synthetic(), "y", 0.8, options))
    section = policy.retraining
    assert section.max_age == "4d"  # window w is day w on the simulated clock
    assert section.training.recency_half_life == 200
    assert section.triggers and [c.text for c in policy.gates.checks] == [options.gate]
    plain = Policy.parse(autopilot_policy(synthetic(), "y", 0.8, AutopilotOptions(trigger=trigger)))
    assert plain.retraining.max_age is None and plain.retraining.training.recency_half_life is None
