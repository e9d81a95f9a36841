"""The value of retraining: retrain when what a fresh model is expected to gain pays its cost.

A threshold or a drop trigger asks its owner to guess, before launch, how bad is bad enough; a
schedule asks how fast the world moves. Both answers differ per stream, and a window's accuracy
is mostly noise on a stream that moves fast. So the default rule estimates from the model's own
history how fast a model goes stale here, and retrains when that staleness is worth a retrain.

- **Staleness.** Every champion's monitoring windows, in the order it served them, show its main
  metric against its age in windows. The decay per window is the slope of that metric on age
  within each champion (each champion its own level, so a hard window for all does not read as
  decay), pooled over the history of the versions that held the champion alias, in points of
  the metric (accuracy 0.01 is one point; for a metric not bounded by 1, such as rmse, a point
  is 1% of the level fresh models start at, so the cost means the same whatever the label's
  units; for a metric where lower is better, a rise is decay). Before there is history it leans on a
  prior of ``PRIOR_DECAY`` points a window, worth ``PRIOR_WEIGHT`` (in the slope's own units: a
  champion's series of three windows weighs 2), so one noisy start neither retrains at once nor
  never.
- **A fall.** Decay is the steady part; a stream can also break at once (a new regime, a broken
  upstream feed). The champion's newest window is compared with the level fresh models start at
  (the mean first window of the newest ``LEVEL_CHAMPIONS`` champions before it); what it falls
  short by,
  less twice the window-to-window noise (the spread of the windows around each champion's own
  trend, pooled; until there are windows enough for that, the binomial spread of an accuracy
  over the window's labelled rows), is a fall no noise explains.
- **Gain.** A champion that has served A windows trails a fresh model by about decay x A points
  on each coming window, or by the fall when that is larger; over the coming A windows (a steady
  rhythm serves each model about as long as the last) that is A times as much. The decay counts
  from the champion's second window (``MIN_DECAY_AGE``): before that it has no trend of its own,
  and a history decay read off one break would retrain each new champion after one window.
- **Rule.** Retrain when that gain reaches ``retraining.cost`` (points of the main metric, 10 by
  default): the price of a retrain (compute, a rollout, a gate that may reject) in the currency
  the owner cares about. A fast-moving stream then retrains often, a stable one seldom, and a
  decay estimated at 0 or below never fires.

Every evaluation, fired or not, returns its numbers, so the decision log can explain each window.

>>> decay = staleness([[0.80, 0.78, 0.75], [0.82, 0.80]], prior=1.0, prior_weight=2.0)
>>> round(decay.points_per_window, 3), decay.windows, decay.champions
(1.778, 5, 2)
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from keel.domain.metric_specs import find_metric
from keel.domain.retraining import BOUNDED_METRICS

if TYPE_CHECKING:
    from keel.monitoring.stored_window import StoredWindow
    from keel.services import Services

__all__ = ["Staleness", "Value", "retrain_value", "staleness"]

#: decay assumed before the model has history, in points of the main metric per window
PRIOR_DECAY = 1.0
#: how much the prior weighs, in the pooled slope's units (sum of squared centred ages)
PRIOR_WEIGHT = 2.0
#: windows with fewer labelled rows than this say too little to count
MIN_LABELLED_ROWS = 30
#: how many of the model's newest windows the history reads
HISTORY_WINDOWS = 500
#: windows a champion serves before the decay can retrain it (a fall can after one)
MIN_DECAY_AGE = 2
#: how many of the newest champions' first windows make the level a fresh model starts at
LEVEL_CHAMPIONS = 5
#: how many noise spreads a fall must exceed before it counts
FALL_SPREADS = 2.0
#: the main metrics the rule can read from a window, in order of preference
MAIN_METRICS = ("accuracy", "rmse")


@dataclass(frozen=True)
class Staleness:
    """How fast a model goes stale here: points of the main metric lost per window of age."""

    points_per_window: float
    #: labelled windows and champions the estimate pooled (0: the prior alone)
    windows: int
    champions: int
    #: the spread of windows around each champion's trend, in points (None: too few windows)
    noise: float | None = None


@dataclass(frozen=True)
class Value:
    """One evaluation of the rule: the gain expected from retraining now against its cost."""

    metric: str
    decay: Staleness
    #: windows the champion has served with labels
    age: int
    expected_gain: float
    cost: float
    #: points the champion's newest window falls short of the fresh level, and the part of
    #: that no noise explains (0 when the noise is not known yet)
    shortfall: float = 0.0
    fall: float = 0.0

    @property
    def fire(self) -> bool:
        return self.expected_gain >= self.cost and self.expected_gain > 0

    def reason(self) -> str:
        compared = ">=" if self.fire else "<"
        fell = (
            f"; its newest window fell {self.fall:.2f} points more than noise explains"
            if self.fall > self.decay.points_per_window * self.age
            else ""
        )
        return (
            f"expected gain {self.expected_gain:.2f} points {compared} cost {self.cost:g} "
            f"({self.metric} decays {self.decay.points_per_window:.2f} points a window, "
            f"from {self.decay.windows} windows of {self.decay.champions} champions; "
            f"the champion has served {self.age} windows{fell})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "decay_points_per_window": round(self.decay.points_per_window, 4),
            "history_windows": self.decay.windows,
            "history_champions": self.decay.champions,
            "noise_points": None if self.decay.noise is None else round(self.decay.noise, 4),
            "age_windows": self.age,
            "shortfall_points": round(self.shortfall, 4),
            "fall_points": round(self.fall, 4),
            "expected_gain": round(self.expected_gain, 4),
            "cost": self.cost,
        }


def staleness(
    series: Sequence[Sequence[float]],
    *,
    prior: float = PRIOR_DECAY,
    prior_weight: float = PRIOR_WEIGHT,
    lower_is_better: bool = False,
    scale: float = 100.0,
) -> Staleness:
    """The pooled within-champion decay of ``series`` (each champion's metric per window, oldest
    first), in points (the metric times ``scale``), shrunk towards ``prior`` points a window."""
    covariance = variance = spread = 0.0
    windows = champions = 0
    for values in series:
        if len(values) < 2:
            continue
        mean_age = (len(values) - 1) / 2
        mean_value = sum(values) / len(values)
        covariance += sum((a - mean_age) * (v - mean_value) for a, v in enumerate(values))
        variance += sum((a - mean_age) ** 2 for a in range(len(values)))
        spread += sum((v - mean_value) ** 2 for v in values)
        windows += len(values)
        champions += 1
    loss = (covariance if lower_is_better else -covariance) * scale  # points lost per window
    decay = (loss + prior * prior_weight) / (variance + prior_weight)
    # what the trend leaves unexplained, per degree of freedom (each champion's level, one slope)
    freedom = windows - champions - 1
    noise = None
    if freedom >= 3 and variance > 0:
        residual = spread - covariance * covariance / variance
        noise = math.sqrt(max(residual, 0.0) / freedom) * scale
    return Staleness(decay, windows, champions, noise)


def retrain_value(
    services: Services, model: str, champion: int, served_since: datetime | None, cost: float
) -> Value | None:
    """The rule evaluated on ``model``'s stored windows now: the champion's age counts its
    labelled windows that ended after ``served_since`` (all of them when None). None before it
    has one, or when no window carries a main metric."""
    windows = services.monitoring.monitor_windows(model, limit=HISTORY_WINDOWS)
    metric = _main_metric(windows)
    if metric is None:
        return None
    # the versions that held the champion alias: a canary rolled back or a shadow is no
    # champion, and its windows say nothing about how champions age here
    champions = {m.version for m in services.registry.alias_history(model, "champion")}
    champions.add(champion)
    per_version: dict[int, list[StoredWindow]] = defaultdict(list)
    for window in sorted(windows, key=lambda w: (w.start_at, w.id)):
        counted = window.labelled_rows >= MIN_LABELLED_ROWS and window.version in champions
        if counted and _value(window, metric) is not None:
            per_version[window.version].append(window)
    own = [
        w for w in per_version.get(champion, []) if served_since is None or w.end_at > served_since
    ]
    if not own:
        return None
    series = [[_value(w, metric) or 0.0 for w in ws] for ws in per_version.values()]
    spec = find_metric(metric)
    lower_is_better = spec is not None and not spec.higher_is_better
    # the level fresh models start at: the first windows of the champions before this one (its
    # own first window is its newest when it is new, which would hide any fall), else its own
    # first window as champion (not the first since a rejected retrain reset its age)
    before = [ws for version, ws in per_version.items() if version != champion]
    starts = sorted(before, key=lambda ws: ws[0].start_at)[-LEVEL_CHAMPIONS:]
    starts = starts or [per_version[champion]]
    level = sum(_value(ws[0], metric) or 0.0 for ws in starts) / len(starts)
    scale = _points(metric, level)
    if scale is None:
        return None
    decay = staleness(series, lower_is_better=lower_is_better, scale=scale)
    newest = _value(own[-1], metric) or 0.0
    shortfall = (newest - level if lower_is_better else level - newest) * scale
    noise = decay.noise if decay.noise is not None else _sampling_noise(metric, level, own[-1])
    fall = 0.0 if noise is None else max(shortfall - FALL_SPREADS * noise, 0.0)
    age = len(own)
    # decay is judged once the champion has a trend of its own: a history decay read off one
    # break would otherwise retrain every new champion after one window, forever, since none
    # would serve the two windows that show it does not decay (a break is the fall's to answer)
    aged = decay.points_per_window * age if age >= MIN_DECAY_AGE else 0.0
    gain = max(aged, fall, 0.0) * age
    return Value(metric, decay, age, gain, cost, shortfall, fall)


def _sampling_noise(metric: str, level: float, window: StoredWindow) -> float | None:
    """Before the history shows its noise, the least an accuracy moves by chance: the binomial
    standard error of ``level`` over the window's labelled rows, in points (None for another
    metric, whose chance spread has no such formula)."""
    if metric != "accuracy" or not 0 < level < 1:
        return None
    return 100.0 * math.sqrt(level * (1 - level) / window.labelled_rows)


def _points(metric: str, level: float) -> float | None:
    """What one unit of ``metric`` is in points: 100 for a metric between 0 and 1 (accuracy
    0.01 is a point); for an unbounded one (rmse), 100 over the level fresh models start at, so
    a point is 1% of that level whatever the label's units (None at a level of 0)."""
    if metric in BOUNDED_METRICS:
        return 100.0
    return 100.0 / abs(level) if level else None


def _main_metric(windows: Sequence[StoredWindow]) -> str | None:
    for metric in MAIN_METRICS:
        if any(_value(w, metric) is not None for w in windows):
            return metric
    return None


def _value(window: StoredWindow, metric: str) -> float | None:
    value = (window.performance or {}).get(metric)
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
        return float(value)
    return None
