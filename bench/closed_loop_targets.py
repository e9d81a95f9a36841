"""The issue's targets for ``bench/closed_loop.py``, per stream, each as
``{"value", "limit", "met", "margin"}`` (margin: how far the value is on the good side of the
limit, in the value's units; negative when missed).

- ``a_near_every``: the autopilot's mean window accuracy at least ``every``'s (plain setup)
  minus 0.5 points, with at most half of ``every``'s retrains (``retrains``, ``retrain_limit``
  and ``retrain_margin`` beside; both must hold).
- ``b_beats_calendar``: the autopilot's accuracy at least the calendar schedule's with the same
  number of retrains (plain setup). The calendar's accuracy at ``r`` retrains is read off the
  points (retrains, mean accuracy) of ``never`` (0 retrains) and ``every_k`` for k = 1..5 by
  linear interpolation between the two nearest retrain counts around ``r`` (schedules with the
  same count are averaged first; outside the points, the nearest end). Beside it, the same
  reading of the calendar with the autopilot's setup selection (``calendar_selected``), not a
  target: the autopilot against it is the gain from choosing *when* alone.
- ``c_above_majority``: the autopilot strictly above the ``majority`` baseline. No target is met
  by a strategy at or below it: ``a`` and ``b`` are not met then, whatever their margins.
- ``c_baseline_alert``: Keel's default baseline alert (``accuracy beats baseline majority``,
  added by ``monitoring.baseline_alerts``) was open after every autopilot pass whose newest
  labelled rows the serving models did not beat the best constant on. The bench scores the same
  rows the rule reads (the newest ``labelled_rows`` labelled predictions, across windows) against
  the majority class of those rows, as the rule does (not the initial rows' majority of the
  ``majority`` strategy); "beats" is strictly above, as the rule fires at or below 0. The value is
  the number of such windows with no open alert (the limit 0); ``false_alarms`` counts windows
  with an open alert where the models did beat it. The last window is left out: no pass runs
  after it.

>>> interpolate([(0, 0.60), (10, 0.70), (5, 0.66)], 7)
0.676
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from closed_loop_results import StrategyResult

TARGET_POINTS = 0.005  # (a): within 0.5 points of every
EPSILON = 1e-9


def interpolate(points: Sequence[tuple[float, float]], x: float) -> float:
    """``y`` at ``x`` on the polyline through ``points`` (duplicate ``x`` averaged, flat beyond
    either end)."""
    if not points:
        raise ValueError("no points to interpolate between")
    grouped: dict[float, list[float]] = {}
    for px, py in points:
        grouped.setdefault(px, []).append(py)
    xs = sorted(grouped)
    ys = [sum(grouped[px]) / len(grouped[px]) for px in xs]
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    right = next(i for i, px in enumerate(xs) if px >= x)
    x0, x1, y0, y1 = xs[right - 1], xs[right], ys[right - 1], ys[right]
    return round(y0 + (y1 - y0) * (x - x0) / (x1 - x0), 12)


def calendar_at(schedules: Sequence[StrategyResult], retrains: float) -> float:
    """The calendar's mean accuracy at ``retrains`` retrains (``schedules``: ``never`` and the
    ``every_k``)."""
    return interpolate([(s.retrains, s.mean_accuracy) for s in schedules], retrains)


def target(value: Any, limit: Any, met: bool, margin: Any, **extra: Any) -> dict[str, Any]:
    return {"value": value, "limit": limit, "met": bool(met), "margin": margin, **extra}


def above_majority(pilot: StrategyResult, trivial: StrategyResult) -> dict[str, Any]:
    margin = pilot.mean_accuracy - trivial.mean_accuracy
    return target(pilot.mean_accuracy, trivial.mean_accuracy, margin > EPSILON, margin)


def near_every(
    pilot: StrategyResult, every: StrategyResult, trivial: StrategyResult
) -> dict[str, Any]:
    limit = every.mean_accuracy - TARGET_POINTS
    margin = pilot.mean_accuracy - limit
    retrain_limit = every.retrains / 2
    retrain_margin = retrain_limit - pilot.retrains
    met = margin >= -EPSILON and retrain_margin >= 0 and above_majority(pilot, trivial)["met"]
    return target(
        pilot.mean_accuracy,
        limit,
        met,
        margin,
        retrains=pilot.retrains,
        retrain_limit=retrain_limit,
        retrain_margin=retrain_margin,
    )


def beats_calendar(
    pilot: StrategyResult,
    plain: Sequence[StrategyResult],
    trivial: StrategyResult,
    selected: Sequence[StrategyResult] = (),
) -> dict[str, Any]:
    """``plain`` and ``selected``: ``never`` and the ``every_k`` of each setup."""
    limit = calendar_at(plain, pilot.retrains)
    margin = pilot.mean_accuracy - limit
    met = margin >= -EPSILON and above_majority(pilot, trivial)["met"]
    extra: dict[str, Any] = {"retrains": pilot.retrains}
    if selected:
        extra["calendar_selected"] = calendar_at(selected, pilot.retrains)
    return target(pilot.mean_accuracy, limit, met, margin, **extra)


def window_beats_baseline(
    predictions: Sequence[Any], labels: Sequence[Any], ends: Sequence[int], rows: int
) -> list[bool | None]:
    """Per window end (an offset into the served rows), whether the predictions beat the best
    constant over the newest ``rows`` labelled rows up to it (None while fewer are labelled)."""
    import numpy as np

    predicted, truth = np.asarray(predictions), np.asarray(labels)
    out: list[bool | None] = []
    for end in ends:
        if end < rows:
            out.append(None)
            continue
        window_truth = truth[end - rows : end]
        model = float((predicted[end - rows : end] == window_truth).mean())
        constant = float(np.unique(window_truth, return_counts=True)[1].max() / rows)
        out.append(model > constant + EPSILON)
    return out


def baseline_alert(beats: Sequence[bool | None], alert_open: Sequence[bool]) -> dict[str, Any]:
    """``c_baseline_alert`` from the bench's verdicts and the alert's state after each pass."""
    if len(beats) != len(alert_open):
        raise ValueError(f"{len(beats)} verdicts against {len(alert_open)} alert states")
    missing = [w for w, beat in enumerate(beats) if beat is False]
    missed = [w for w in missing if not alert_open[w]]
    false = [w for w, beat in enumerate(beats) if beat and alert_open[w]]
    return target(
        len(missed),
        0,
        not missed,
        -len(missed),
        windows_not_beating=len(missing),
        alert_open_windows=sum(alert_open),
        missed_windows=missed,
        false_alarms=len(false),
    )


def targets(
    pilot: StrategyResult,
    plain: Sequence[StrategyResult],
    trivial: StrategyResult,
    selected: Sequence[StrategyResult] = (),
    alert: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Every target for one stream (``plain``: ``never`` and the ``every_k``)."""
    every = next(s for s in plain if s.name == "every")
    out = {
        "a_near_every": near_every(pilot, every, trivial),
        "b_beats_calendar": beats_calendar(pilot, plain, trivial, selected),
        "c_above_majority": above_majority(pilot, trivial),
    }
    if alert is not None:
        out["c_baseline_alert"] = alert
    return out
