"""The public API is exactly what we mean it to be, sorted, and every name resolves."""

from __future__ import annotations

import subprocess
import sys

import pytest

import keel

INTENDED = {
    "Autopilot",
    "Decision",
    "Pipeline",
    "PipelineFailed",
    "PipelineResult",
    "StepContext",
    "step",
    "log_labels",
    "log_predictions",
    "DriftReport",
    "MonitorReport",
    "MonitorResult",
    "StoredWindow",
    "WindowSummary",
    "MetricSpec",
    "metric_spec",
    "metric_names",
    "RolloutStep",
    "Rollback",
    "DeploymentStatus",
    "NextStep",
    "EvaluationRecord",
    "EvaluationSummary",
    "GateRecord",
    "LogReceipt",
    "LabelReport",
    "AlertRecord",
    "AlertChange",
    "ArtifactCorrupted",
    "AuditFinding",
    "AuditVerification",
    "Client",
    "Conflict",
    "Evaluation",
    "FrameworkMissing",
    "GateFailed",
    "GateOutcome",
    "IntegrityError",
    "InvalidInput",
    "KeelError",
    "LoadedModel",
    "ModelFailed",
    "ModelVersion",
    "NotFound",
    "OnnxModel",
    "Policy",
    "Reproduction",
    "Run",
    "SchemaTooNew",
    "Settings",
    "SignatureMismatch",
    "Snapshot",
    "StoreConflict",
    "StoreError",
    "StoreNotFound",
    "StoreUnavailable",
    "Suite",
    "UntrustedArtifact",
    "__version__",
    "get_client",
    "load_model",
    "register_model",
    "register_snapshot",
    "set_alias",
    "set_client",
    "start_run",
}


def test_all_is_sorted_without_duplicates() -> None:
    assert keel.__all__ == sorted(keel.__all__)
    assert len(set(keel.__all__)) == len(keel.__all__)


def test_all_is_exactly_the_intended_names() -> None:
    assert set(keel.__all__) == INTENDED


@pytest.mark.parametrize("name", sorted(INTENDED))
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(keel, name) is not None


def test_lazy_names_are_the_real_objects() -> None:
    from keel.client import Client
    from keel.domain.entities import ModelVersion, Snapshot
    from keel.domain.metric_specs import MetricSpec, metric_names, metric_spec
    from keel.registry.loaded import LoadedModel
    from keel.registry.runs import Run
    from keel.rollout.results import DeploymentStatus, NextStep, Rollback, RolloutStep
    from keel.settings import Settings

    assert keel.Client is Client
    assert keel.LoadedModel is LoadedModel
    assert keel.ModelVersion is ModelVersion
    assert keel.Run is Run
    assert keel.Settings is Settings
    assert keel.Snapshot is Snapshot
    assert keel.MetricSpec is MetricSpec
    assert keel.metric_spec is metric_spec
    assert keel.metric_names is metric_names
    assert keel.RolloutStep is RolloutStep
    assert keel.Rollback is Rollback
    assert keel.DeploymentStatus is DeploymentStatus
    assert keel.NextStep is NextStep


def test_unknown_attributes_raise_attribute_error() -> None:
    with pytest.raises(AttributeError):
        keel.NoSuchThing  # noqa: B018


def test_errors_module_exports_every_error() -> None:
    import keel.errors

    assert keel.errors.__all__ == sorted(keel.errors.__all__)
    for name in keel.errors.__all__:
        assert issubclass(getattr(keel.errors, name), keel.errors.KeelError)
        assert getattr(keel, name) is getattr(keel.errors, name)


def test_import_keel_stays_light() -> None:
    code = (
        "import sys, keel; "
        "heavy = [m for m in ('pandas', 'sklearn', 'sqlalchemy', 'pyarrow') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == ""
