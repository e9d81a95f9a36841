"""Keel keeps machine-learning models accurate in production.

The public API is listed in ``__all__``; heavy modules load on first use so ``import keel`` stays
fast. Module-level shortcuts (``keel.start_run``, ``keel.register_model``, ...) act on a default
client built from the settings (``KEEL_STORE_URL``, ``KEEL_ARTIFACTS``, ``keel.yaml``).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from keel._version import __version__
from keel.errors import (
    ArtifactCorrupted,
    Conflict,
    FrameworkMissing,
    GateFailed,
    IntegrityError,
    InvalidInput,
    KeelError,
    ModelFailed,
    NotFound,
    PipelineFailed,
    SchemaTooNew,
    SignatureMismatch,
    StoreConflict,
    StoreError,
    StoreNotFound,
    StoreUnavailable,
    UntrustedArtifact,
)

if TYPE_CHECKING:
    from keel.client import Client
    from keel.controller.autopilot import Autopilot, Decision
    from keel.domain.audit import AuditFinding, AuditVerification
    from keel.domain.entities import ModelVersion, Snapshot
    from keel.domain.metric_specs import MetricSpec, metric_names, metric_spec
    from keel.domain.policy import Policy, Suite
    from keel.domain.reproduction import Reproduction
    from keel.evaluation.gates import GateOutcome
    from keel.evaluation.runner import Evaluation
    from keel.monitoring.alerts import AlertChange, AlertRecord
    from keel.monitoring.drift import DriftReport
    from keel.monitoring.monitor_report import MonitorReport
    from keel.monitoring.runner import MonitorResult
    from keel.monitoring.stored_window import StoredWindow
    from keel.monitoring.window_summary import WindowSummary
    from keel.pipelines.pipeline import Pipeline, PipelineResult
    from keel.pipelines.step import StepContext, step
    from keel.registry.evaluation_records import EvaluationRecord, EvaluationSummary, GateRecord
    from keel.registry.flavours import OnnxModel
    from keel.registry.loaded import LoadedModel
    from keel.registry.predictions import LabelReport, LogReceipt
    from keel.registry.runs import Run
    from keel.rollout.results import DeploymentStatus, NextStep, Rollback, RolloutStep
    from keel.settings import Settings

__all__ = [
    "AlertChange",
    "AlertRecord",
    "ArtifactCorrupted",
    "AuditFinding",
    "AuditVerification",
    "Autopilot",
    "Client",
    "Conflict",
    "Decision",
    "DeploymentStatus",
    "DriftReport",
    "Evaluation",
    "EvaluationRecord",
    "EvaluationSummary",
    "FrameworkMissing",
    "GateFailed",
    "GateOutcome",
    "GateRecord",
    "IntegrityError",
    "InvalidInput",
    "KeelError",
    "LabelReport",
    "LoadedModel",
    "LogReceipt",
    "MetricSpec",
    "ModelFailed",
    "ModelVersion",
    "MonitorReport",
    "MonitorResult",
    "NextStep",
    "NotFound",
    "OnnxModel",
    "Pipeline",
    "PipelineFailed",
    "PipelineResult",
    "Policy",
    "Reproduction",
    "Rollback",
    "RolloutStep",
    "Run",
    "SchemaTooNew",
    "Settings",
    "SignatureMismatch",
    "Snapshot",
    "StepContext",
    "StoreConflict",
    "StoreError",
    "StoreNotFound",
    "StoreUnavailable",
    "StoredWindow",
    "Suite",
    "UntrustedArtifact",
    "WindowSummary",
    "__version__",
    "get_client",
    "load_model",
    "log_labels",
    "log_predictions",
    "metric_names",
    "metric_spec",
    "register_model",
    "register_snapshot",
    "set_alias",
    "set_client",
    "start_run",
    "step",
]

_LAZY = {
    "Client": "keel.client",
    "Evaluation": "keel.evaluation.runner",
    "GateOutcome": "keel.evaluation.gates",
    "EvaluationRecord": "keel.registry.evaluation_records",
    "EvaluationSummary": "keel.registry.evaluation_records",
    "GateRecord": "keel.registry.evaluation_records",
    "Policy": "keel.domain.policy",
    "Suite": "keel.domain.policy",
    "Reproduction": "keel.domain.reproduction",
    "LoadedModel": "keel.registry.loaded",
    "OnnxModel": "keel.registry.flavours",
    "ModelVersion": "keel.domain.entities",
    "Run": "keel.registry.runs",
    "Settings": "keel.settings",
    "Snapshot": "keel.domain.entities",
    "AlertRecord": "keel.monitoring.alerts",
    "AlertChange": "keel.monitoring.alerts",
    "AuditFinding": "keel.domain.audit",
    "AuditVerification": "keel.domain.audit",
    "LabelReport": "keel.registry.predictions",
    "LogReceipt": "keel.registry.predictions",
    "MonitorReport": "keel.monitoring.monitor_report",
    "MonitorResult": "keel.monitoring.runner",
    "StoredWindow": "keel.monitoring.stored_window",
    "WindowSummary": "keel.monitoring.window_summary",
    "DriftReport": "keel.monitoring.drift",
    "Autopilot": "keel.controller.autopilot",
    "Decision": "keel.controller.autopilot",
    "Pipeline": "keel.pipelines.pipeline",
    "PipelineResult": "keel.pipelines.pipeline",
    "StepContext": "keel.pipelines.step",
    "step": "keel.pipelines.step",
    "MetricSpec": "keel.domain.metric_specs",
    "metric_spec": "keel.domain.metric_specs",
    "metric_names": "keel.domain.metric_specs",
    "RolloutStep": "keel.rollout.results",
    "Rollback": "keel.rollout.results",
    "DeploymentStatus": "keel.rollout.results",
    "NextStep": "keel.rollout.results",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'keel' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


_default: Client | None = None
_default_lock = threading.Lock()


def get_client() -> Client:
    """The default client, created from the settings on first use."""
    global _default
    with _default_lock:
        if _default is None:
            from keel.client import Client

            _default = Client()
        return _default


def set_client(client: Client | None) -> None:
    """Replace the default client (None: build it again from the settings on next use)."""
    global _default
    with _default_lock:
        _default = client


def start_run(name: str, **kwargs: Any) -> Run:
    return get_client().start_run(name, **kwargs)


def register_snapshot(data: Any, name: str, **kwargs: Any) -> Snapshot:
    return get_client().register_snapshot(data, name, **kwargs)


def register_model(name: str, model: Any, **kwargs: Any) -> ModelVersion:
    return get_client().register_model(name, model, **kwargs)


def load_model(ref: str, **kwargs: Any) -> LoadedModel:
    return get_client().load_model(ref, **kwargs)


def set_alias(name: str, alias: str, version: int, *, reason: str = "") -> ModelVersion:
    return get_client().set_alias(name, alias, version, reason=reason)


def log_predictions(model: str, data: Any, **kwargs: Any) -> LogReceipt:
    return get_client().log_predictions(model, data, **kwargs)


def log_labels(model: str, request_ids: Any, labels: Any, **kwargs: Any) -> LabelReport:
    return get_client().log_labels(model, request_ids, labels, **kwargs)
