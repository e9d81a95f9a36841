"""The replay harness of ``bench/closed_loop.py``: windows, retrain counts, rules, baselines, a
user's table, and the autopilot's policy."""

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

from closed_loop import parse_args
from closed_loop_autopilot import baseline_rule_rows, bench_policy, run_autopilot
from closed_loop_data import Dataset, load_dataset, load_table, make_windows
from closed_loop_results import Replay, WindowOutcome, majority, persistence
from closed_loop_strategies import (
    SelectingReplay,
    accuracy_drop,
    accuracy_drop_fixed,
    calendar,
    every,
    every_kth,
    hindsight,
    never,
    selected_calendar,
)


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
        target_name="y",
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


def test_the_calendar_is_every_k_for_k_1_to_5_on_shared_fits() -> None:
    replay = Replay(synthetic())
    schedules = calendar(replay)
    assert [s.name for s in schedules] == ["every", "every_2", "every_3", "every_4", "every_5"]
    assert [s.retrains for s in schedules] == [8, 4, 2, 2, 1]
    assert replay.fits == 9


def test_retraining_recovers_from_the_flip_and_never_does_not() -> None:
    replay = Replay(synthetic(), history_windows=3)
    stale, fresh = replay.run("never", never), replay.run("every", every)
    assert stale.window_accuracy[-1] < 0.1 and fresh.window_accuracy[-1] > 0.9


def test_training_rows_fill_up_with_the_initial_rows() -> None:
    replay = Replay(synthetic(), history_windows=3)
    assert replay.training_rows(0) == (0, 200)
    assert replay.training_rows(5) == (400, 700)


def test_hindsight_at_a_budget_is_no_worse_than_any_schedule_with_as_many_retrains() -> None:
    replay = Replay(synthetic(), history_windows=3)
    for budget in (0, 1, 2, 4):
        best = hindsight(replay, budget)
        assert best.retrains <= budget
        for schedule in calendar(replay):
            if schedule.retrains <= budget:
                assert best.mean_accuracy >= schedule.mean_accuracy - 1e-12
    assert hindsight(replay, 0).window_accuracy == replay.run("never", never).window_accuracy


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


# -- calendar with the autopilot's setup selection -----------------------------------------------
def test_the_selecting_calendar_trains_as_keels_default_retraining() -> None:
    from keel.domain.policy import Policy

    dataset = synthetic(rows=2_000, window_rows=200)  # 9 windows
    replay = SelectingReplay(dataset)
    defaults = Policy.parse(bench_policy(dataset)).retraining.training  # the autopilot's
    assert replay.training == defaults
    end = dataset.windows[5][1]
    assert replay.training_rows(5) == (max(0, end - defaults.recent_rows), end)
    production = end - dataset.initial_rows
    assert replay.held_back(replay.training_rows(5)) == round(production * defaults.holdout)
    assert replay.held_back(replay.training_rows(0)) == 0  # 40 rows held: under 50, none
    schedules, seconds = selected_calendar(dataset)
    assert seconds > 0
    assert [s.name for s in schedules][:2] == ["every_selected", "every_2_selected"]
    names = {s.name for s in defaults.choice.setups}
    every_selected = schedules[0]
    assert sum(every_selected.details["setups"].values()) == every_selected.retrains == 8
    assert set(every_selected.details["setups"]) <= names


# -- a user's table ------------------------------------------------------------------------------
def table(rows: int = 3_000) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    x = rng.standard_normal(rows)
    frame = pd.DataFrame(
        {
            "when": pd.date_range("2020-01-01", periods=rows, freq="h").astype(str),
            "x": x,
            "colour": rng.choice(["red", "green", "blue"], rows),
            "flag": rng.random(rows) > 0.5,
            "label": np.where(x > 0, "yes", "no"),
        }
    )
    return frame.sample(frac=1.0, random_state=0)  # shuffled: the loader must sort it


def test_a_csv_table_is_sorted_by_time_typed_and_windowed(tmp_path: Path) -> None:
    path = tmp_path / "my stream.csv"
    frame = table()
    frame.to_csv(path, index=False)
    dataset = load_table(path, "label", "when", window_rows=500)
    assert dataset.name == "my-stream" and dataset.target_name == "label"
    assert dataset.initial_rows == 300 and len(dataset.windows) == 5  # 2,700 rows: 500 x 5 + 200
    assert dataset.windows[-1] == (2_300, 3_000)
    assert "when" not in dataset.features.columns and "label" not in dataset.features.columns
    assert dataset.features["colour"].dtype == "category"
    assert dataset.features["flag"].dtype == "int64"
    ordered = frame.sort_values("when")
    assert np.allclose(dataset.features["x"].to_numpy(), ordered["x"].to_numpy())
    assert dataset.classes == ("no", "yes")
    assert (dataset.target == (ordered["label"] == "yes").to_numpy()).all()
    quick = load_table(path, "label", "when", window_rows=500, max_windows=2)
    assert len(quick.windows) == 2 and quick.rows == quick.windows[-1][1]


def test_a_parquet_table_loads_the_same(tmp_path: Path) -> None:
    frame = table(1_200)
    frame.to_parquet(tmp_path / "s.parquet")
    frame.to_csv(tmp_path / "s.csv", index=False)
    parquet = load_table(tmp_path / "s.parquet", "label", "when", window_rows=200)
    csv = load_table(tmp_path / "s.csv", "label", "when", window_rows=200)
    assert parquet.windows == csv.windows and (parquet.target == csv.target).all()


@pytest.mark.parametrize(
    ("target", "time", "says"),
    [
        ("labl", "when", "--target 'labl': s.csv has no such column"),
        ("label", "time", "--time 'time': s.csv has no such column"),
        ("label", "colour", "--time 'colour': not numbers or dates"),
        ("x", "when", "--target 'x': 3000 distinct labels"),
    ],
)
def test_a_table_that_cannot_be_replayed_is_refused_naming_the_column(
    tmp_path: Path, target: str, time: str, says: str
) -> None:
    table().to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(ValueError, match=says.replace("(", r"\(")):
        load_table(tmp_path / "s.csv", target, time)


def test_a_table_too_short_for_two_windows_is_refused(tmp_path: Path) -> None:
    table(1_000).to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(ValueError, match="fewer than two windows"):
        load_table(tmp_path / "s.csv", "label", "when", window_rows=1_000)


def test_data_options_go_together(tmp_path: Path) -> None:
    args = parse_args(["--data", "f.csv", "--target", "y", "--time", "t"])
    assert args.datasets == [] and args.window == 1_000
    assert parse_args([]).datasets == ["elec2", "weather", "bank"]
    with pytest.raises(SystemExit):
        parse_args(["--data", "f.csv", "--target", "y"])
    with pytest.raises(SystemExit):
        parse_args(["--target", "y"])


# -- the autopilot's policy and replay ------------------------------------------------------------
def test_the_bench_sets_no_retraining_and_no_gates_of_its_own() -> None:
    from keel.domain.policy import Policy

    dataset = synthetic()
    policy = Policy.parse(bench_policy(dataset))
    default = Policy.parse({"risk_profile": "low"})
    assert policy.retraining == default.retraining and policy.gates == default.gates
    assert policy.promotion == default.promotion and policy.rollout == default.rollout
    assert policy.monitoring.window.rows == dataset.window_rows
    assert policy.suites["release"].time_ordered and policy.suites["release"].target == "y"
    assert baseline_rule_rows(bench_policy(dataset)) == 1_000
    off = bench_policy(dataset, {"monitoring": {"baseline_alerts": "off"}})
    assert baseline_rule_rows(off) is None


def test_the_autopilot_replays_through_keels_controller(tmp_path: Path) -> None:
    dataset = synthetic(rows=1_200, window_rows=200)  # 5 windows; the concept flips in the 3rd
    replay = Replay(dataset)
    result = run_autopilot(dataset, replay, tmp_path)
    assert result.name == "autopilot" and len(result.window_accuracy) == len(dataset.windows)
    details = result.details
    assert details["promoted"] + details["rejected"] <= result.retrains
    from keel.domain.retraining import Training

    names = {s.name for s in Training().choice.setups} | {"?"}
    assert set(details["setups"]) <= names and sum(details["setups"].values()) == result.retrains
    served = (result.retrained_after or [len(dataset.windows) - 1])[0] + 1
    stale = replay.run("never", never)
    assert result.window_accuracy[:served] == stale.window_accuracy[:served]
    alert = details["baseline_alert"]
    assert alert["labelled_rows"] == 1_000 and alert["met"] in (True, False)
    assert list(tmp_path.iterdir()) == []  # the store was temporary


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
