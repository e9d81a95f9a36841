"""The accuracy-drop detector: quiet on stationary streams, quick after a rise, exact resumption."""

from __future__ import annotations

import doctest
import json
import math
from typing import Any

import numpy as np
import pytest

from keel.errors import InvalidInput
from keel.monitoring import detectors
from keel.monitoring.detectors import AccuracyDropDetector, chart_arl


def errors(rng: np.random.Generator, *segments: tuple[int, float]) -> np.ndarray:
    """0/1 error indicators: ``rows`` rows at error rate ``rate`` for each segment in turn."""
    return np.concatenate([(rng.random(rows) < rate).astype(np.int8) for rows, rate in segments])


def test_the_module_example_runs() -> None:
    assert doctest.testmod(detectors).failed == 0


def test_no_alarm_on_long_stationary_streams() -> None:
    """20 streams of 50,000 rows at a 10 % error rate: about 1M in-control rows, with a target
    of one false alarm per million rows; the baseline is estimated, as on a new deployment."""
    false_alarms = 0
    for seed in range(20):
        detector = AccuracyDropDetector(min_shift=0.05, arl0=1_000_000)
        false_alarms += len(
            detector.update_many(errors(np.random.default_rng(seed), (50_000, 0.1)))
        )
    assert false_alarms <= 1


def test_false_alarm_rate_follows_the_target_run_length() -> None:
    """The threshold comes from the target ARL, not a constant: with a known baseline, rows per
    alarm on in-control streams are at least arl0 and not far above it (the charts alarm
    together more often than apart, so the bank's bound is conservative), for two targets an
    order of magnitude apart."""
    rng = np.random.default_rng(11)
    for arl0, rows in ((1_000.0, 500_000), (10_000.0, 2_000_000)):
        detector = AccuracyDropDetector(min_shift=0.05, arl0=arl0, reference_accuracy=0.8)
        alarms = len(detector.update_many(errors(rng, (rows, 0.2))))
        assert arl0 <= rows / alarms <= 3 * arl0, (arl0, rows / alarms)


def test_alarm_soon_after_a_ten_point_jump() -> None:
    """Error rate 10 % -> 20 % with the default false-alarm rate (one per 10M rows): an optimal
    detector needs about ln(1e7) / KL(0.2 || 0.1) = 16.1 / 0.044, some 360 rows, from a cold
    start; the bank, starting warm, does as well on the median and never takes more than 800."""
    delays = []
    for seed in range(20):
        stream = errors(np.random.default_rng(100 + seed), (20_000, 0.1), (5_000, 0.2))
        alarms = AccuracyDropDetector(min_shift=0.05).update_many(stream)
        assert alarms and alarms[0] >= 20_000, f"seed {seed}: alarm before the jump: {alarms}"
        delays.append(alarms[0] - 20_000)
    assert max(delays) <= 800, delays
    assert float(np.median(delays)) <= 380, delays


def test_a_given_reference_needs_no_warm_up_and_keeps_alarming_while_worse() -> None:
    stream = errors(np.random.default_rng(5), (3_000, 0.1), (5_000, 0.3))
    detector = AccuracyDropDetector(reference_accuracy=0.9)
    assert detector.baseline == pytest.approx(0.1)
    alarms = detector.update_many(stream)
    assert alarms[0] >= 3_000
    assert len(alarms) >= 5  # the model stays worse than its reference: it keeps saying so


def test_an_estimated_baseline_follows_the_new_regime_after_an_alarm() -> None:
    stream = errors(np.random.default_rng(6), (5_000, 0.1), (30_000, 0.3))
    detector = AccuracyDropDetector(warmup=500)
    alarms = detector.update_many(stream)
    assert len(alarms) == 1 and 5_000 <= alarms[0] < 6_000
    assert detector.baseline is not None and 0.28 < detector.baseline < 0.33


def test_correct_outcomes_mirror_error_indicators() -> None:
    stream = errors(np.random.default_rng(8), (4_000, 0.1), (3_000, 0.25))
    by_error = AccuracyDropDetector(warmup=500).update_many(stream)
    by_hit = AccuracyDropDetector(warmup=500, outcome="correct").update_many(1 - stream)
    assert by_error == by_hit and by_error


def run_in_chunks(
    stream: np.ndarray, sizes: list[int], options: dict[str, Any]
) -> tuple[list[int], dict[str, Any]]:
    detector = AccuracyDropDetector(**options)
    alarms, start = [], 0
    for size in sizes:
        alarms += [start + i for i in detector.update_many(stream[start : start + size])]
        start += size
    return alarms, detector.to_dict()


@pytest.mark.parametrize("reference", [None, 0.9])
def test_chunked_updates_equal_row_by_row_updates(reference: float | None) -> None:
    rng = np.random.default_rng(21)
    stream = errors(rng, (2_500, 0.1), (1_500, 0.35), (2_000, 0.6))
    options: dict[str, Any] = {"warmup": 300, "min_shift": 0.05, "reference_accuracy": reference}
    one_by_one = AccuracyDropDetector(**options)
    rows = [i for i, value in enumerate(stream) if one_by_one.update(int(value))]
    assert len(rows) >= 2  # the comparison crosses alarms and restarts
    cuts = np.sort(rng.choice(np.arange(1, len(stream)), 40, replace=False))
    sizes = np.diff(np.concatenate([[0], cuts, [len(stream)]])).tolist()
    for chunks in ([len(stream)], sizes):
        alarms, state = run_in_chunks(stream, chunks, options)
        assert alarms == rows
        assert state == one_by_one.to_dict()


@pytest.mark.parametrize("stop", [150, 4_000])  # inside the warm-up, and after an alarm
def test_state_round_trip_resumes_identically(stop: int) -> None:
    stream = errors(np.random.default_rng(31), (3_000, 0.1), (3_000, 0.3))
    whole = AccuracyDropDetector(warmup=400)
    expected = whole.update_many(stream)
    first = AccuracyDropDetector(warmup=400)
    alarms = first.update_many(stream[:stop])
    state = json.loads(json.dumps(first.to_dict(), allow_nan=False))
    resumed = AccuracyDropDetector.from_dict(state)
    alarms += [stop + i for i in resumed.update_many(stream[stop:])]
    assert alarms == expected and expected
    assert resumed.to_dict() == whole.to_dict()


def test_reset_forgets_everything() -> None:
    detector = AccuracyDropDetector(warmup=100)
    detector.update_many(errors(np.random.default_rng(1), (2_000, 0.4)))
    detector.reset()
    assert detector.to_dict() == AccuracyDropDetector(warmup=100).to_dict()
    assert detector.baseline is None and detector.charts == []


def test_charts_report_their_shifts_thresholds_and_statistics() -> None:
    detector = AccuracyDropDetector(reference_accuracy=0.9, min_shift=0.05)
    assert [chart["shift"] for chart in detector.charts] == [0.05, 0.1, 0.2, 0.4, 0.8]
    assert all(5 < chart["threshold"] < 20 for chart in detector.charts)
    detector.update_many([1, 1, 1])
    assert all(chart["statistic"] > 0 for chart in detector.charts)


@pytest.mark.parametrize(
    "bad",
    [[0, 1, 2], [0.0, math.nan], [0.5], [-1], ["x"], [None], [[0, 1], [1, 0]]],
    ids=["two", "nan", "half", "negative", "text", "none", "2d"],
)
def test_bad_outcomes_are_refused(bad: list) -> None:
    detector = AccuracyDropDetector(warmup=10)
    before = detector.to_dict()
    with pytest.raises(InvalidInput) as caught:
        detector.update_many(bad)
    assert caught.value.field == "outcomes"
    assert detector.to_dict() == before  # a refused chunk changes nothing
    with pytest.raises(InvalidInput):
        detector.update(math.nan)


@pytest.mark.parametrize(
    "options",
    [
        {"min_shift": 0.0},
        {"min_shift": 1.0},
        {"arl0": 5},
        {"arl0": math.inf},
        {"reference_accuracy": 1.0},
        {"reference_accuracy": 0.03},
        {"warmup": 0},
        {"baseline_z": -1.0},
        {"outcome": "wrong"},
    ],
)
def test_bad_settings_are_refused(options: dict) -> None:
    with pytest.raises(InvalidInput):
        AccuracyDropDetector(**options)


def test_a_state_that_is_not_one_is_refused() -> None:
    state = AccuracyDropDetector(reference_accuracy=0.9).to_dict()
    for broken in (
        {**state, "version": 99},
        {k: v for k, v in state.items() if k != "thresholds"},
        {**state, "statistics": [0]},
        {**state, "shifts": None},
    ):
        with pytest.raises(InvalidInput):
            AccuracyDropDetector.from_dict(broken)


def test_chart_run_length_matches_simulation() -> None:
    """The Markov-chain ARL the thresholds rest on, against 4,000 simulated runs of one chart
    (a small rise, where rounding the increment would be badly wrong)."""
    p0, p1, h = 0.1, 0.15, 4.0
    rng = np.random.default_rng(3)
    up, down = math.log(p1 / p0), math.log((1 - p1) / (1 - p0))
    statistic, lengths, alive, t = np.zeros(4_000), np.zeros(4_000), np.ones(4_000, bool), 0
    while alive.any():
        t += 1
        statistic = np.maximum(0.0, statistic + np.where(rng.random(4_000) < p0, up, down))
        ended = alive & (statistic >= h)
        lengths[ended], alive = t, alive & ~ended
    standard_error = lengths.std() / math.sqrt(len(lengths))
    assert abs(chart_arl(p0, p1, h) - lengths.mean()) < 4 * standard_error
