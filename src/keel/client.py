"""The Python SDK: ``Client``, one door onto Keel's services over one set of stores.

client = keel.Client()                      # .keel/keel.db and .keel/artifacts
snap = client.register_snapshot(df, "credit-train")
with client.start_run("train-credit") as run:
    version = client.register_model("credit", model, training_data=snap, target="default")
client.set_alias("credit", "champion", version.version, reason="first release")
model = client.load_model("models:/credit@champion")

Every method is a service's method (``keel.doors.door``): ``client.registry``, ``client.audit``,
``client.governance``, ``client.monitoring``, ``client.rollouts``, ``client.retraining`` and
``client.tokens`` are the services themselves, the ones the CLI, the management API and the
dashboard call too.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from keel.controller.service import Retrains
from keel.doors import door
from keel.evaluation.service import Governance
from keel.monitoring.service import Monitoring
from keel.registry.audit_service import AuditTrail
from keel.registry.service import Registry
from keel.registry.token_service import Tokens
from keel.rollout.service import Rollouts
from keel.services import Services
from keel.settings import Settings
from keel.stores import Stores

if TYPE_CHECKING:
    from keel.store.artifacts import FsspecArtifactStore
    from keel.store.database import Database
    from keel.store.prediction_log import ParquetLogStore


class Client:
    """Every registry, governance, monitoring, rollout and retraining operation; cheap to
    create, safe to share between threads."""

    def __init__(
        self,
        store_url: str | None = None,
        artifacts: str | None = None,
        *,
        actor: str | None = None,
        settings: Settings | None = None,
        create: bool = True,
    ) -> None:
        """``create=False`` opens only a store that exists: a SQLite file or local artifact
        folder that is not there raises StoreNotFound instead of starting an empty store."""
        if settings is None:
            settings = Settings.load(store_url=store_url, artifacts=artifacts, actor=actor)
        self.stores = Stores.open(settings, create=create)
        self.services = Services.over(self.stores)
        self.registry = self.services.registry
        self.audit = self.services.audit
        self.governance = self.services.governance
        self.monitoring = self.services.monitoring
        self.rollouts = self.services.rollouts
        self.tokens = self.services.tokens
        self.retraining = Retrains(self.services, client_class=type(self))

    # -- the stores -----------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        return self.stores.settings

    @property
    def actor(self) -> str:
        return self.stores.actor

    @property
    def db(self) -> Database:
        return self.stores.db

    @property
    def artifacts(self) -> FsspecArtifactStore:
        return self.stores.artifacts

    @property
    def logs(self) -> ParquetLogStore:
        """The prediction and label logs, beside the artifacts (``<artifacts>/log``)."""
        return self.stores.logs

    def close(self) -> None:
        self.stores.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(store={self.db.safe_url!r}, artifacts={self.artifacts.url!r})"

    # -- registry: snapshots, runs, versions, aliases, lineage ----------------------------------
    register_snapshot = door("registry", Registry.register_snapshot)
    get_snapshot = door("registry", Registry.get_snapshot)
    list_snapshots = door("registry", Registry.list_snapshots)
    load_snapshot = door("registry", Registry.load_snapshot)
    start_run = door("registry", Registry.start_run)
    get_run = door("registry", Registry.get_run)
    list_runs = door("registry", Registry.list_runs)
    metric_history = door("registry", Registry.metric_history)
    register_model = door("registry", Registry.register_model)
    get_version = door("registry", Registry.get_version)
    list_models = door("registry", Registry.list_models)
    list_versions = door("registry", Registry.list_versions)
    archive_version = door("registry", Registry.archive_version)
    load_model = door("registry", Registry.load_model)
    convert_model = door("registry", Registry.convert_model)
    trust_version = door("registry", Registry.trust_version)
    set_alias = door("registry", Registry.set_alias)
    delete_alias = door("registry", Registry.delete_alias)
    alias_history = door("registry", Registry.alias_history)
    alias_periods = door("registry", Registry.alias_periods)
    lineage = door("registry", Registry.lineage)
    known_models = door("registry", Registry.known_models)
    serving_plans = door("registry", Registry.serving_plans)

    # -- the audit trail ---------------------------------------------------------------------------
    audit_log = door("audit", AuditTrail.audit_log)
    verify_audit = door("audit", AuditTrail.verify_audit)

    # -- API tokens for the HTTP doors -----------------------------------------------------------
    create_token = door("tokens", Tokens.create_token)
    list_tokens = door("tokens", Tokens.list_tokens)
    revoke_token = door("tokens", Tokens.revoke_token)

    # -- governance: policies, evaluations, gates, approvals -------------------------------------
    set_policy = door("governance", Governance.set_policy)
    get_policy = door("governance", Governance.get_policy)
    evaluate = door("governance", Governance.evaluate)
    gate = door("governance", Governance.gate)
    list_evaluations = door("governance", Governance.list_evaluations)
    get_evaluation = door("governance", Governance.get_evaluation)
    gate_history = door("governance", Governance.gate_history)
    approve = door("governance", Governance.approve)

    # -- monitoring: the logs, windows, reports, alerts ------------------------------------------
    log_predictions = door("monitoring", Monitoring.log_predictions)
    log_labels = door("monitoring", Monitoring.log_labels)
    read_predictions = door("monitoring", Monitoring.read_predictions)
    monitor = door("monitoring", Monitoring.monitor)
    monitor_windows = door("monitoring", Monitoring.monitor_windows)
    monitor_report = door("monitoring", Monitoring.monitor_report)
    list_alerts = door("monitoring", Monitoring.list_alerts)
    acknowledge_alert = door("monitoring", Monitoring.acknowledge_alert)

    # -- rollouts: deploy, promote, roll back, advance ---------------------------------------------
    deploy = door("rollouts", Rollouts.deploy)
    promote = door("rollouts", Rollouts.promote)
    rollback = door("rollouts", Rollouts.rollback)
    advance_rollout = door("rollouts", Rollouts.advance_rollout)
    advance_all = door("rollouts", Rollouts.advance_all)
    watch = door("rollouts", Rollouts.watch)
    deployment_status = door("rollouts", Rollouts.deployment_status)
    deployments = door("rollouts", Rollouts.deployments)

    # -- retraining: the autopilot, retrains, pipeline runs ----------------------------------------
    autopilot = door("retraining", Retrains.autopilot)
    autopilot_status = door("retraining", Retrains.autopilot_status)
    retrain = door("retraining", Retrains.retrain)
    retrains = door("retraining", Retrains.retrains)
    decisions = door("retraining", Retrains.decisions)
    retrain_report = door("retraining", Retrains.retrain_report)
    pipeline_runs = door("retraining", Retrains.pipeline_runs)
    pipeline_run = door("retraining", Retrains.pipeline_run)
    reproduce = door("retraining", Retrains.reproduce)
