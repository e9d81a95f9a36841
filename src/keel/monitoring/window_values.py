"""How a metric an alert rule may name is read from a stored window, as its declaration says
(``keel.domain.metric_specs``: a column of ``monitor_windows`` and the keys under it), so a
metric the grammar accepts always has a reader and a reader always has a name a rule can use.

>>> from types import SimpleNamespace
>>> window = SimpleNamespace(drift={"features": ["a", "b"], "drifted": ["a"]}, performance=None)
>>> DRIFT_READERS["drift_share"](window)
0.5
>>> window_value("estimated_accuracy", SimpleNamespace(estimate={"metrics": {"accuracy": 0.9}}))
0.9
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from keel.domain.metric_specs import METRIC_SPECS, find_metric

if TYPE_CHECKING:
    import sqlalchemy as sa

    from keel.monitoring.stored_window import StoredWindow

__all__ = ["DRIFT_READERS", "WINDOW_READERS", "window_value"]

#: a stored window, read by attribute: a ``monitor_windows`` row or its ``StoredWindow``
Window: TypeAlias = "sa.Row[Any] | StoredWindow"

#: every metric a stored window holds, keyed by name
WINDOW_READERS: dict[str, Callable[[Window], float | None]] = {
    spec.name: spec.window.read for spec in METRIC_SPECS if spec.window is not None
}
#: the drift metrics, the ones rules read from the newest windows' drift facts
DRIFT_READERS: dict[str, Callable[[Window], float | None]] = {
    spec.name: spec.window.read
    for spec in METRIC_SPECS
    if spec.family == "drift" and spec.window is not None
}


def window_value(metric: str, window: Window) -> float | None:
    """``metric`` as stored in ``window``; None when not measured there or not a window metric."""
    spec = find_metric(metric)
    if spec is None or spec.window is None:
        return None
    return spec.window.read(window)
