"""The labelled rows a version's label-free estimate and its reference limits learn from: the
model's outputs on rows it never trained on.

A model's scores on its own training rows are over-confident and mostly right, so a CBPE
calibrator fitted there says "right" too often (on a census table: the estimate's error doubled
and its 95% band held the realized accuracy in 12 of 41 chunks), and limits measured there
are above what any production window reaches. So the rows come, in this order, from:

1. ``reference``: the version's monitoring reference itself, when it is not data the version
   trained on (a snapshot the policy names in ``monitoring.reference``, or a retrain's holdout);
2. ``retrain holdout``: the holdout a retrain judged this version on (not for a refit, which
   trained on it);
3. ``evaluation holdout``: the snapshots of the policy's gate suite that the version did not train
   on and that hold the suite's target;
4. ``out-of-fold``: ``FOLDS`` refits of the version's estimator (its hyper-parameters, no learned
   state; the policy's ``retraining.trainer`` when it names one) on the training snapshot, each
   scoring the rows it left out. Each refit learns from every training row but its fold (at most
   ``REFIT_ROWS`` of them), so its scores are what the model gives rows it has not seen;
5. ``none``: no labels anywhere, or a model that cannot be refit (an ONNX graph, a python model):
   the calibrator is the identity, there are no limits, and the reason says what to name.

What was used is recorded with the reference (``HeldOut.describe``) and shown in reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from keel.domain.entities import ModelVersion, Snapshot
from keel.domain.policy import Policy
from keel.domain.retraining import HOLDOUT_TAG, REFIT_TAG, RETRAIN_TAG
from keel.errors import KeelError, NotFound
from keel.store.artifacts import ArtifactStore
from keel.store.database import Database

if TYPE_CHECKING:
    import pandas as pd

    from keel.registry.loaded import LoadedModel

__all__ = ["FOLDS", "REFIT_ROWS", "HeldOut", "Plan", "collect", "plan"]

#: out-of-fold refits on the training snapshot
FOLDS = 5
#: training rows each out-of-fold refit learns from, at most
REFIT_ROWS = 200_000
#: what to do when nothing is held out
NAME_ONE = (
    "name a held-out snapshot in monitoring.reference, or give the policy a gate suite on data "
    "the model did not train on"
)


@dataclass(frozen=True)
class Plan:
    """Where the held-out rows will come from, decided before any data is read (the reference's
    storage key includes it, so a new gate suite builds a new reference)."""

    source: str
    snapshot: Snapshot | None = None
    target: str | None = None
    note: str = ""

    def key(self) -> str:
        sha = self.snapshot.sha256 if self.snapshot is not None else "-"
        return f"{self.source}|{sha}|{self.target}"


@dataclass
class HeldOut:
    """The model's predictions and scores on labelled rows it never trained on."""

    source: str
    snapshot: str | None = None
    truth: np.ndarray | None = None
    prediction: np.ndarray | None = None
    score: np.ndarray | None = None
    folds: int = 0
    note: str = ""
    #: the rows' features, in the order of ``truth`` (what a shifted window reweights)
    inputs: pd.DataFrame | None = None

    @property
    def rows(self) -> int:
        return 0 if self.truth is None else len(self.truth)

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "snapshot": self.snapshot,
            "rows": self.rows,
            "folds": self.folds,
            "note": self.note,
        }


def _shas(db: Database, refs: list[str]) -> set[str]:
    from keel.registry import snapshots as snapshot_registry

    found = set()
    for ref in refs:
        try:
            found.add(snapshot_registry.get(db, ref).sha256)
        except NotFound:
            continue
    return found


def trained_on(db: Database, version: ModelVersion) -> set[str]:
    """The content hashes of the snapshots ``version`` learnt from: its training snapshot and,
    for a refit, the holdout it was refit on too."""
    tags = version.tags or {}
    refs = [version.training_snapshot] if version.training_snapshot else []
    if tags.get(REFIT_TAG) and tags.get(HOLDOUT_TAG):
        refs.append(str(tags[HOLDOUT_TAG]))
    return _shas(db, refs)


def plan(
    db: Database,
    version: ModelVersion,
    policy: Policy,
    reference: Snapshot,
    target: str | None,
    features: list[str],
) -> Plan:
    """Where ``version``'s held-out rows come from (the order of the module notes)."""
    from keel.registry import snapshots as snapshot_registry

    seen = trained_on(db, version)

    def usable(snapshot: Snapshot, column: str | None) -> bool:
        return (
            column is not None
            and snapshot.sha256 not in seen
            and column in snapshot.schema
            and all(f in snapshot.schema for f in features)
        )

    if usable(reference, target):
        return Plan("reference", reference, target)
    tags = version.tags or {}
    if tags.get(RETRAIN_TAG) and tags.get(HOLDOUT_TAG) and not tags.get(REFIT_TAG):
        try:
            holdout = snapshot_registry.get(db, str(tags[HOLDOUT_TAG]))
        except NotFound:
            holdout = None
        if holdout is not None and usable(holdout, target):
            return Plan("retrain holdout", holdout, target)
    suite = policy.gate_suite()
    if suite is not None:
        for ref in suite.snapshots:
            try:
                snapshot = snapshot_registry.get(db, ref)
            except NotFound:
                continue
            if usable(snapshot, suite.target):
                return Plan("evaluation holdout", snapshot, suite.target)
    if target is not None and target in reference.schema and reference.sha256 in seen:
        return Plan("out-of-fold", reference, target)
    if target is None:
        return Plan("none", note=f"the reference has no label column; {NAME_ONE}")
    return Plan("none", note=f"no labelled rows the model did not train on; {NAME_ONE}")


def collect(
    plan: Plan,
    *,
    artifacts: ArtifactStore,
    model: LoadedModel,
    version: ModelVersion,
    policy: Policy,
    frame: pd.DataFrame,
    sample: pd.DataFrame,
    outputs: tuple[np.ndarray, np.ndarray | None, list[Any]],
    features: list[str],
    sample_rows: int,
) -> HeldOut:
    """The held-out rows ``plan`` names, scored. ``frame`` is the reference snapshot with the
    version's training types, ``sample`` the rows of it the model scored, as ``outputs``."""
    from keel.monitoring.scoring import model_outputs, typed_like_training
    from keel.registry import snapshots as snapshot_registry

    prediction, score, classes = outputs
    if plan.source == "none" or plan.target is None:
        return HeldOut("none", note=plan.note)
    shown = plan.snapshot.ref if plan.snapshot is not None else None
    if plan.source == "reference":
        truth = sample[plan.target].to_numpy()
        return _labelled(
            HeldOut(
                plan.source, shown, truth, np.asarray(prediction), score, inputs=sample[features]
            )
        )
    if plan.source == "out-of-fold":
        return _out_of_fold(
            model, version, policy, frame, sample, classes, features, plan.target, shown
        )
    assert plan.snapshot is not None
    other = snapshot_registry.load_frame(artifacts, plan.snapshot)
    other = typed_like_training(version, other, features)
    other = other.sample(n=min(len(other), sample_rows), random_state=0)
    try:
        found, found_score, found_classes = model_outputs(model, other[features])
    except KeelError:
        raise
    except Exception as exc:  # the model's own code: say so as a Keel error, like the reference
        from keel.errors import ModelFailed

        raise ModelFailed(
            version.name, version.version, exc, during=f"scoring its held-out data {shown}"
        ) from exc
    if found_classes != classes:
        return HeldOut("none", note=f"{shown} gave other classes than the reference")
    truth = other[plan.target].to_numpy()
    return _labelled(
        HeldOut(plan.source, shown, truth, np.asarray(found), found_score, inputs=other[features])
    )


def _labelled(held: HeldOut) -> HeldOut:
    """Only the rows that have a label."""
    from keel.monitoring.estimation import _missing

    assert held.truth is not None and held.prediction is not None
    keep = ~_missing(np.asarray(held.truth, dtype=object))
    if keep.all():
        return held
    held.truth, held.prediction = held.truth[keep], held.prediction[keep]
    if held.score is not None:
        held.score = held.score[keep]
    if held.inputs is not None:
        held.inputs = held.inputs[keep]
    return held


def _refit(
    model: LoadedModel, policy: Policy, rows: pd.DataFrame, features: list[str], target: str
) -> Any:
    """A fresh fit of the version's estimator (or the policy's trainer) on ``rows``."""
    if policy.retraining.trainer:
        import importlib

        module, _, name = policy.retraining.trainer.partition(":")
        trainer = getattr(importlib.import_module(module), name)
        return trainer(rows[[*features, target]], target)
    from keel.registry.flavours import unfitted

    fresh = unfitted(model.model)
    fresh.fit(model.typed(rows[features]), rows[target].to_numpy())
    return fresh


def _out_of_fold(
    model: LoadedModel,
    version: ModelVersion,
    policy: Policy,
    frame: pd.DataFrame,
    sample: pd.DataFrame,
    classes: list[Any],
    features: list[str],
    target: str,
    shown: str | None,
) -> HeldOut:
    """``FOLDS`` refits, each scoring the sampled rows of its fold after learning from the rest."""
    from threadpoolctl import threadpool_limits

    labelled = sample[sample[target].notna()]
    if len(labelled) < 2 * FOLDS:
        return HeldOut("none", note=f"too few labelled rows for {FOLDS} folds; {NAME_ONE}")
    rng = np.random.default_rng(0)
    fold_of = rng.permutation(np.arange(len(labelled)) % FOLDS)
    # one BLAS thread: small refits (a logistic regression on a few thousand rows) run 30x
    # slower with threads fighting over a busy machine's cores; tree libraries use OpenMP
    with threadpool_limits(limits=1, user_api="blas"):
        return _folds(
            model, version, policy, frame, labelled, fold_of, classes, features, target, shown
        )


def _folds(
    model: LoadedModel,
    version: ModelVersion,
    policy: Policy,
    frame: pd.DataFrame,
    labelled: pd.DataFrame,
    fold_of: np.ndarray,
    classes: list[Any],
    features: list[str],
    target: str,
    shown: str | None,
) -> HeldOut:
    import pandas as pd

    from keel.monitoring.scoring import model_outputs
    from keel.registry.loaded import LoadedModel

    truth, predictions, scores, inputs = [], [], [], []
    for fold in range(FOLDS):
        scored = labelled[fold_of == fold]
        rest = frame.drop(index=scored.index)
        rest = rest[rest[target].notna()]
        if len(rest) > REFIT_ROWS:
            rest = rest.sample(n=REFIT_ROWS, random_state=fold)
        try:
            fitted = _refit(model, policy, rest, features, target)
            prediction, score, found = model_outputs(LoadedModel(fitted, version), scored[features])
        except Exception as exc:  # any failure of a refit means: no out-of-fold scores
            why = f"{type(exc).__name__}: {exc}"[:300]
            return HeldOut("none", note=f"the model could not be refit ({why}); {NAME_ONE}")
        if found != classes or score is None:
            return HeldOut("none", note=f"a refit on a fold gave other classes; {NAME_ONE}")
        truth.append(scored[target].to_numpy())
        inputs.append(scored[features])
        predictions.append(np.asarray(prediction))
        scores.append(score)
    return HeldOut(
        "out-of-fold",
        shown,
        np.concatenate(truth),
        np.concatenate(predictions),
        np.concatenate(scores),
        folds=FOLDS,
        note=f"{FOLDS} refits on the training snapshot, each scoring the rows it left out",
        inputs=pd.concat(inputs),
    )
