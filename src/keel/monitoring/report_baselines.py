"""The monitoring report's naive baselines: per labelled window, the model's metric beside each
baseline scored on the same rows (``performance["baselines"]``), and the margin, positive when
the model beats the baseline whichever way the metric points (``keel.evaluation.baselines``).

A window without labels, or recorded before windows kept their baselines, has no row; the
series hold None there, so the charts leave a gap.

>>> from datetime import UTC, datetime
>>> from keel.monitoring.stored_window import StoredWindow
>>> performance = {"accuracy": 0.9, "baselines": {"majority": {"accuracy": 0.95}}}
>>> windows = [StoredWindow(
...     id=1, model="churn", version=2, kind="time",
...     start_at=datetime(2026, 11, 5, tzinfo=UTC), end_at=datetime(2026, 11, 5, 1, tzinfo=UTC),
...     rows=100, labelled_rows=80, reference={}, drift={}, estimate={}, operations={},
...     performance=performance, quality={})]
>>> row = baseline_report(windows)["windows"][0]
>>> round(row["baselines"]["majority"]["margin"], 2), row["beats_all"]
(-0.05, False)
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from keel.evaluation.baselines import margin
from keel.evaluation.html_parts import fmt, table

if TYPE_CHECKING:
    from keel.monitoring.stored_window import StoredWindow

#: the metrics compared with the baselines in every report, per task (the metrics of the rules
#: ``monitoring.baseline_alerts`` adds, plus mae for a regressor); a policy's own ``beats
#: baseline`` rules add theirs
CLASSIFICATION = ("accuracy",)
REGRESSION = ("rmse", "mae")

#: the newest windows the HTML table lists (the JSON carries every window)
TABLE_ROWS = 50


def _metrics(performance: dict[str, Any], extra: list[str]) -> list[str]:
    task = CLASSIFICATION if "accuracy" in performance else REGRESSION
    wanted = [*task, *(m for m in extra if m not in task)]
    return [m for m in wanted if isinstance(performance.get(m), int | float)]


def baseline_report(
    windows: list[StoredWindow], rule_metrics: Sequence[str] = ()
) -> dict[str, Any]:
    """Per window (oldest first) and metric: the model's value, each baseline's and the margin;
    ``series`` holds the same per metric, one value per window in the report's time order."""
    ordered = sorted(windows, key=lambda w: (w.end_at, w.id))
    extra = list(rule_metrics)
    rows: list[dict[str, Any]] = []
    names: list[str] = []
    unrecorded = 0
    for window in ordered:
        performance = window.performance or {}
        baselines = performance.get("baselines") or {}
        metrics = _metrics(performance, extra)
        if metrics and not baselines:
            unrecorded += 1
            continue
        for name in baselines:
            if name not in names:
                names.append(name)
        for metric in metrics:
            mine = float(performance[metric])
            compared = {}
            for name, scores in baselines.items():
                theirs = (scores or {}).get(metric)
                if not isinstance(theirs, int | float):
                    continue
                gap = margin(metric, mine, float(theirs))
                compared[name] = {"value": float(theirs), "margin": gap, "beats": gap > 0}
            if not compared:
                continue
            rows.append(
                {
                    "window": window.id,
                    "version": window.version,
                    "end_at": window.end_at.isoformat(),
                    "labelled_rows": window.labelled_rows,
                    "metric": metric,
                    "model": mine,
                    "baselines": compared,
                    "beats_all": all(c["beats"] for c in compared.values()),
                }
            )
    return {
        "baselines": names,
        "windows": rows,
        "unrecorded_windows": unrecorded,
        "series": _series(ordered, rows, names),
    }


def _series(
    ordered: list[StoredWindow], rows: list[dict[str, Any]], names: list[str]
) -> dict[str, dict[str, list[float | None]]]:
    """``{metric: {"model": [...], baseline: [...]}}``, one slot per window in ``ordered``."""
    slot = {w.id: i for i, w in enumerate(ordered)}
    out: dict[str, dict[str, list[float | None]]] = {}
    for row in rows:
        lines = out.setdefault(row["metric"], {k: [None] * len(ordered) for k in ("model", *names)})
        at = slot[row["window"]]
        lines["model"][at] = row["model"]
        for name, compared in row["baselines"].items():
            lines[name][at] = compared["value"]
    return out


def baselines_section(data: dict[str, Any] | None) -> str:
    """The HTML table of the newest windows: the model's metric, each baseline's value and the
    margin, flagging a window where the model does not beat a baseline."""
    if not data or not (data.get("windows") or data.get("unrecorded_windows")):
        return ""
    names = data["baselines"]
    rows = data["windows"]
    shown = rows[-TABLE_ROWS:][::-1]
    body = []
    for row in shown:
        cells: list[str] = [
            fmt(row["window"]),
            fmt(row["version"]),
            fmt(row["end_at"]),
            fmt(row["labelled_rows"]),
            fmt(row["metric"]),
            fmt(row["model"]),
        ]
        behind = []
        for name in names:
            compared = row["baselines"].get(name)
            if compared is None:
                cells += ["", ""]
                continue
            cells += [fmt(compared["value"]), f"{compared['margin']:+.4f}"]
            if not compared["beats"]:
                behind.append(name)
        cells.append(
            '<span class="behind">does not beat ' + html.escape(", ".join(behind)) + "</span>"
            if behind
            else '<span class="ok">beats</span>'
        )
        body.append(cells)
    headers = ["window", "version", "to", "labelled", "metric", "model"]
    for name in names:
        headers += [f"baseline: {name}", f"margin over {name}"]
    notes = [
        "each baseline is scored on the window's own labelled rows; margin = how much better the "
        "model scored (positive when it beats the baseline, whichever way the metric points)"
    ]
    if len(rows) > len(shown):
        notes.append(f"the newest {len(shown)} of {len(rows)} rows (the JSON report has all)")
    if data.get("unrecorded_windows"):
        notes.append(
            f"{data['unrecorded_windows']:,} labelled windows recorded no baselines (older records)"
        )
    return (
        "<h2>Against naive baselines</h2>"
        + (table([*headers, ""], body, raw=True) if body else "")
        + "".join(f"<p class=muted>{html.escape(n)}</p>" for n in notes)
    )
