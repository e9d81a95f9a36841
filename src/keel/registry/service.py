"""``Registry``: the service that owns versions, aliases, snapshots, runs and lineage, over one
``Stores``. Every door (SDK, CLI, management API, dashboard) records and reads them through
these methods; each change is written to the audit trail, which ``AuditTrail``
(``keel.registry.audit_service``) reads and proves.

>>> from keel.registry.service import model_ref
>>> model_ref("models:/fraud@champion").alias
'champion'
>>> model_ref("fraud", 3).version
3
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.domain.entities import (
    AliasMove,
    AliasPeriod,
    Lineage,
    MetricPoint,
    Model,
    ModelVersion,
    RunRecord,
    Snapshot,
)
from keel.domain.names import ModelRef, parse_model_ref, validate_version
from keel.domain.signature import Signature
from keel.domain.trust import TrustRecord, parse_trust
from keel.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

    from keel.domain.deployments import ServingPlan
    from keel.registry.conversion import Conversion
    from keel.registry.loaded import LoadedModel
    from keel.registry.runs import Run
    from keel.stores import Stores

__all__ = ["Registry", "model_ref"]


def model_ref(ref: str | ModelRef, version: int | None = None) -> ModelRef:
    """A reference from ``"fraud/3"``, ``"models:/fraud@champion"``, or a name and a number."""
    if isinstance(ref, ModelRef):
        return ref
    if version is not None:
        return ModelRef(parse_model_ref(ref).name, version=validate_version(version))
    return parse_model_ref(ref)


class Registry:
    """Versions and what they were made from; every change audited with ``stores.actor``."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    # -- data snapshots -----------------------------------------------------------------------
    def register_snapshot(
        self,
        data: pd.DataFrame | str | Path,
        name: str,
        *,
        description: str = "",
        tags: dict[str, Any] | None = None,
    ) -> Snapshot:
        """Store ``data`` once as Parquet; the same data and name give the same snapshot."""
        from keel.registry import snapshots

        return snapshots.register(
            self.stores.db,
            self.stores.artifacts,
            self.stores.actor,
            data,
            name,
            description=description,
            tags=tags,
        )

    def get_snapshot(self, ref: str) -> Snapshot:
        """``NAME`` (newest), ``NAME/VERSION`` or ``sha256:PREFIX``."""
        from keel.registry import snapshots

        return snapshots.get(self.stores.db, ref)

    def list_snapshots(self, name: str | None = None) -> list[Snapshot]:
        from keel.registry import snapshots

        return snapshots.list_all(self.stores.db, name)

    def load_snapshot(self, ref: str | Snapshot) -> pd.DataFrame:
        from keel.registry import snapshots

        snapshot = ref if isinstance(ref, Snapshot) else self.get_snapshot(ref)
        return snapshots.load_frame(self.stores.artifacts, snapshot)

    # -- runs ---------------------------------------------------------------------------------
    def start_run(
        self, name: str, *, params: dict[str, Any] | None = None, tags: dict[str, Any] | None = None
    ) -> Run:
        from keel.registry import runs

        return runs.start(self.stores.db, self.stores.actor, name, params=params, tags=tags)

    def get_run(self, run_id: str) -> RunRecord:
        from keel.registry import runs

        return runs.get(self.stores.db, run_id)

    def list_runs(self, name: str | None = None, limit: int = 50) -> list[RunRecord]:
        from keel.registry import runs
        from keel.registry.models import positive_limit

        return runs.list_recent(self.stores.db, name, positive_limit(limit))

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        from keel.registry import runs

        return runs.metric_history(self.stores.db, run_id, key)

    # -- model versions -----------------------------------------------------------------------
    def register_model(
        self,
        name: str,
        model: Any,
        *,
        training_data: Snapshot | pd.DataFrame | str | Path | None = None,
        target: str | None = None,
        features: list[str] | None = None,
        signature: Signature | dict[str, Any] | None = None,
        input_example: pd.DataFrame | None = None,
        params: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
        description: str = "",
        parent: int | str | None = None,
        run: Run | None = None,
        retrain_id: int | None = None,
        format: str | None = None,
        trust: str | list[str] | TrustRecord | None = None,
    ) -> ModelVersion:
        """Register a new immutable version of ``name``.

        A model whose file needs more than the default trusted types is refused unless
        ``trust`` names them (``trust=["mylib.Scaler"]``); one saved with cloudpickle (anything
        that is not scikit-learn) runs code while loading, so it needs ``trust="code"``. The
        decision is recorded with the version (who, when, what) and audited.

        ``training_data`` is a Snapshot, a snapshot reference (``"credit-train/2"``), or data
        (DataFrame, Parquet or CSV path) that is registered as snapshot ``<name>-train`` first.
        The signature is inferred from the training data (``features`` or the model's
        ``feature_names_in_``, else every column but ``target``) unless given.

        ``retrain_id`` is set by the retraining pipeline: a retrain registers one version,
        and a second registration for the same retrain is refused (Conflict).
        """
        from keel.registry import models
        from keel.registry.runs import active_run

        snapshot, frame = self._training_snapshot(name, training_data)
        chosen = self._signature(model, snapshot, frame, target, features, signature, input_example)
        current = run if run is not None else active_run()
        if current is not None and snapshot is not None:
            current.log_input(snapshot, "train")
        return models.register(
            self.stores.db,
            self.stores.artifacts,
            self.stores.actor,
            name,
            model,
            training_snapshot=snapshot,
            signature=chosen,
            params=params,
            metrics=metrics,
            tags=tags,
            description=description,
            parent=self._parent_number(name, parent),
            run_id=current.id if current is not None else None,
            retrain_id=retrain_id,
            format=format,
            trust=trust if isinstance(trust, TrustRecord) else parse_trust(trust),
        )

    def _training_snapshot(
        self, name: str, data: Snapshot | pd.DataFrame | str | Path | None
    ) -> tuple[Snapshot | None, pd.DataFrame | None]:
        if data is None or isinstance(data, Snapshot):
            return data, None
        if isinstance(data, str) and not data.lower().endswith((".csv", ".parquet", ".pq")):
            return self.get_snapshot(data), None
        from keel.registry.snapshots import read_data

        frame, _ = read_data(data, "training_data")
        return self.register_snapshot(frame, f"{name}-train"), frame

    @staticmethod
    def _signature(
        model: Any,
        snapshot: Snapshot | None,
        frame: pd.DataFrame | None,
        target: str | None,
        features: list[str] | None,
        signature: Signature | dict[str, Any] | None,
        input_example: pd.DataFrame | None,
    ) -> Signature | None:
        from keel.registry.signatures import infer_signature, signature_from_profile

        if isinstance(signature, Signature):
            return signature
        if isinstance(signature, dict):
            try:
                return Signature.from_dict(signature)
            except (KeyError, TypeError) as exc:
                raise InvalidInput("signature", f"malformed signature: {exc}") from exc
        if features is None and hasattr(model, "feature_names_in_"):
            features = [str(f) for f in model.feature_names_in_]
        if input_example is not None:
            return infer_signature(input_example, features)
        if snapshot is None:
            return None
        if features is None:
            features = [c for c in snapshot.schema if c != target]
            expected = getattr(model, "n_features_in_", None)
            if expected is not None and expected != len(features):
                raise InvalidInput(
                    "features",
                    f"the model takes {expected} features but the training data has "
                    f"{len(features)} columns besides the target; "
                    "pass target=... or features=[...]",
                )
        if frame is not None:
            return infer_signature(frame, features)
        return signature_from_profile(snapshot.profile, features)

    def _parent_number(self, name: str, parent: int | str | None) -> int | None:
        if parent is None:
            return None
        if isinstance(parent, str) and not parent.isdigit():
            ref = parse_model_ref(parent, "parent")
            if ref.name != name:
                raise InvalidInput("parent", f"a parent must be a version of {name}, got {parent}")
            return self.get_version(ref).version
        return validate_version(parent, "parent")

    def get_version(self, ref: str | ModelRef, version: int | None = None) -> ModelVersion:
        """The full record of ``"fraud/3"``, ``"models:/fraud@champion"`` or name + number."""
        from keel.registry import models

        return models.resolve(self.stores.db, model_ref(ref, version))

    def list_models(self) -> list[Model]:
        from keel.registry import listings

        return listings.list_models(self.stores.db)

    def known_models(self, names: list[str], field: str = "models") -> list[str]:
        """``names`` checked: each a registered model (NotFound names the first that is not),
        so a command about named models never quietly does nothing."""
        from keel.registry import models

        return models.known_models(self.stores.db, names, field)

    def serving_plans(self) -> dict[str, ServingPlan]:
        """How every model with a champion or a running deployment is served right now."""
        from keel.registry import deployments

        return deployments.serving_plans(self.stores.db)

    def get_model(self, name: str) -> Model:
        """One model with its description, newest version number and aliases."""
        from keel.registry.model_lookup import get_model

        return get_model(self.stores.db, name)

    def list_versions(
        self,
        name: str,
        *,
        filter: str = "",
        status: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[ModelVersion]:
        """Newest first; ``filter`` like ``"metrics.auc > 0.8 and tags.team = 'risk'"``."""
        from keel.registry import listings

        return listings.list_versions(
            self.stores.db, name, filter=filter, status=status, limit=limit, offset=offset
        )

    def archive_version(self, ref: str, reason: str = "") -> ModelVersion:
        from keel.registry import models

        return models.archive(self.stores.db, self.stores.actor, model_ref(ref), reason)

    def load_model(self, ref: str | ModelRef) -> LoadedModel:
        """Load ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS``, verifying the artifact hash.

        Loads only what the version's recorded trust covers (see ``trust_version``)."""
        from keel.registry.loading import load

        return load(self.stores.db, self.stores.artifacts, model_ref(ref))

    def convert_model(
        self,
        ref: str | ModelRef,
        *,
        to: str = "onnx",
        tolerance: float = 1e-4,
        max_rows: int | None = 10_000,
    ) -> Conversion:
        """Convert a scikit-learn, LightGBM or XGBoost version to ONNX and register it as the
        next version of the same model (parent: the original), only if its predictions on the
        original's training snapshot (at most ``max_rows`` rows) are within ``tolerance`` of the
        original's; ConversionMismatch otherwise, and nothing is registered."""
        from keel.registry.conversion import convert

        return convert(
            self.stores.db,
            self.stores.artifacts,
            self.stores.actor,
            model_ref(ref),
            to=to,
            tolerance=tolerance,
            max_rows=max_rows,
        )

    def trust_version(
        self,
        ref: str | ModelRef,
        *,
        types: list[str] | None = None,
        code: bool = False,
        reason: str,
    ) -> TrustRecord | None:
        """Record that you trust a stored version's extra ``types`` (or, for a pickled model,
        its ``code``); every later load of it honours this, and the decision is audited."""
        from keel.registry.version_trust import trust_version

        target = model_ref(ref)
        return trust_version(
            self.stores.db,
            self.stores.artifacts,
            self.stores.actor,
            target,
            types=types,
            code=code,
            reason=reason,
        )

    # -- aliases ------------------------------------------------------------------------------
    def set_alias(
        self, name: str, alias: str, version: int, *, reason: str = "", force: bool = False
    ) -> ModelVersion:
        """Move ``alias``; moving ``champion`` obeys the model's policy unless ``force``d with a
        reason (the override is audited)."""
        from keel.registry import aliases

        return aliases.set_alias(
            self.stores.db, self.stores.actor, name, alias, version, reason, force=force
        )

    def delete_alias(self, name: str, alias: str, *, reason: str = "") -> None:
        from keel.registry import aliases

        aliases.delete_alias(self.stores.db, self.stores.actor, name, alias, reason)

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        from keel.registry import aliases

        return aliases.history(self.stores.db, name, alias)

    def alias_periods(self, name: str, alias: str | None = None) -> list[AliasPeriod]:
        from keel.registry import aliases

        return aliases.periods(aliases.history(self.stores.db, name, alias))

    # -- lineage ------------------------------------------------------------------------------
    def lineage(
        self, ref: str | ModelRef, version: int | None = None, *, max_ancestors: int | None = None
    ) -> Lineage:
        """``max_ancestors``: keep at most that many parents, nearest first (a page showing the
        parent needs one, not a long retraining chain)."""
        from keel.registry.lineage import lineage

        if max_ancestors is None:
            return lineage(self.stores.db, model_ref(ref, version))
        return lineage(self.stores.db, model_ref(ref, version), max_ancestors=max_ancestors)
