"""Monitoring reports' data: what ``keel monitor report`` writes as JSON and draws as one
self-contained HTML page (``keel.monitoring.report_page``).

Built from the stored windows and alerts only (never the raw log), so a report over months of
traffic reads one row per window: time series over the windows, the accuracy rules' thresholds
(a ``below reference`` rule's limit drawn window by window, as the window's reference gives it
at the window's size), each version's reference limits (where they learnt from, mean, spread),
the model against the naive baselines scored on the same rows
(``keel.monitoring.report_baselines``), one window's drift in detail and the alerts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keel.domain.policy import Policy
from keel.errors import InvalidInput, NotFound
from keel.monitoring.monitor_report import MonitorReport
from keel.monitoring.report_baselines import baseline_report

if TYPE_CHECKING:
    from keel.monitoring.alerts import AlertRecord
    from keel.monitoring.reference_limits import MetricLimit
    from keel.monitoring.stored_window import StoredWindow

__all__ = ["build_report", "select_window"]


def _in_time_order(windows: list[StoredWindow]) -> list[StoredWindow]:
    return sorted(windows, key=lambda w: (w.end_at, w.id))


def _series(windows: list[StoredWindow]) -> dict[str, list[Any]]:
    ordered = _in_time_order(windows)
    out: dict[str, list[Any]] = {
        k: []
        for k in (
            "end",
            "accuracy",
            "estimated",
            "estimated_low",
            "estimated_high",
            "drifted",
            "p50",
            "p95",
            "p99",
            "throughput",
            "cost",
            "rows",
            "labelled",
        )
    }
    for window in ordered:
        estimate = window.estimate or {}
        band = (estimate.get("bands") or {}).get("accuracy") or [None, None]
        operations = window.operations or {}
        out["end"].append(window.end_at.timestamp())
        out["accuracy"].append((window.performance or {}).get("accuracy"))
        out["estimated"].append((estimate.get("metrics") or {}).get("accuracy"))
        out["estimated_low"].append(band[0])
        out["estimated_high"].append(band[1])
        out["drifted"].append(len(window.drifted_features))
        out["p50"].append(operations.get("latency_p50_ms"))
        out["p95"].append(operations.get("latency_p95_ms"))
        out["p99"].append(operations.get("latency_p99_ms"))
        out["throughput"].append(operations.get("throughput_rps"))
        out["cost"].append(operations.get("cost_per_1k"))
        out["rows"].append(window.rows)
        out["labelled"].append(window.labelled_rows)
    return out


def _thresholds(policy: Policy | None, windows: list[StoredWindow]) -> list[dict[str, Any]]:
    """The accuracy rules' lines: a typed threshold is flat; a ``below reference`` limit is
    drawn per window from that window's reference, at the window's rows (an estimated rule) or
    the rule's labelled rows (a realized one)."""
    if policy is None:
        return []
    ordered = _in_time_order(windows)
    lines: list[dict[str, Any]] = []
    for rule in policy.monitoring.alerts:
        if rule.metric not in ("accuracy", "estimated_accuracy"):
            continue
        if rule.threshold is not None and rule.against is None:
            lines.append({"label": rule.text, "value": rule.threshold})
        elif rule.against == "reference":
            values = [_window_limit(w, rule.labelled_rows) for w in ordered]
            lines.append({"label": f"{rule.text} (limit)", "values": values})
    return lines


def _limit_of(window: StoredWindow, metric: str) -> MetricLimit | None:
    from keel.monitoring.reference_limits import MetricLimit

    entry = (((window.reference or {}).get("limits") or {}).get("metrics") or {}).get(metric)
    return None if entry is None else MetricLimit(**entry)


def _window_limit(window: StoredWindow, labelled_rows: int | None) -> float | None:
    """The accuracy limit a rule met in ``window``: at ``labelled_rows`` (a realized rule) or
    at the window's own estimated rows."""
    entry = _limit_of(window, "accuracy")
    if entry is None:
        return None
    rows = labelled_rows or (window.estimate or {}).get("rows") or window.rows
    return entry.limit([int(rows)])


def _reference_limits(windows: list[StoredWindow]) -> list[dict[str, Any]]:
    """Per version (its newest window): where its reference's calibrator and limits learnt
    from, and each metric's mean, spread and limit at that window's size."""
    newest: dict[int, StoredWindow] = {}
    for window in _in_time_order(windows):
        newest[window.version] = window
    out = []
    for version, window in sorted(newest.items()):
        reference = window.reference or {}
        limits = (reference.get("limits") or {}).get("metrics") or {}
        rows = int((window.estimate or {}).get("rows") or window.rows)
        metrics = []
        for name in limits:
            entry = _limit_of(window, name)
            assert entry is not None
            metrics.append(
                {
                    "metric": name,
                    "mean": entry.mean,
                    "sd": entry.sd,
                    "chunk_rows": entry.chunk_rows,
                    "window_rows": rows,
                    "limit": entry.limit([rows]),
                    "direction": "below" if entry.higher_is_better else "above",
                }
            )
        out.append(
            {
                "version": version,
                "snapshot": reference.get("snapshot"),
                "calibration": reference.get("calibration") or {},
                "metrics": metrics,
            }
        )
    return out


def select_window(windows: list[StoredWindow], choice: str | None) -> StoredWindow | None:
    """The window whose drift is shown in detail: ``latest`` (default) or a window id."""
    if choice in (None, "latest"):
        return max(windows, key=lambda w: (w.end_at, w.id)) if windows else None
    try:
        wanted = int(str(choice))
    except ValueError as exc:
        raise InvalidInput("window", f"{choice!r} is not 'latest' or a window id") from exc
    for window in windows:
        if window.id == wanted:
            return window
    raise NotFound("window", str(choice), hint="list them with `keel monitor windows MODEL`")


def build_report(
    model: str,
    windows: list[StoredWindow],
    alerts: list[AlertRecord],
    policy: Policy | None,
    *,
    window: str | None = None,
) -> MonitorReport:
    """The report's data: time series over ``windows``, the model against the naive baselines
    per labelled window, one window's drift, the alerts."""
    detail = select_window(windows, window)
    watched = (
        [r.metric for r in policy.monitoring.alerts if r.against == "baseline"] if policy else []
    )
    return MonitorReport(
        model=model,
        window_count=len(windows),
        rows=sum(w.rows for w in windows),
        labelled_rows=sum(w.labelled_rows for w in windows),
        first_start=min((w.start_at for w in windows), default=None),
        last_end=max((w.end_at for w in windows), default=None),
        series=_series(windows),
        thresholds=_thresholds(policy, windows),
        reference_limits=_reference_limits(windows),
        baselines=baseline_report(windows, watched),
        window=detail,
        alerts=alerts,
    )
