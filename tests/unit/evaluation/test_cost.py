"""Interleaved cost runs, on a fake clock: the figures are exact, whatever the machine does."""

from __future__ import annotations

from itertools import groupby
from typing import Any

import pandas as pd
import pytest

from keel.evaluation.cost import measure_interleaved


class Clock:
    """Seconds that pass only when a fake model predicts; the calls numbered within ``spike``
    take ten times as long, as on a machine that suddenly gets busy."""

    def __init__(self, spike: tuple[int, int] = (0, 0)) -> None:
        self.now, self.spike, self.calls = 0.0, spike, 0

    def __call__(self) -> float:
        return self.now

    def spend(self, seconds: float) -> None:
        busy = self.spike[0] <= self.calls < self.spike[1]
        self.now += seconds * (10 if busy else 1)
        self.calls += 1


class Timed:
    """A model whose every predict costs ``ms`` milliseconds on the clock, logged by name."""

    def __init__(self, name: str, ms: float, clock: Clock, calls: list[str]) -> None:
        self.name, self.ms, self.clock, self.calls = name, ms, clock, calls

    def predict(self, frame: pd.DataFrame) -> list[int]:
        self.calls.append(self.name)
        self.clock.spend(self.ms / 1000)
        return [0] * len(frame)


class Failing:
    def predict(self, frame: pd.DataFrame) -> Any:
        raise RuntimeError("no champion today")


FRAME = pd.DataFrame({"x": [float(i) for i in range(10)]})


def test_candidate_and_champion_take_turns_and_the_median_ignores_a_busy_spell() -> None:
    # a run of one model makes 5 warm-up calls, 10 single rows and 2 batches (the first run one
    # more call for memory): calls 36-40 warm the candidate's second run, 41-50 are its rows
    clock, calls = Clock(spike=(43, 48)), []
    candidate = Timed("candidate", 2.0, clock, calls)
    champion = Timed("champion", 1.0, clock, calls)
    measured = measure_interleaved(
        candidate, champion, FRAME, (2_000_000, 1_000_000), runs=5, budget_s=100, clock=clock
    )
    assert [name for name, _ in groupby(calls)] == ["candidate", "champion"] * 5
    assert measured.runs == 5
    assert measured.candidate["latency_p50_ms"] == pytest.approx(2.0)
    assert measured.champion is not None
    assert measured.champion["latency_p50_ms"] == pytest.approx(1.0)
    assert measured.ratio["latency_p99_ms"] == pytest.approx(2.0)
    assert measured.ratio["size_mb"] == pytest.approx(2.0)
    low, high = measured.spread["latency_p99_ms"]
    assert low == pytest.approx(2.0) and high == pytest.approx(20.0)  # the spike is reported
    assert measured.to_dict()["spread"]["latency_p99_ms"] == [low, high]


def test_one_run_is_what_a_single_run_measures() -> None:
    clock, calls = Clock(), []
    measured = measure_interleaved(
        Timed("candidate", 3.0, clock, calls), None, FRAME, (0, None), runs=1, clock=clock
    )
    assert set(calls) == {"candidate"}
    assert measured.candidate["latency_batch_p50_ms"] == pytest.approx(3.0)
    assert measured.spread["latency_p50_ms"] == [pytest.approx(3.0)] * 2
    assert measured.champion is None and measured.ratio == {}


def test_a_champion_that_fails_leaves_the_candidate_measured() -> None:
    clock, calls = Clock(), []
    measured = measure_interleaved(
        Timed("candidate", 1.0, clock, calls), Failing(), FRAME, (0, 0), runs=3, clock=clock
    )
    assert measured.champion is None and measured.ratio == {}
    assert measured.champion_error is not None and "no champion today" in measured.champion_error
    assert measured.candidate["latency_p50_ms"] == pytest.approx(1.0)


def test_runs_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        measure_interleaved(object(), None, FRAME, (0, None), runs=0)
