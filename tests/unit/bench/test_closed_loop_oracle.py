"""The hindsight ceiling of ``bench/closed_loop_oracle.py`` against brute force."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from closed_loop_oracle import hindsight_schedule


def _total(table: dict[tuple[int, int], float], windows: int, schedule: tuple[int, ...]) -> float:
    model, total = -1, 0.0
    for window in range(windows):
        total += table[(model, window)]
        if window in schedule:
            model = window
    return total


@st.composite
def tables(draw: st.DrawFn) -> tuple[dict[tuple[int, int], float], int, int]:
    windows = draw(st.integers(1, 7))
    budget = draw(st.integers(0, 7))
    cell = st.floats(0.0, 1.0, allow_nan=False)
    table = {(m, w): draw(cell) for w in range(windows) for m in range(-1, w)}
    return table, windows, budget


@settings(max_examples=150, deadline=None)
@given(tables())
def test_it_finds_the_best_schedule_within_the_budget(
    case: tuple[dict[tuple[int, int], float], int, int],
) -> None:
    table, windows, budget = case
    total, schedule = hindsight_schedule(lambda m, w: table[(m, w)], windows, budget)
    candidates = range(windows - 1)  # a retrain after the last window serves nothing
    best = max(
        _total(table, windows, chosen)
        for size in range(min(budget, windows - 1) + 1)
        for chosen in itertools.combinations(candidates, size)
    )
    assert abs(total - best) < 1e-9
    assert len(schedule) <= budget and all(0 <= w < windows - 1 for w in schedule)
    assert abs(_total(table, windows, tuple(schedule)) - total) < 1e-9  # the schedule scores it


def test_nothing_to_schedule() -> None:
    assert hindsight_schedule(lambda m, w: 1.0, 0, 3) == (0.0, [])
