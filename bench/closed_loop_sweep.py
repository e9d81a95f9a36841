"""How far online triggers can go on the closed-loop data sets: a sweep, against the ceiling.

Run ``.venv/bin/python bench/closed_loop_sweep.py`` (about 16 s on 2 cores; ``--quick``: the
first 12 windows of each data set). It replays the same protocol as ``bench/closed_loop.py``
(the same learner, windows and training rows; models cached per training rows, so a rule costs
no fit) with a family of retraining rules that decide from what has been seen so far, and
reports, per data set, the issue's bar (``every`` minus 0.5 points, at most half its retrains,
and above the ``majority`` baseline: a rule a constant beats meets nothing),
the best rule within that budget, and the hindsight ceiling (``closed_loop_oracle``). The answer
is one line of JSON on stdout. ``--half-life W`` weights the training rows by age (halving every
W windows, as ``training.recency_half_life`` does) for every rule, ``every`` and the ceiling
alike; the bar stays the unweighted ``every``'s, as the issue sets it.

The rules (all online, each tried over a grid of its settings):
- ``age K``: retrain once the serving model has served K windows (a schedule);
- ``drop D``: a window at least D below the serving model's first window (Keel's ``accuracy
  drops by D``);
- ``champions D K``: a window at least D below the mean first window of the newest K models,
  the serving one included (Keel's ``accuracy drops by D against the last K champions``);
- ``level T``: a window below the launch level minus T (Keel's ``accuracy < X``, X fixed at
  launch from the initial model's first window);
- ``age K or drop D`` and ``age K or champions D 5``: either fires.

The grids include margins of 0 (any fall at all), which the sweep can replay but Keel's
triggers refuse (a margin must be above 0). No rule knows a window's accuracy before it is
served; the ceiling does, which is why it is a ceiling. Where the best rule stays under the bar
while the ceiling clears it, what is missing is foresight, not a better trigger; where the
ceiling itself is under the bar, no trigger can meet it with this learner and these training rows.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from itertools import product
from pathlib import Path
from typing import Any

from closed_loop import QUICK_WINDOWS
from closed_loop_data import DEFAULT_DATA_ROOT, SPECS, load_dataset, missing_reason
from closed_loop_results import (
    Policy,
    Replay,
    StrategyResult,
    WindowOutcome,
    log,
    majority,
    rounded,
)
from closed_loop_strategies import (
    accuracy_drop as drop,  # a window ``points`` below the serving model's first window
)
from closed_loop_strategies import every, hindsight_half
from closed_loop_targets import TARGET_POINTS


def age(windows: int) -> Policy:
    """Retrain once the serving model has served ``windows`` windows (counted from whenever it
    started serving, whichever rule retrained it: ``retraining.max_age``)."""
    served: list[int] = [0]
    model: list[tuple[int, int] | None] = [None]

    def policy(outcome: WindowOutcome) -> bool:
        if outcome.trained_on != model[0]:
            model[0], served[0] = outcome.trained_on, 0
        served[0] += 1
        return served[0] >= windows

    return policy


def champions(points: float, count: int) -> Policy:
    """A window ``points`` below the mean first window of the newest ``count`` models."""
    firsts: list[float] = []
    model: list[tuple[int, int] | None] = [None]

    def policy(outcome: WindowOutcome) -> bool:
        if outcome.trained_on != model[0]:
            model[0] = outcome.trained_on
            firsts.append(outcome.accuracy)
        level = sum(firsts[-count:]) / len(firsts[-count:])
        return outcome.accuracy <= level - points + 1e-9

    return policy


def level(points: float) -> Policy:
    """A window below the initial model's first window minus ``points`` (fixed at launch)."""
    launch: list[float] = []

    def policy(outcome: WindowOutcome) -> bool:
        if not launch:
            launch.append(outcome.accuracy)
        return outcome.accuracy < launch[0] - points - 1e-9

    return policy


def either(*policies: Policy) -> Policy:
    # every policy sees every window (they keep state), then any of them decides
    return lambda outcome: any([policy(outcome) for policy in policies])


def rules() -> dict[str, Callable[[], Policy]]:
    """Each rule's name and a maker (rules keep state, so each replay gets a fresh one)."""
    points = (0.0, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05)
    made: dict[str, Callable[[], Policy]] = {}
    for k in range(2, 6):
        made[f"age {k}"] = lambda k=k: age(k)
    for d in points:
        made[f"drop {d:g}"] = lambda d=d: drop(d)
        made[f"level {d:g}"] = lambda d=d: level(d)
    for d, k in product(points, (2, 3, 5, 10)):
        made[f"champions {d:g} {k}"] = lambda d=d, k=k: champions(d, k)
    for k, d in product(range(2, 5), points):
        made[f"age {k} or drop {d:g}"] = lambda k=k, d=d: either(age(k), drop(d))
        made[f"age {k} or champions {d:g} 5"] = lambda k=k, d=d: either(age(k), champions(d, 5))
    return made


def staleness(replay: Replay) -> tuple[float, float]:
    """What one window of age costs (a model against the one trained a window later, on the
    same window, averaged) and how much a fresh model's accuracy varies between windows (the
    standard deviation): the signal a trigger looks for, and the noise it looks through."""
    import numpy as np

    def accuracy(after: int, window: int) -> float:
        rows = replay.initial_rows if after < 0 else replay.training_rows(after)
        return float((replay.predict(rows, window) == replay.dataset.window_labels(window)).mean())

    windows = range(1, len(replay.dataset.windows))
    fresh = [accuracy(w - 1, w) for w in windows]
    older = [accuracy(w - 2, w) for w in windows]
    return float(np.mean(np.subtract(fresh, older))), float(np.std(fresh))


def sweep(replay: Replay, plain: Replay | None = None) -> dict[str, Any]:
    """The rules on ``replay``; the bar is set by ``every`` on ``plain`` (the unweighted replay
    of the same data set, when ``replay`` weights its rows)."""
    reference = replay.run("every", every)
    unweighted = (plain or replay).run("every", every)
    budget = unweighted.retrains // 2
    bar = unweighted.mean_accuracy - TARGET_POINTS
    floor = majority(replay.dataset).mean_accuracy  # a rule a constant beats meets nothing

    def meets(result: StrategyResult) -> bool:
        return result.mean_accuracy >= bar and result.mean_accuracy > floor

    results: list[StrategyResult] = [replay.run(name, make()) for name, make in rules().items()]
    within = sorted(
        (r for r in results if r.retrains <= budget), key=lambda r: r.mean_accuracy, reverse=True
    )
    ceiling = hindsight_half(replay)
    name = replay.dataset.name
    log(
        f"{name}: bar {bar:.4f} with at most {budget} retrains; ceiling {ceiling.mean_accuracy:.4f}"
    )
    for result in within[:5]:
        log(f"  {result.name:28s} {result.mean_accuracy:.4f} ({result.retrains} retrains)")
    best = within[0] if within else None
    cost, spread = staleness(replay)
    log(f"  a window of age costs {cost:.4f} on average; a fresh model's sd is {spread:.4f}")
    return {
        "window_of_age_costs": cost,
        "fresh_accuracy_sd": spread,
        "met_by": sorted(r.name for r in within if meets(r)),
        "every": reference.mean_accuracy,
        "every_unweighted": unweighted.mean_accuracy,
        "bar": bar,
        "majority": floor,
        "budget": budget,
        "rules": len(results),
        "best_rule": best.name if best else None,
        "best_mean_accuracy": best.mean_accuracy if best else None,
        "best_retrains": best.retrains if best else None,
        "best_meets_bar": bool(best and meets(best)),
        "best_points_above_majority": (best.mean_accuracy - floor) * 100 if best else None,
        "rules_meeting_bar": sum(meets(r) for r in within),
        "ceiling_mean_accuracy": ceiling.mean_accuracy,
        "ceiling_retrains": ceiling.retrains,
    }


def main() -> None:
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime, so the limit reaches it)
    from threadpoolctl import threadpool_limits

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the first 12 windows of each")
    parser.add_argument("--datasets", nargs="+", choices=list(SPECS), default=list(SPECS))
    parser.add_argument("--data-root", type=str, default=str(DEFAULT_DATA_ROOT))
    parser.add_argument(
        "--half-life", type=float, default=None, metavar="WINDOWS",
        help="weight training rows by age, halving every WINDOWS windows (default: no weighting)",
    )  # fmt: skip
    args = parser.parse_args()
    answer: dict[str, Any] = {
        "bench": "closed_loop_sweep",
        "quick": args.quick,
        "half_life_windows": args.half_life,
    }
    with threadpool_limits(1):
        for name in args.datasets:
            reason = missing_reason(name, Path(args.data_root))
            if reason is not None:
                log(f"{name}: skipped: {reason}")
                answer[name] = {"skipped": reason}
                continue
            limit = QUICK_WINDOWS if args.quick else None
            dataset = load_dataset(name, Path(args.data_root), limit)
            weighted = Replay(dataset, half_life_windows=args.half_life)
            answer[name] = sweep(weighted, Replay(dataset) if args.half_life else None)
    met = [set(v.pop("met_by")) for v in answer.values() if isinstance(v, dict) and "met_by" in v]
    everywhere = sorted(set.intersection(*met)) if met else []
    log(f"rules meeting the bar on every data set run: {', '.join(everywhere) or 'none'}")
    answer["rules_meeting_bar_everywhere"] = everywhere
    print(json.dumps(rounded(answer)))


if __name__ == "__main__":
    sys.exit(main())
