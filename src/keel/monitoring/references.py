"""The reference a model version's production windows are compared with, built once and kept.

A reference holds bounded summaries (``ReferenceProfile``) of the input features, of the model's
outputs on the reference data (for prediction drift) and of the labels (for label drift), plus a
CBPE calibrator and the limits of ``METRIC below reference`` rules
(``keel.monitoring.reference_limits``). The summaries come from the version's training snapshot,
or from the snapshot the policy names (a version a retrain registered then uses its retrain's
holdout). The calibrator and the limits never learn from rows the version trained on: they use
held-out rows, or out-of-fold scores of refits on the training snapshot
(``keel.monitoring.held_out``), and the reference records which (``calibration``). It is
stored as a content-addressed artifact keyed by version, snapshot, held-out source and format, so
every later window reuses it without touching the reference data again.

Building it runs the model on the reference data: whatever the model's own code raises there
(loading it, ``predict``, ``predict_proba``) comes out as ``ModelFailed`` naming the version and
the exception, so a caller can blame that version instead of crashing (a canary's candidate that
fails here is rolled back).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from keel.domain.entities import ModelVersion, Snapshot
from keel.domain.policy import Monitoring, Policy
from keel.domain.retraining import HOLDOUT_TAG, RETRAIN_TAG
from keel.errors import InvalidInput, KeelError, ModelFailed
from keel.monitoring.scoring import model_outputs, typed_like_training
from keel.registry.clock import utcnow
from keel.registry.models import model_id_of, version_id_of
from keel.store.artifacts import ArtifactStore
from keel.store.database import Database, insert_ignore
from keel.store.schema import drift_references, snapshots

if TYPE_CHECKING:
    from keel.monitoring.calibration_sample import CalibrationSample
    from keel.monitoring.drift import ReferenceProfile
    from keel.monitoring.estimation import Calibrator
    from keel.monitoring.held_out import HeldOut, Plan
    from keel.monitoring.reference_limits import ReferenceLimits

#: bump when the stored layout changes, so old references are rebuilt rather than misread
FORMAT = 3  # 2: calibrator from held-out rows with bootstrap refits; limits; 3: their sample
#: the model scores at most this many reference rows (outputs and calibration)
OUTPUT_SAMPLE = 50_000


@dataclass
class Reference:
    """Everything a window is compared with; ``task`` is classification or regression."""

    snapshot: str
    task: str
    classes: list[Any]
    features: list[str]
    target: str | None
    inputs: ReferenceProfile
    outputs: ReferenceProfile | None
    labels: ReferenceProfile | None
    calibrator: Calibrator | None
    rows: int
    #: where the calibrator and the limits learnt from (``keel.monitoring.held_out``)
    calibration: dict[str, Any] = field(default_factory=dict)
    limits: ReferenceLimits | None = None
    #: the calibrator's held-out rows, for windows whose inputs shifted
    calibration_sample: CalibrationSample | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "snapshot": self.snapshot,
            "task": self.task,
            "classes": self.classes,
            "features": self.features,
            "target": self.target,
            "inputs": self.inputs.to_dict(),
            "outputs": self.outputs.to_dict() if self.outputs is not None else None,
            "labels": self.labels.to_dict() if self.labels is not None else None,
            "calibrator": self.calibrator.to_dict() if self.calibrator is not None else None,
            "rows": self.rows,
            "calibration": self.calibration,
            "limits": self.limits.to_dict() if self.limits is not None else None,
            "calibration_sample": None
            if self.calibration_sample is None
            else self.calibration_sample.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reference:
        from keel.monitoring.calibration_sample import CalibrationSample
        from keel.monitoring.drift import ReferenceProfile
        from keel.monitoring.estimation import Calibrator
        from keel.monitoring.reference_limits import ReferenceLimits

        def profile(value: Any) -> ReferenceProfile | None:
            return None if value is None else ReferenceProfile.from_dict(value)

        inputs = ReferenceProfile.from_dict(data["inputs"])
        calibrator = data.get("calibrator")
        limits = data.get("limits")
        sample = data.get("calibration_sample")
        return cls(
            snapshot=data["snapshot"],
            task=data["task"],
            classes=list(data["classes"]),
            features=list(data["features"]),
            target=data["target"],
            inputs=inputs,
            outputs=profile(data["outputs"]),
            labels=profile(data["labels"]),
            calibrator=None if calibrator is None else Calibrator.from_dict(calibrator),
            rows=int(data["rows"]),
            calibration=dict(data.get("calibration") or {}),
            limits=None if limits is None else ReferenceLimits.from_dict(limits),
            calibration_sample=None if sample is None else CalibrationSample.from_dict(sample),
        )

    def summary(self) -> dict[str, Any]:
        """What a window records about its reference: the snapshot, where the calibrator and
        limits learnt from, and each metric's spread (a report draws the limits from it)."""
        out: dict[str, Any] = {"snapshot": self.snapshot, "rows": self.rows, "target": self.target}
        if self.calibration:
            out["calibration"] = self.calibration
        if self.limits is not None:
            out["limits"] = self.limits.to_dict()
        return out


def reference_snapshot(version: ModelVersion, monitoring: Monitoring) -> str:
    """The snapshot ``version``'s windows are compared with.

    A named reference is the held-out data of the versions a person registered. A version a
    retrain registered is compared with its own retrain's holdout instead: the same role for
    the new model (the freshest rows it was judged on), so drift and the label-free estimate
    are measured against what the serving model knows, not against its predecessor's data.
    """
    if monitoring.reference != "training":
        tags = version.tags or {}
        if tags.get(RETRAIN_TAG) and tags.get(HOLDOUT_TAG):
            return str(tags[HOLDOUT_TAG])
        return monitoring.reference
    if version.training_snapshot is None:
        raise InvalidInput(
            "monitoring.reference",
            f"{version.ref} has no training snapshot; name a reference snapshot in the policy",
        )
    return version.training_snapshot


def _target(policy: Policy, snapshot: Snapshot, features: list[str]) -> str | None:
    if policy.monitoring.target is not None:
        return policy.monitoring.target
    suite = policy.gate_suite()
    if suite is not None and suite.target in snapshot.schema:
        return suite.target
    rest = [c for c in snapshot.schema if c not in features]
    return rest[0] if len(rest) == 1 else None


def load_reference(
    db: Database, artifacts: ArtifactStore, version: ModelVersion, policy: Policy
) -> Reference:
    """The stored reference of ``version``, building and storing it on first use."""
    import orjson

    from keel.monitoring.held_out import plan as held_out_plan
    from keel.registry import snapshots as snapshot_registry

    snapshot = snapshot_registry.get(db, reference_snapshot(version, policy.monitoring))
    features = _features(version, list(snapshot.schema))
    plan = held_out_plan(
        db, version, policy, snapshot, _target(policy, snapshot, features), features
    )
    key = hashlib.sha256(
        f"{FORMAT}|{version.name}|{version.version}|{snapshot.sha256}|"
        f"{policy.monitoring.target}|{plan.key()}|{policy.retraining.trainer}".encode()
    ).hexdigest()
    with db.read() as conn:
        stored = conn.execute(
            sa.select(drift_references.c.artifact_sha256).where(drift_references.c.key == key)
        ).scalar_one_or_none()
    if stored is not None:
        return Reference.from_dict(orjson.loads(artifacts.get(stored)))
    reference = build_reference(db, artifacts, version, policy, snapshot, plan)
    digest = artifacts.put(orjson.dumps(reference.to_dict(), option=orjson.OPT_SERIALIZE_NUMPY))
    with db.write() as conn:
        model_id = model_id_of(conn, version.name)
        version_id = version_id_of(conn, model_id, version.name, version.version)
        snapshot_id = conn.execute(
            sa.select(snapshots.c.id)
            .where(snapshots.c.name == snapshot.name)
            .where(snapshots.c.sha256 == snapshot.sha256)
        ).scalar_one()
        insert_ignore(
            conn,
            drift_references,
            {
                "key": key,
                "snapshot_id": snapshot_id,
                "version_id": version_id,
                "artifact_sha256": digest,
                "created_at": utcnow(),
            },
            ["key"],
        )
    return reference


def _features(version: ModelVersion, columns: list[str]) -> list[str]:
    names = version.signature.feature_names if version.signature is not None else []
    return [name for name in names if name in columns]


def build_reference(
    db: Database,
    artifacts: ArtifactStore,
    version: ModelVersion,
    policy: Policy,
    snapshot: Snapshot,
    plan: Plan | None = None,
) -> Reference:
    import pandas as pd

    from keel.domain.names import ModelRef
    from keel.monitoring import held_out
    from keel.monitoring.drift import ReferenceProfile
    from keel.registry import snapshots as snapshot_registry
    from keel.registry.loading import load

    frame = snapshot_registry.load_frame(artifacts, snapshot).reset_index(drop=True)
    features = _features(version, list(frame.columns))
    if not features:
        raise InvalidInput(
            "monitoring.reference",
            f"snapshot {snapshot.ref} holds none of {version.ref}'s input features",
        )
    target = _target(policy, snapshot, features)
    if target is not None and target not in frame.columns:
        raise InvalidInput("monitoring.target", f"{target!r} is not a column of {snapshot.ref}")
    frame = typed_like_training(version, frame, features)
    inputs = ReferenceProfile.build(frame[features])
    sample = frame.sample(n=min(len(frame), OUTPUT_SAMPLE), random_state=0)
    try:
        model = load(db, artifacts, ModelRef(version.name, version=version.version))
        prediction, score, classes = model_outputs(model, sample[features])
    except KeelError:
        raise
    except Exception as exc:  # the model's own code raised: say so as a Keel error, never crash
        raise ModelFailed(
            version.name, version.version, exc, during=f"scoring its reference data {snapshot.ref}"
        ) from exc
    task = "classification" if classes else "regression"
    # class labels are categories, whatever their dtype; regression outputs are numbers
    shown = [str(p) for p in prediction] if classes else prediction
    outputs_frame = pd.DataFrame({"prediction": shown})
    if score is not None:
        outputs_frame["score"] = score
    outputs = ReferenceProfile.build(outputs_frame)
    labels = None
    if target is not None:
        truth = frame[[target]].rename(columns={target: "label"})
        if task == "classification":
            truth = truth.astype({"label": str})
        labels = ReferenceProfile.build(truth)
    if plan is None:
        plan = held_out.plan(db, version, policy, snapshot, target, features)
    held = held_out.collect(
        plan,
        artifacts=artifacts,
        model=model,
        version=version,
        policy=policy,
        frame=frame,
        sample=sample,
        outputs=(prediction, score, classes),
        features=features,
        sample_rows=OUTPUT_SAMPLE,
    )
    scored = task == "classification" and score is not None and target is not None
    calibrator, limits, calibration_sample = _learnt_from(
        held, task, classes, policy, inputs, scored=scored
    )
    return Reference(
        snapshot=snapshot.ref,
        task=task,
        classes=classes,
        features=features,
        target=target,
        inputs=inputs,
        outputs=outputs,
        labels=labels,
        calibrator=calibrator,
        rows=len(frame),
        calibration=held.describe(),
        limits=limits,
        calibration_sample=calibration_sample,
    )


def _learnt_from(
    held: HeldOut,
    task: str,
    classes: list[Any],
    policy: Policy,
    profile: ReferenceProfile,
    *,
    scored: bool,
) -> tuple[Calibrator | None, ReferenceLimits | None, CalibrationSample | None]:
    """The calibrator (a classifier with scores and labels), the limits and a sample of the rows
    the calibrator learnt from, coded like ``profile``, from the held-out rows; with none held
    out, the identity calibrator (scores taken at their word, never a map learnt on training
    rows), no limits and no sample."""
    from keel.monitoring.calibration_sample import CalibrationSample
    from keel.monitoring.estimation import Calibrator, fit_calibration
    from keel.monitoring.held_out import HeldOut
    from keel.monitoring.reference_limits import build_limits

    if held.truth is None or held.prediction is None or held.rows == 0:
        return (Calibrator.identity(classes) if scored else None), None, None
    if task == "classification":  # labels as the classes' values ("1" logged for 1 counts)
        lookup = {str(c): c for c in classes}
        known = np.array([str(t) in lookup for t in held.truth], dtype=bool)
        truth = np.array([lookup.get(str(t)) for t in held.truth[known]], dtype=object)
        held = HeldOut(
            held.source,
            held.snapshot,
            truth,
            held.prediction[known],
            None if held.score is None else held.score[known],
            held.folds,
            held.note,
            None if held.inputs is None else held.inputs[known],
        )
        if held.rows == 0:
            return (Calibrator.identity(classes) if scored else None), None, None
    assert held.truth is not None and held.prediction is not None
    calibrator: Calibrator | None = None
    sample: CalibrationSample | None = None
    if task == "classification" and held.score is not None:
        calibrator = fit_calibration(held.truth, held.prediction, held.score, classes)
        if held.inputs is not None:
            sample = CalibrationSample.build(
                profile, held.inputs, held.truth, held.prediction, held.score, classes
            )
    limits = build_limits(
        task,
        classes,
        held.truth,
        held.prediction,
        held.score if task == "classification" and len(classes) == 2 else None,
        chunk_rows=policy.monitoring.window.rows,
        source=held.source,
    )
    return calibrator, limits, sample
