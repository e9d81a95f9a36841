"""Timing helpers shared by the registry benchmark and its MLflow worker (standard library only,
so the worker's own venv can import it too)."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable


def median_ms(
    action: Callable[[int], object], repetitions: int, budget_s: float = math.inf
) -> float:
    """Median wall time of ``action(i)`` in ms, over ``repetitions`` calls or fewer (at least
    one) when they have taken ``budget_s`` seconds."""
    times: list[float] = []
    while len(times) < repetitions and (not times or sum(times) < budget_s):
        start = time.perf_counter()
        action(len(times))
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def mean_ms(action: Callable[[int], object], count: int) -> float:
    """Total wall time of ``action(i)`` for ``count`` calls divided by ``count``, in ms."""
    start = time.perf_counter()
    for i in range(count):
        action(i)
    return (time.perf_counter() - start) * 1000 / max(count, 1)


def accuracy(i: int) -> float:
    """The made-up accuracy of big version ``i``, the same on the Keel and the MLflow side."""
    return (i % 100) / 100
