"""The demo's month-by-month summary, read from what production recorded: the logged
predictions against the outcomes that arrived, and the monitoring windows, retrains and alerts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from keel.client import Client
from keel.demo.world import World

__all__ = ["summarise"]


def summarise(client: Client, world: World) -> list[dict[str, Any]]:
    """Per month: accuracy (the logged predictions against the outcomes that arrived),
    the label-free estimate and drift of the monitoring windows, retrains, rollbacks, alerts."""
    windows = client.monitor_windows(world.model, limit=100_000)
    retrains = client.retrains(world.model, limit=10_000)
    alerts = client.list_alerts(world.model, limit=1000)
    starts = pd.DatetimeIndex([pd.Timestamp(t.start) for t in world.ticks])
    periods = [t.period for t in world.ticks]

    def period(moment: Any) -> str:
        index = int(starts.searchsorted(pd.Timestamp(moment), side="right")) - 1
        return periods[max(index, 0)]

    out: dict[str, dict[str, Any]] = {}
    for name in periods:
        out.setdefault(
            name,
            {
                "month": name,
                "accuracy": None,
                "est": [],
                "drifted": 0,
                "retrains": 0,
                "rollbacks": 0,
                "rejected": 0,
                "alerts": 0,
            },
        )
    log = client.read_predictions(world.model, labels=True)
    labelled = log[log["label"].notna() & (log["status"] == "ok")]
    if len(labelled):
        right = _same(labelled["prediction"], labelled["label"])
        by_period = right.groupby([period(t) for t in labelled["timestamp"]]).mean()
        for label, value in by_period.items():
            out[str(label)]["accuracy"] = float(value)
    for w in windows:
        row = out[period(w.start_at)]
        estimate = ((w.estimate or {}).get("metrics") or {}).get("accuracy")
        if estimate is not None:
            row["est"].append(float(estimate))
        row["drifted"] = max(row["drifted"], len(w.drifted_features))
    for r in retrains:
        row = out[period(r.created_at)]
        row["retrains"] += 1
        row["rejected"] += r.state == "rejected"
    for d in client.deployments(world.model, limit=1000):
        if d.status == "rolled_back":  # in the month it was rolled back, not the retrain's
            out[period(d.finished_at or d.created_at)]["rollbacks"] += 1
    for a in alerts:
        out[period(a.fired_at)]["alerts"] += 1
    return [
        {
            "month": row["month"],
            "accuracy": row["accuracy"],
            "estimated_accuracy": float(np.mean(row["est"])) if row["est"] else None,
            "drifted_features": row["drifted"],
            "retrains": row["retrains"],
            "rejected": row["rejected"],
            "rollbacks": row["rollbacks"],
            "alerts": row["alerts"],
        }
        for row in out.values()
    ]


def _same(predictions: pd.Series, labels: pd.Series) -> pd.Series:
    """Prediction equals outcome, comparing numbers as numbers (a label logged as 1.0 is 1)."""
    left = pd.to_numeric(predictions, errors="coerce")
    right = pd.to_numeric(labels, errors="coerce")
    if left.notna().all() and right.notna().all():
        same = left.to_numpy() == right.to_numpy()
    else:
        same = predictions.astype(str).to_numpy() == labels.astype(str).to_numpy()
    return pd.Series(same.astype(float), index=predictions.index)
