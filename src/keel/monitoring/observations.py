"""The value an alert rule looks at, read from the stored windows (and labels, for realized
metrics), so rules are evaluated the same way after every run and after a restart.

- realized metrics: over the newest N labelled predictions, across the newest windows;
- estimated metrics, drift and operations: averaged over the newest ``windows`` windows that
  have the value;
- ``METRIC beats baseline NAME``: the model's margin over a naive baseline scored on the same
  newest N labelled predictions (positive when the model is better; the rule fires at or below 0);
- ``realized(metric, rows, oldest=True)``: a realized metric over the OLDEST N labelled
  predictions instead (a version's own level when it started serving, for relative triggers).

An observation is None when there is not yet enough data (fewer labelled predictions than the
rule asks for, or no window with the value), and the alert's state is then left as it is.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa

from keel.domain.alert_rules import AlertRule
from keel.monitoring.alerts import Observation
from keel.monitoring.labelling import ReferenceOf, load_index
from keel.monitoring.performance import (
    join_labels,
    realized_baselines,
    realized_margin,
    realized_metrics,
)
from keel.monitoring.window_values import window_value
from keel.store.artifacts import ArtifactStore
from keel.store.database import Database
from keel.store.schema import monitor_windows

#: how many of the newest windows a rule may look back over
MAX_WINDOWS = 1000


class Observer:
    """Answers ``observe(rule)`` for one model after a monitor run."""

    def __init__(
        self,
        db: Database,
        artifacts: ArtifactStore,
        model: str,
        labels: pd.DataFrame,
        references: ReferenceOf,
        *,
        version: int | None = None,
        until: int | None = None,
    ) -> None:
        """``version`` limits the observations to that version's windows (a retrain trigger
        judges the champion by its own predictions, not by its predecessor's); ``until`` to
        the windows up to that window id, as they stood when it closed (a run that made several
        windows judges each as if it had arrived alone)."""
        self.artifacts = artifacts
        self.labels = labels
        self.references = references
        self._db = db
        query = sa.select(monitor_windows).where(monitor_windows.c.model == model)
        if version is not None:
            query = query.where(monitor_windows.c.version == version)
        if until is not None:
            query = query.where(monitor_windows.c.id <= until)
        self._query = query
        with db.read() as conn:
            self.windows = conn.execute(
                query.order_by(monitor_windows.c.end_at.desc(), monitor_windows.c.id.desc()).limit(
                    MAX_WINDOWS
                )
            ).all()
        self._labelled: dict[int, tuple[dict[str, Any], int | None]] = {}
        self._rows: dict[int, tuple[pd.DataFrame | None, sa.Row[Any] | None]] = {}

    def __call__(self, rule: AlertRule) -> Observation | None:
        if rule.against == "reference":
            return self._against_reference(rule)
        if rule.against == "baseline":
            return self._against_baseline(rule)
        if rule.family == "realized":
            return self._realized(rule)
        values: list[float] = []
        first_id: int | None = None
        for window in self.windows:
            value = self._window_value(rule, window)
            if value is None:
                continue
            values.append(value)
            first_id = first_id or int(window.id)
            if len(values) == rule.windows:
                break
        if len(values) < rule.windows:
            return None
        mean = sum(values) / len(values)
        return Observation(mean, first_id, {"windows": len(values)})

    def realized(self, metric: str, rows: int, *, oldest: bool = False) -> Observation | None:
        """A realized ``metric`` over the newest ``rows`` labelled predictions (as a rule with
        that span would see it) or, with ``oldest``, over the oldest ``rows``; None while fewer
        are labelled or the metric cannot be computed."""
        if not oldest:
            if rows not in self._labelled:
                self._labelled[rows] = self._newest_labelled(rows)
            metrics, window_id = self._labelled[rows]
        else:
            metrics, window_id = self._oldest_labelled(rows)
        value = metrics.get(metric)
        if value is None:
            return None
        return Observation(float(value), window_id, {"labelled_rows": metrics.get("rows")})

    def _oldest_labelled(self, wanted: int) -> tuple[dict[str, Any], int | None]:
        """The metrics over the oldest ``wanted`` labelled predictions, oldest windows first."""
        query = self._query.order_by(monitor_windows.c.end_at, monitor_windows.c.id)
        pieces: list[pd.DataFrame] = []
        count = 0
        oldest: sa.Row[Any] | None = None
        offset = 0
        while count < wanted:
            with self._db.read() as conn:
                batch = conn.execute(query.offset(offset).limit(MAX_WINDOWS)).all()
            if not batch:
                break
            offset += len(batch)
            for window in batch:
                if not window.labelled_rows:
                    continue
                joined = join_labels(load_index(self.artifacts, window.index_sha256), self.labels)
                if joined.empty:
                    continue
                oldest = oldest or window
                joined = joined.sort_values("timestamp", kind="stable")
                pieces.append(joined.head(wanted - count))
                count += len(pieces[-1])
                if count >= wanted:
                    break
        if count < wanted or oldest is None:
            return {}, None
        reference = self.references(int(oldest.version))
        return realized_metrics(pd.concat(pieces), reference), int(oldest.id)

    @staticmethod
    def _window_value(rule: AlertRule, window: sa.Row[Any]) -> float | None:
        """A window rule's metric where its declaration places it in the window."""
        return window_value(rule.metric, window)

    def _against_reference(self, rule: AlertRule) -> Observation | None:
        """The rule's metric as the plain rule observes it, with ``limit`` from the reference of
        the newest version observed: the metric's mean on held-out reference rows minus three
        standard deviations of its chunk-to-chunk spread at the observed size (the labelled
        rows, or each window's rows), ``keel.monitoring.reference_limits``; how it came about
        is in the details. No limit (the reference holds none for the metric) leaves the
        alert as it is, and the details say why."""
        if rule.family == "realized":
            seen = self._realized(rule)
            if seen is None or seen.value is None:
                return None
            newest = next((w for w in self.windows if int(w.id) == seen.window_id), None)
            if newest is None:
                return None
            value, window_id = float(seen.value), seen.window_id
            rows = [int(seen.details.get("labelled_rows") or rule.labelled_rows or 1)]
        else:
            values: list[float] = []
            rows = []
            newest = None
            for window in self.windows:
                found = self._window_value(rule, window)
                if found is None:
                    continue
                newest = newest or window
                values.append(found)
                rows.append(int((window.estimate or {}).get("rows") or window.rows))
                if len(values) == rule.windows:
                    break
            if newest is None or len(values) < rule.windows:
                return None
            value, window_id = sum(values) / len(values), int(newest.id)
        details: dict[str, Any] = {"version": int(newest.version)}
        details["labelled_rows" if rule.family == "realized" else "windows"] = (
            rows[0] if rule.family == "realized" else len(rows)
        )
        reference = self.references(int(newest.version))
        entry = reference.limits.get(rule.metric) if reference.limits is not None else None
        if entry is None:
            why = (reference.calibration or {}).get("note") or (
                f"its held-out reference rows do not measure {rule.metric}"
            )
            details["limit"] = f"no reference limit for {rule.metric}: {why}"
            return Observation(value, window_id, details)
        details["reference"] = {
            **entry.explain(rows),
            "source": (reference.calibration or {}).get("source"),
        }
        return Observation(value, window_id, details, limit=entry.limit(rows))

    def _against_baseline(self, rule: AlertRule) -> Observation | None:
        """The model's margin over the rule's baseline on the same labelled rows (the newest
        ``labelled_rows``): positive when the model is better, whichever way the metric points.
        None while fewer are labelled, or when the baseline does not apply to the task (``mean``
        for a classifier, ``majority`` for a regressor) or the metric was not computed."""
        assert rule.baseline is not None
        wanted = rule.labelled_rows or 0
        joined, newest = self._newest_rows(wanted)
        if joined is None or newest is None:
            return None
        reference = self.references(int(newest.version))
        classifier = reference.task == "classification"
        if (rule.baseline == "mean" and classifier) or (
            rule.baseline == "majority" and not classifier
        ):
            return None  # a default rule for the other task: nothing to read or score
        if wanted not in self._labelled:
            self._labelled[wanted] = self._newest_labelled(wanted)
        metrics = self._labelled[wanted][0]
        baselines = realized_baselines(
            joined, reference, persistence=rule.baseline == "persistence"
        )
        margin = realized_margin(metrics, baselines, rule.metric, rule.baseline)
        if margin is None:
            return None
        details = {
            "labelled_rows": metrics.get("rows"),
            "model": metrics[rule.metric],
            "baseline": rule.baseline,
            "baseline_value": baselines[rule.baseline][rule.metric],
        }
        return Observation(margin, int(newest.id), details)

    def _realized(self, rule: AlertRule) -> Observation | None:
        wanted = rule.labelled_rows or 0
        if rule.metric == "accuracy_drop":
            return self._accuracy_drop(wanted)
        if wanted not in self._labelled:
            self._labelled[wanted] = self._newest_labelled(wanted)
        metrics, window_id = self._labelled[wanted]
        value = metrics.get(rule.metric)
        if value is None:
            return None
        return Observation(float(value), window_id, {"labelled_rows": metrics.get("rows")})

    def _newest_labelled(self, wanted: int) -> tuple[dict[str, Any], int | None]:
        joined, newest = self._newest_rows(wanted)
        if joined is None or newest is None:
            return {}, None
        reference = self.references(int(newest.version))
        return realized_metrics(joined, reference), int(newest.id)

    def _newest_rows(self, wanted: int) -> tuple[pd.DataFrame | None, sa.Row[Any] | None]:
        """The newest ``wanted`` labelled predictions and the newest window holding one (None
        while fewer are labelled); read once per span, so rules over the same rows share them."""
        if wanted not in self._rows:
            self._rows[wanted] = self._read_newest_rows(wanted)
        return self._rows[wanted]

    def _read_newest_rows(self, wanted: int) -> tuple[pd.DataFrame | None, sa.Row[Any] | None]:
        pieces: list[pd.DataFrame] = []
        count = 0
        newest: sa.Row[Any] | None = None
        for window in self.windows:
            if not window.labelled_rows:
                continue
            joined = join_labels(load_index(self.artifacts, window.index_sha256), self.labels)
            if joined.empty:
                continue
            newest = newest or window
            joined = joined.sort_values("timestamp", ascending=False)
            pieces.append(joined.head(wanted - count))
            count += len(pieces[-1])
            if count >= wanted:
                break
        if count < wanted or newest is None:
            return None, None
        return pd.concat(pieces), newest

    def _accuracy_drop(self, wanted: int) -> Observation | None:
        """Replay the newest version's last ``wanted`` labelled outcomes, oldest first, through
        the streaming detector; 1.0 when it alarmed (the row where it did is in the details)."""
        from keel.monitoring.detectors import AccuracyDropDetector
        from keel.monitoring.performance import outcomes

        newest_version = next((int(w.version) for w in self.windows if w.labelled_rows), None)
        if newest_version is None:
            return None
        pieces: list[pd.DataFrame] = []
        count = 0
        for window in self.windows:
            if int(window.version) != newest_version or not window.labelled_rows:
                continue
            joined = join_labels(load_index(self.artifacts, window.index_sha256), self.labels)
            pieces.append(joined)
            count += len(joined)
            if count >= wanted:
                break
        if not pieces:
            return None
        reference = self.references(newest_version)
        if reference.task != "classification":
            return None
        labelled = pd.concat(pieces).sort_values("timestamp", kind="stable").tail(wanted)
        correct, known = outcomes(labelled, reference)
        labelled = labelled[known]
        detector = AccuracyDropDetector(outcome="correct")
        alarms = detector.update_many(correct.astype(int))
        if detector.baseline is None:  # still warming up: too few outcomes to judge
            return None
        details: dict[str, Any] = {"labelled_rows": len(correct), "version": newest_version}
        if alarms:
            details["alarm_at"] = str(labelled["timestamp"].iloc[alarms[0]])
        return Observation(1.0 if alarms else 0.0, None, details)
