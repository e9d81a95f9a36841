"""The best retraining schedule in hindsight: the ceiling any trigger can reach.

Given the accuracy every candidate model would have on every later window (models differ only
by the window after which they were trained, as in the replay), dynamic programming finds the
windows to retrain after that maximise the mean accuracy with at most ``budget`` retrains. No
online policy can do better with the same learner, training rows and budget, since it must decide
from the windows seen so far; the gap between this ceiling and a policy is what better triggers
could still win.

>>> table = {(-1, 0): 0.9, (-1, 1): 0.5, (-1, 2): 0.5, (0, 1): 0.8, (0, 2): 0.8, (1, 2): 0.9}
>>> hindsight_schedule(lambda model, window: table[(model, window)], 3, 1)
(2.5, [0])
"""

from __future__ import annotations

from collections.abc import Callable

#: ``accuracy(model, window)``: ``model`` is -1 for the initial model, else the window after
#: which it was trained (it serves from ``model + 1`` on)
Accuracy = Callable[[int, int], float]


def hindsight_schedule(accuracy: Accuracy, windows: int, budget: int) -> tuple[float, list[int]]:
    """The highest total accuracy over ``windows`` windows with at most ``budget`` retrains,
    and the windows to retrain after (a retrain after the last window serves nothing)."""
    if windows < 1:
        return 0.0, []
    budget = max(0, min(budget, windows - 1))
    # best[(model, left)]: the best total from the current window on, serving ``model`` with
    # ``left`` retrains still allowed; filled from the last window backwards
    best: dict[tuple[int, int], float] = {}
    choice: list[dict[tuple[int, int], bool]] = [{} for _ in range(windows)]
    for window in range(windows - 1, -1, -1):
        current: dict[tuple[int, int], float] = {}
        for model in range(-1, window):
            for left in range(budget + 1):
                stay = best.get((model, left), 0.0)
                total = stay
                retrain = False
                if left > 0 and window < windows - 1:
                    switch = best[(window, left - 1)]
                    if switch > stay:
                        total, retrain = switch, True
                current[(model, left)] = accuracy(model, window) + total
                choice[window][(model, left)] = retrain
        best = current
    schedule: list[int] = []
    model, left = -1, budget
    for window in range(windows):
        if choice[window][(model, left)]:
            schedule.append(window)
            model, left = window, left - 1
    return best[(-1, budget)], schedule
