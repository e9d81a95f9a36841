"""The metadata tables. Alembic migrations under ``migrations/`` create exactly these.

Timestamps are stored as UTC; JSON columns hold free-form maps (params, tags, profiles).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every back end (SQLite forgets the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("tags", JSON, nullable=False, default=dict),
    Column("created_at", UTCDateTime, nullable=False),
    Column("latest_version", Integer, nullable=False, default=0),
    Column("policy", JSON),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("artifact_sha256", String(64), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("columns", Integer, nullable=False),
    Column("schema", JSON, nullable=False),
    Column("profile", JSON, nullable=False),
    Column("source", Text, nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("tags", JSON, nullable=False, default=dict),
    Column("author", String(256), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("name", "version", name="uq_snapshots_name_version"),
    UniqueConstraint("name", "sha256", name="uq_snapshots_name_sha256"),
)
Index("ix_snapshots_sha256", snapshots.c.sha256)

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("author", String(256), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime),
    Column("params", JSON, nullable=False, default=dict),
    Column("tags", JSON, nullable=False, default=dict),
    Column("error", Text),
    Column("code_version", JSON, nullable=False, default=dict),
)
Index("ix_runs_name", runs.c.name)

run_metrics = Table(
    "run_metrics",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", String(32), ForeignKey("runs.id"), nullable=False),
    Column("key", String(256), nullable=False),
    Column("value", Double, nullable=False),
    Column("step", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)
Index("ix_run_metrics_run_key", run_metrics.c.run_id, run_metrics.c.key, run_metrics.c.step)

run_inputs = Table(
    "run_inputs",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("snapshot_id", Integer, ForeignKey("snapshots.id"), primary_key=True),
    Column("role", String(64), primary_key=True),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", Integer, ForeignKey("models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False, default="ready"),
    Column("artifact_sha256", String(64), nullable=False),
    Column("format", String(32), nullable=False),
    Column("model_class", String(256), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("signature", JSON),
    Column("params", JSON, nullable=False, default=dict),
    Column("metrics", JSON, nullable=False, default=dict),
    Column("tags", JSON, nullable=False, default=dict),
    Column("author", String(256), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("training_snapshot_id", Integer, ForeignKey("snapshots.id")),
    Column("run_id", String(32), ForeignKey("runs.id")),
    Column("parent_id", Integer, ForeignKey("model_versions.id")),
    Column("code_version", JSON, nullable=False, default=dict),
    Column("environment", JSON, nullable=False, default=dict),
    # who trusted what to load this artifact (types beyond the default list, or code): the record
    # every later load honours; NULL when the artifact needs nothing beyond the defaults
    Column("trust", JSON),
    # the retrain that registered this version: unique, so a retrain registers at most one;
    # RESTRICT, as for the version links: Keel deletes no retrain, and a version's lineage must
    # not lose the retrain that made it (use_alter: retrains link their versions too)
    Column(
        "retrain_id",
        Integer,
        ForeignKey("retrains.id", ondelete="RESTRICT", use_alter=True),
    ),
    UniqueConstraint("model_id", "version", name="uq_model_versions_model_version"),
)
Index("uq_model_versions_retrain_id", model_versions.c.retrain_id, unique=True)

aliases = Table(
    "aliases",
    metadata,
    Column("model_id", Integer, ForeignKey("models.id"), primary_key=True),
    Column("alias", String(64), primary_key=True),
    Column("version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

alias_history = Table(
    "alias_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", Integer, ForeignKey("models.id"), nullable=False),
    Column("alias", String(64), nullable=False),
    Column("version_id", Integer, ForeignKey("model_versions.id")),
    Column("previous_version_id", Integer, ForeignKey("model_versions.id")),
    Column("moved_at", UTCDateTime, nullable=False),
    Column("moved_by", String(256), nullable=False),
    Column("reason", Text, nullable=False, default=""),
)
Index("ix_alias_history_model_alias", alias_history.c.model_id, alias_history.c.alias)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(512), nullable=False),
    Column("details", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
Index("ix_audit_log_subject", audit_log.c.subject)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

evaluations = Table(
    "evaluations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("suite", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("snapshots", JSON, nullable=False),
    Column("champion_version_id", Integer, ForeignKey("model_versions.id")),
    Column("results", JSON, nullable=False),
    Column("error", Text),
    Column("report_sha256", String(64)),
    Column("author", String(256), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_evaluations_version", evaluations.c.version_id)

gate_results = Table(
    "gate_results",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("evaluation_id", Integer, ForeignKey("evaluations.id")),
    Column("verdict", String(16), nullable=False),
    Column("risk_profile", String(16), nullable=False),
    Column("checks", JSON, nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("author", String(256), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_gate_results_version", gate_results.c.version_id)

approvals = Table(
    "approvals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("approver", String(256), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_approvals_version", approvals.c.version_id)

# -- monitoring -------------------------------------------------------------------------------
monitor_parts = Table(
    "monitor_parts",
    metadata,
    Column("model", String(128), primary_key=True),
    Column("part", String(256), primary_key=True),
    Column("rows", Integer, nullable=False),
    Column("rows_done", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

monitor_state = Table(
    "monitor_state",
    metadata,
    Column("model", String(128), primary_key=True),
    Column("pending_sha256", String(64)),
    Column("pending_rows", Integer, nullable=False, default=0),
    Column("last_run_at", UTCDateTime, nullable=False),
)


def _version_link(name: str) -> Column[int]:
    """The integrity link from a history row to the version it is about.

    Windows, alerts, deployments and retrains name their versions by model name and number, the
    readable copy every reader uses; this column holds the same version's ``model_versions.id``
    (``keel.store.version_links.version_id`` resolves it in the writer's transaction). Nullable:
    rows carried over by migration 0007 whose version the store does not have keep NULL, and
    some links have nothing to point at (a deployment with no champion). RESTRICT: Keel never
    deletes a version (archiving keeps the row), and a version that history refers to must not
    vanish from under it, so the store refuses such a delete rather than cascade or forget.
    """
    return Column(name, Integer, ForeignKey("model_versions.id", ondelete="RESTRICT"))


monitor_windows = Table(
    "monitor_windows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    # the version whose predictions the window scored (every window records one)
    _version_link("version_id"),
    Column("kind", String(8), nullable=False),
    Column("start_at", UTCDateTime, nullable=False),
    Column("end_at", UTCDateTime, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("index_sha256", String(64), nullable=False),
    Column("reference", JSON, nullable=False),
    Column("drift", JSON, nullable=False),
    Column("estimate", JSON, nullable=False),
    Column("operations", JSON, nullable=False),
    Column("performance", JSON, nullable=False),
    Column("labelled_rows", Integer, nullable=False, default=0),
    Column("quality", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
Index("ix_monitor_windows_model_end", monitor_windows.c.model, monitor_windows.c.end_at)

drift_references = Table(
    "drift_references",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("snapshot_id", Integer, ForeignKey("snapshots.id"), nullable=False),
    Column("version_id", Integer, ForeignKey("model_versions.id")),
    Column("artifact_sha256", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model", String(128), nullable=False),
    Column("rule", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("value", Double),
    Column("threshold", Double),
    Column("message", Text, nullable=False),
    Column("details", JSON, nullable=False),
    Column("window_id", Integer, ForeignKey("monitor_windows.id")),
    # a rollout alert (rule ``rollout of {model}/{version}``) is about that one version; a
    # policy rule's alert is about the model: one open alert per rule whichever version is
    # serving, so it links no version (the window it last saw, ``window_id``, links one)
    _version_link("version_id"),
    Column("fired_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime),
    Column("acknowledged_by", String(256)),
    Column("acknowledged_at", UTCDateTime),
    Column("last_notified_at", UTCDateTime),
    Column("occurrences", Integer, nullable=False, default=1),
)
Index("ix_alerts_model_state", alerts.c.model, alerts.c.state)
Index("ix_alerts_fingerprint", alerts.c.fingerprint)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", Integer, ForeignKey("alerts.id")),
    Column("event", String(64), nullable=False),
    Column("sink", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", Text),
    Column("payload", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_notifications_alert", notifications.c.alert_id)

cursors = Table(
    "cursors",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# -- serving and rollout ----------------------------------------------------------------------
deployments = Table(
    "deployments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model", String(128), nullable=False),
    Column("strategy", String(16), nullable=False),
    Column("stable_version", Integer),
    Column("candidate_version", Integer, nullable=False),
    # the champion it runs against (NULL when the model had none) and the version it rolls out
    _version_link("stable_version_id"),
    _version_link("candidate_version_id"),
    Column("steps", JSON, nullable=False),
    Column("step", Integer, nullable=False),
    Column("candidate_weight", Double, nullable=False),
    Column("interval_s", Double, nullable=False),
    Column("sticky", Boolean, nullable=False),
    Column("limits", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("analysis", JSON, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("step_started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
)
Index("ix_deployments_model_status", deployments.c.model, deployments.c.status)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_by", String(256), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

# -- pipelines and the controller -------------------------------------------------------------
pipeline_runs = Table(
    "pipeline_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("pipeline", String(256), nullable=False),
    Column("model", String(128)),
    Column("status", String(16), nullable=False),
    Column("executor", String(32), nullable=False),
    Column("params", JSON, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime),
    Column("error", Text),
)
Index("ix_pipeline_runs_model", pipeline_runs.c.model)

pipeline_steps = Table(
    "pipeline_steps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", String(32), ForeignKey("pipeline_runs.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("position", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("cache_key", String(64), nullable=False),
    Column("inputs", JSON, nullable=False),
    Column("output_sha256", String(64)),
    Column("output", JSON),
    Column("cached_from", String(32)),
    Column("started_at", UTCDateTime),
    Column("ended_at", UTCDateTime),
    Column("error", Text),
    UniqueConstraint("run_id", "name", name="uq_pipeline_steps_run_id"),
)
Index("ix_pipeline_steps_cache", pipeline_steps.c.name, pipeline_steps.c.cache_key)

retrains = Table(
    "retrains",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model", String(128), nullable=False),
    # the model's name while the retrain is in flight, NULL once it ended: the unique
    # constraint makes "one retrain in flight per model" a rule of the store, not of the code
    Column("active_model", String(128), unique=True),
    Column("trigger", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("pipeline_run_id", String(32)),
    Column("candidate_version", Integer),
    # the deployment that rolled the candidate out (NULL until it started); RESTRICT: Keel
    # deletes no deployment, and the retrain's record of how it ended must keep it
    Column("deployment_id", Integer, ForeignKey("deployments.id", ondelete="RESTRICT")),
    Column("outcome", Text),
    Column("details", JSON, nullable=False),
    # the champion it started from (readable copy: ``details["champion"]``; NULL until a
    # manual retrain starts training) and the version it registered (NULL until then)
    _version_link("champion_version_id"),
    _version_link("candidate_version_id"),
    Column("requested_by", String(256), nullable=False),
    Column("lease_owner", String(128)),
    Column("lease_until", UTCDateTime),
    # renewed every few seconds by the process holding the lease; a stale one can be taken over
    Column("heartbeat_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime),
)
Index("ix_retrains_model_created", retrains.c.model, retrains.c.created_at)

# what each autopilot pass concluded about a model with no retrain in flight (idle, hold,
# retrain, busy), with the trigger's numbers: a row when the verdict differs from the model's
# newest one, and one for every retrain started (``keel.controller.decision_log``)
retrain_decisions = Table(
    "retrain_decisions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model", String(128), nullable=False),
    # the champion the triggers judged (NULL: the model had none)
    Column("champion_version", Integer),
    _version_link("champion_version_id"),
    # the pass's ``now`` (the controller's clock, simulated in tests and the demo)
    Column("decided_at", UTCDateTime, nullable=False),
    Column("action", String(16), nullable=False),
    Column("trigger", Text),
    Column("reason", Text, nullable=False),
    Column("details", JSON, nullable=False),
    # the retrain the verdict started; RESTRICT, as for the other links: Keel deletes no retrain
    Column("retrain_id", Integer, ForeignKey("retrains.id", ondelete="RESTRICT")),
    # the wall clock when the row was written
    Column("recorded_at", UTCDateTime, nullable=False),
)
Index("ix_retrain_decisions_model_id", retrain_decisions.c.model, retrain_decisions.c.id)

__all__ = [
    "alerts",
    "alias_history",
    "aliases",
    "api_tokens",
    "approvals",
    "audit_head",
    "audit_log",
    "cursors",
    "deployments",
    "drift_references",
    "evaluations",
    "gate_results",
    "metadata",
    "model_versions",
    "models",
    "monitor_parts",
    "monitor_state",
    "monitor_windows",
    "notifications",
    "pipeline_runs",
    "pipeline_steps",
    "retrain_decisions",
    "retrains",
    "run_inputs",
    "run_metrics",
    "runs",
    "snapshots",
]
