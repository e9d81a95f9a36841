"""``Monitoring``: the service that owns the prediction and label logs, monitoring windows,
references and alerts, over one ``Stores``; it reads policies through ``Governance``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keel.domain.names import ModelRef
from keel.domain.policy import Policy
from keel.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    import pandas as pd

    from keel.evaluation.service import Governance
    from keel.monitoring.alerts import AlertRecord
    from keel.monitoring.model_reads import ModelReads
    from keel.monitoring.monitor_report import MonitorReport
    from keel.monitoring.runner import MonitorResult
    from keel.monitoring.sinks import AlertSink
    from keel.monitoring.stored_window import StoredWindow
    from keel.monitoring.window_detail import WindowDetail
    from keel.monitoring.window_health import LatestHealth, WindowHealth
    from keel.registry.predictions import LabelReport, LogReceipt
    from keel.stores import Stores

__all__ = ["Monitoring"]


class Monitoring:
    """Logs in, windows, estimates and alerts out; a run resumes where the last one stopped."""

    def __init__(self, stores: Stores, governance: Governance) -> None:
        self.stores = stores
        self.governance = governance

    def log_predictions(
        self,
        model: str,
        data: pd.DataFrame,
        *,
        version: int | str | None = None,
        predictions: Any = None,
        scores: Any = None,
        request_ids: Any = None,
        timestamps: Any = None,
        latency_ms: Any = None,
        cpu_ms: Any = None,
        status: Any = None,
        errors: Any = None,
        entity_keys: Any = None,
    ) -> LogReceipt:
        """Append a batch of predictions to ``model``'s log; durable once this returns.

        ``data`` holds the input features (and may hold Keel's columns: ``prediction``,
        ``score``, ``request_id``, ``timestamp``, ``latency_ms``, ...). ``scores`` are
        P(``classes_[1]``) for a binary classifier, else the top class's probability.
        ``version`` is a number or an alias; the champion by default. Request ids are made
        when not given and returned in the receipt, for logging labels later.
        """
        from keel.registry.predictions import (
            log_predictions,
            logged_features,
            prediction_table,
            resolve_version,
        )

        resolved = resolve_version(self.stores.db, model, version)
        number = resolved.version
        table = prediction_table(
            logged_features(resolved.signature, data),
            version=number,
            predictions=predictions,
            scores=scores,
            request_ids=request_ids,
            timestamps=timestamps,
            latency_ms=latency_ms,
            cpu_ms=cpu_ms,
            status=status,
            errors=errors,
            entity_keys=entity_keys,
        )
        return log_predictions(self.stores.logs, model, number, table)

    def log_labels(
        self, model: str, request_ids: Any, labels: Any, *, timestamps: Any = None
    ) -> LabelReport:
        """Log ground truth for earlier predictions; ids matching no prediction are reported.
        An unknown model is refused (NotFound) before anything is written."""
        from keel.registry.models import known_models
        from keel.registry.predictions import log_labels

        known_models(self.stores.db, [model], "model")
        return log_labels(self.stores.logs, model, request_ids, labels, timestamps=timestamps)

    def read_predictions(self, model: str, *, labels: bool = False) -> pd.DataFrame:
        """The whole prediction log of ``model`` (with its newest labels when asked)."""
        from keel.monitoring.labelling import read_labels
        from keel.registry.predictions import read_log

        frame = read_log(self.stores.logs, "predictions", model).to_pandas()
        if labels and not frame.empty:
            frame = frame.merge(read_labels(self.stores.logs, model), on="request_id", how="left")
        return frame

    def monitor(
        self,
        model: str,
        *,
        policy: Policy | dict[str, Any] | None = None,
        now: datetime | None = None,
        sinks: Sequence[AlertSink] | None = None,
        environ: dict[str, str] | None = None,
    ) -> MonitorResult:
        """Process new log data of ``model`` into windows, join labels, evaluate alert rules
        and deliver notifications; resumes where the previous run stopped. A ``policy`` given
        is recorded as the model's first."""
        from keel.registry import models

        models.resolve(self.stores.db, ModelRef(model, latest=True))  # NotFound if unknown
        rules = (
            self.governance.set_policy(model, policy)
            if policy is not None
            else self.governance.get_policy(model)
        )
        return self.monitor_under(
            model, rules if rules is not None else Policy(), now=now, sinks=sinks, environ=environ
        )

    def monitor_under(
        self,
        model: str,
        policy: Policy,
        *,
        now: datetime | None = None,
        sinks: Sequence[AlertSink] | None = None,
        environ: dict[str, str] | None = None,
        reads: ModelReads | None = None,
    ) -> MonitorResult:
        """``monitor`` under ``policy`` as read by the caller (the autopilot reads it once per
        model and pass), with the pass's ``reads`` (labels, references) when it has them."""
        import os

        from keel.monitoring.runner import run_monitor

        return run_monitor(
            self.stores.db,
            self.stores.artifacts,
            self.stores.logs,
            self.stores.actor,
            model,
            policy,
            now=now,
            sinks=sinks,
            environ=environ if environ is not None else dict(os.environ),
            reads=reads,
        )

    def monitor_windows(
        self, model: str, *, version: int | None = None, limit: int = 100
    ) -> list[StoredWindow]:
        """Stored monitoring windows of ``model``, newest first."""
        from keel.monitoring.history import list_windows

        return list_windows(self.stores.db, model, version=version, limit=limit)

    def monitor_report(
        self, model: str, *, window: str | None = None, limit: int | None = 2000
    ) -> MonitorReport:
        """The data of a monitoring report: series over the stored windows (the newest
        ``limit``), one window's drift in detail, and the alerts.

        ``window`` is ``latest`` (default), a window id, or a time range ``START..END`` (ISO
        dates or times; either side may be empty) that also bounds the series.
        """
        from keel.monitoring.history import list_windows
        from keel.monitoring.report import build_report

        since = until = None
        detail = window
        if window is not None and ".." in window:
            since, until = (_moment(part, "window") for part in window.split("..", 1))
            detail = None
        windows = list_windows(self.stores.db, model, since=since, until=until, limit=limit)
        alerts = self.list_alerts(model, limit=1000)
        return build_report(
            model, windows, alerts, self.governance.get_policy(model), window=detail
        )

    def list_alerts(
        self, model: str | None = None, *, state: str | None = None, limit: int = 100
    ) -> list[AlertRecord]:
        from keel.monitoring.alerts import list_alerts

        return list_alerts(self.stores.db, model, state, limit)

    def acknowledge_alert(self, alert_id: int, *, reason: str) -> AlertRecord:
        from keel.monitoring.alerts import acknowledge

        return acknowledge(self.stores.db, self.stores.actor, alert_id, reason)

    # -- reading windows and alerts for pages over many models ----------------------------------
    def window_health(self, model: str, *, limit: int = 1000) -> list[WindowHealth]:
        """The headline figures of ``model``'s newest ``limit`` windows, oldest first, read
        without their per-feature drift detail."""
        from keel.monitoring.window_health import health_series

        return health_series(self.stores.db, model, limit)

    def newest_health(self) -> dict[str, LatestHealth]:
        """Every monitored model's newest window and newest labelled window, in two queries
        whatever the number of models."""
        from keel.monitoring.window_health import newest_health

        return newest_health(self.stores.db)

    def window_detail(self, model: str, window_id: int) -> WindowDetail:
        """One stored window of ``model`` in full, with the ids of its neighbours."""
        from keel.monitoring.window_detail import window_detail

        return window_detail(self.stores.db, model, window_id)

    def open_alert_counts(self) -> dict[str, dict[str, int]]:
        """Model -> severity -> open alerts, for every model in one query."""
        from keel.monitoring.alert_counts import open_alert_counts

        return open_alert_counts(self.stores.db)


def _moment(text: str, field: str) -> datetime | None:
    """A UTC datetime from an ISO date or time; None for an empty string."""
    from datetime import UTC, datetime

    if not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(field, f"{text!r} is not an ISO date or time") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)
