"""The staleness estimate behind the value rule: a pooled within-champion slope, shrunk to a
prior, that reads decay and not the difficulty of the windows every champion shared."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.controller.retrain_value import PRIOR_DECAY, staleness


def test_no_history_is_the_prior() -> None:
    assert staleness([]).points_per_window == PRIOR_DECAY
    assert staleness([[0.9]]).points_per_window == PRIOR_DECAY  # one window has no slope
    assert staleness([[0.9]]).windows == 0


@settings(deadline=None, max_examples=60)
@given(
    decay=st.floats(0.0, 5.0),
    level=st.floats(0.3, 0.7),
    champions=st.integers(1, 8),
    length=st.integers(2, 12),
)
def test_a_long_history_recovers_a_linear_decay(
    decay: float, level: float, champions: int, length: int
) -> None:
    # each champion starts at its own level and loses ``decay`` points a window
    series = [[level + c * 0.01 - decay / 100 * a for a in range(length)] for c in range(champions)]
    found = staleness(series, prior_weight=0.0)
    assert found.points_per_window == pytest.approx(decay, abs=1e-9)
    assert found.windows == champions * length and found.champions == champions


def test_a_hard_window_shared_by_all_is_not_decay() -> None:
    # two champions, each flat: their levels differ, which a pooled fit without each its own
    # level would read as a trend
    assert staleness([[0.7, 0.7, 0.7], [0.9, 0.9]], prior_weight=0.0).points_per_window == 0


def test_a_metric_where_lower_is_better_decays_when_it_rises() -> None:
    rising = [[1.0, 1.5, 2.0]]
    assert staleness(rising, lower_is_better=True, scale=1, prior_weight=0).points_per_window == 0.5


def test_the_prior_weighs_like_a_three_window_champion() -> None:
    # a flat three-window champion (sum of squared centred ages 2) halves the prior
    assert staleness([[0.8, 0.8, 0.8]]).points_per_window == pytest.approx(PRIOR_DECAY / 2)


def test_the_noise_is_the_spread_around_each_champions_trend() -> None:
    # two champions losing 1 point a window, each window 2 points above or below that trend
    wobble = [0.02, -0.02, 0.02, -0.02, 0.02, -0.02]
    series = [[0.8 - 0.01 * a + w for a, w in enumerate(wobble)] for _ in range(2)]
    found = staleness(series, prior_weight=0.0)
    # the wobble leans downhill too (its covariance with age is -0.06 per champion, over 17.5)
    assert found.points_per_window == pytest.approx(1.0 + 6 / 17.5, abs=1e-9)
    # what is left: 0.0048 less the lean (0.12**2 / 35), over 12 - 2 levels - 1 slope
    assert found.noise == pytest.approx(100 * ((0.0048 - 0.12**2 / 35) / 9) ** 0.5, abs=1e-9)
    assert staleness([[0.8, 0.7]]).noise is None  # too few windows to tell noise from trend


def _windows(version: int, accuracies: list[float], start_day: int) -> list[Any]:
    from datetime import UTC, datetime, timedelta

    from keel.monitoring.stored_window import StoredWindow

    day = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        StoredWindow(
            id=start_day + i, model="m", version=version, kind="rows",
            start_at=day + timedelta(days=start_day + i),
            end_at=day + timedelta(days=start_day + i + 1),
            rows=1000, labelled_rows=1000, reference={}, drift={}, estimate={},
            operations={}, performance={"accuracy": a}, quality={},
        )
        for i, a in enumerate(accuracies)
    ]  # fmt: skip


def _services(windows: list[Any], champions: list[int]) -> Any:
    from types import SimpleNamespace

    moves = [SimpleNamespace(version=v) for v in champions]
    return SimpleNamespace(
        monitoring=SimpleNamespace(monitor_windows=lambda model, limit: windows[::-1]),
        registry=SimpleNamespace(alias_history=lambda model, alias: moves),
    )


def test_a_fall_after_a_rejected_retrain_is_measured_from_the_champions_own_start() -> None:
    from datetime import UTC, datetime

    from keel.controller.retrain_value import retrain_value

    # v1 served 16 steady windows, a retrain was rejected after the 16th, then the stream broke
    steady = [0.96, 0.95, 0.96, 0.94, 0.95, 0.96, 0.95, 0.94, 0.96, 0.95, 0.94, 0.95, 0.96]
    windows = _windows(1, [*steady, 0.95, 0.94, 0.95, 0.51], 0)
    rejected_at = datetime(2026, 1, 17, tzinfo=UTC)  # the age counts from here: one window
    value = retrain_value(_services(windows, [1]), "m", 1, rejected_at, cost=10)
    assert value is not None and value.age == 1
    # the broken window inflates the noise it is judged against (10 points), and still falls 25
    assert value.shortfall > 40 and value.fall > 20 and value.fire, value.to_dict()


def test_a_canary_that_never_held_the_alias_does_not_set_the_level() -> None:
    from keel.controller.retrain_value import retrain_value

    # v2 served a canary that went badly and was rolled back; v1 is champion and steady
    windows = [*_windows(1, [0.90, 0.90, 0.89, 0.90], 0), *_windows(2, [0.40, 0.41], 10)]
    value = retrain_value(_services(windows, [1]), "m", 1, None, cost=10)
    assert value is not None and value.decay.champions == 1 and value.shortfall == 0


def test_a_new_champion_is_not_retrained_for_decay_before_it_has_a_trend_of_its_own() -> None:
    from keel.controller.retrain_value import retrain_value

    # v1 broke once (a concept flip reads as fast decay); v2, fresh and fine, served one window
    windows = [*_windows(1, [0.98, 0.98, 0.50, 0.50], 0), *_windows(2, [0.97], 4)]
    value = retrain_value(_services(windows, [1, 2]), "m", 2, None, cost=10)
    assert value is not None and value.decay.points_per_window > 10 and value.age == 1
    # no decay counted yet: what gain there is comes from its one-point shortfall, mostly chance
    assert value.expected_gain == value.fall < 1 and not value.fire
    later = [*windows, *_windows(2, [0.97], 5)]
    value = retrain_value(_services(later, [1, 2]), "m", 2, None, cost=10)
    assert value is not None and value.age == 2 and value.expected_gain > 0


def test_before_the_history_shows_its_noise_a_fall_is_judged_against_chance() -> None:
    from datetime import UTC, datetime

    from keel.controller.retrain_value import retrain_value

    # three windows: too few to measure the noise around a trend; the binomial spread of 96%
    # over 1,000 labelled rows (0.62 points) stands in, and a 46-point fall is far beyond it
    windows = _windows(1, [0.96, 0.96, 0.50], 0)
    after = datetime(2026, 1, 3, 12, tzinfo=UTC)  # a rejected retrain after the second window
    value = retrain_value(_services(windows, [1]), "m", 1, after, cost=10)
    assert value is not None and value.decay.noise is None and value.age == 1
    assert value.fall == pytest.approx(46 - 2 * 100 * (0.96 * 0.04 / 1000) ** 0.5)
    assert value.fire
