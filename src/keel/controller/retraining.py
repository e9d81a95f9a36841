"""The standard retraining pipeline: training window -> candidate -> registered -> gate ->
refitted.

- ``training_window``: the newest labelled production rows (labels that had arrived by the
  retrain's time), topped up from the original training snapshot as the policy says; the newest
  ``holdout`` share is kept back, so the gates judge the candidate (and the champion, for the
  comparative gates) on the most recent data; both parts carry the champion's training types
  (the log keeps categories as text), a category it never saw appended as a new one;
- ``candidate``: the policy's trainer (``module:function`` taking the training frame and the
  target), or else the champion's own estimator cloned and refit (any scikit-learn model);
- ``registered``: a new version with its training and holdout snapshots as lineage, carrying
  the retrain's id, which the store keeps unique: a resumed run, or one that was paused past its
  lease while another controller took the retrain over and registered, uses the version already
  registered for the retrain, never a second;
- ``gate``: the policy's gates on the holdout; a rejection is an outcome, not a failure;
- ``refitted`` (``standard_pipeline(refit=True)``, which the autopilot runs when the policy's
  ``training.refit`` is on): the version to deploy. With ``training.refit`` false it hands the
  gated version on unchanged. With it true and the candidate blessed, the same trainer is fit
  again on the training rows and the holdout together and registered as a version of its own
  (tagged ``refit_of`` the gated one, which stays registered, archived); it carries the gated
  twin's verdict, checks and evaluation as its gate result, with a reason saying so. The
  trade-off: the shipped model learns from the newest rows, the ones most like what it will
  serve, but its blessing is by proxy (no gate saw it on data it had not trained on); the
  rollout's own analysis is then the first judge of the shipped model itself.

Every step follows the policy the autopilot's pass read, handed to the run as its ``policy``
parameter (the policy's dict, recorded with the run's parameters, so lineage shows which policy
trained the model), not the stored one: a step may run on another worker, and one pass reads the
stored policy once. A run started without it (before runs carried their policy) reads the
stored policy, as it did then.

Deploying is the controller's job, so the pipeline stays free of rollout concerns.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from keel.controller.handover import GateVerdict, Handover, Registered
from keel.domain.names import ModelRef
from keel.domain.policy import Policy, Suite
from keel.domain.retraining import HOLDOUT_TAG, REFIT_TAG, RETRAIN_TAG
from keel.domain.trust import TrustRecord
from keel.errors import Conflict, InvalidInput
from keel.pipelines.pipeline import Pipeline
from keel.pipelines.step import StepContext, step
from keel.registry.conversion import CONVERTED_FROM
from keel.services import Services
from keel.stores import Stores

if TYPE_CHECKING:
    from keel.controller.training_window_parts import TrainingWindow
    from keel.domain.entities import ModelVersion
    from keel.domain.signature import Signature
    from keel.evaluation.gates import GateOutcome
    from keel.registry.loaded import LoadedModel

__all__ = ["standard_pipeline", "target_of"]


@contextlib.contextmanager
def opened(context: StepContext) -> Iterator[Services]:
    """The services over the run's stores, opened where the step runs (a thread, a process
    or a Ray worker) and closed when it is done: a step receives settings, never objects."""
    stores = Stores.open(context.settings())
    try:
        yield Services.over(stores)
    finally:
        stores.close()


def target_of(policy: Policy) -> str:
    suite = policy.gate_suite()
    target = policy.monitoring.target or (suite.target if suite is not None else None)
    if target is None:
        raise InvalidInput(
            "monitoring.target", "a retrain needs the label column: set monitoring.target"
        )
    return target


def run_policy(services: Services, model: str, policy: dict[str, Any] | None) -> Policy:
    """The policy a step follows: the one the run was started with (``policy``, its dict, a run
    parameter, so every step of a pass follows the policy the pass read, wherever it runs, and
    the run's record says which policy trained the model); the stored one only for a run
    started without it, before runs carried their policy."""
    if policy is not None:
        return Policy.parse(policy, "params.policy")
    return services.governance.get_policy(model) or Policy()


@step
def training_window(
    context: StepContext,
    model: str,
    champion: int,
    now: str,
    policy: dict[str, Any] | None = None,
) -> TrainingWindow:
    from keel.monitoring.labelling import read_labels
    from keel.registry.predictions import read_log

    with opened(context) as services:
        rules = run_policy(services, model, policy)
        target = target_of(rules)
        spec = rules.retraining.training
        version = services.registry.get_version(ModelRef(model, version=champion))
        features = _feature_names(version)
        if not features:
            raise InvalidInput("model", f"{version.ref} has no input signature to retrain on")
        moment = pd.Timestamp(datetime.fromisoformat(now))
        log = read_log(services.stores.logs, "predictions", model).to_pandas()
        labels = read_labels(services.stores.logs, model, arrival=True)
        recent = pd.DataFrame(columns=[*features, target])
        if not log.empty and not labels.empty:
            known = labels[pd.to_datetime(labels["labelled_at"], utc=True) <= moment]
            joined = log.merge(known[["request_id", "label"]], on="request_id", how="inner")
            joined = joined[joined["status"].fillna("ok") == "ok"] if "status" in joined else joined
            joined = joined.sort_values("timestamp").tail(spec.recent_rows)
            recent = joined[features].assign(**{target: joined["label"].to_numpy()})
        original = pd.DataFrame(columns=[*features, target])
        if spec.include_snapshot != "never" and version.training_snapshot:
            wanted = spec.include_snapshot == "always" or len(recent) < spec.recent_rows
            if wanted:
                first = _first_training_snapshot(services, model, version)
                snap = services.registry.load_snapshot(first)
                original = snap[[*features, target]]
                if spec.include_snapshot == "fill":
                    original = original.tail(spec.recent_rows - len(recent))
        cut = round(len(recent) * spec.holdout)
        if cut >= 50:
            holdout, recent_train = recent.tail(cut), recent.head(len(recent) - cut)
        else:  # too few recent rows to judge on: hold back part of the original instead
            cut = round(len(original) * spec.holdout)
            holdout, original = original.tail(cut), original.head(len(original) - cut)
            recent_train = recent
        parts = [p for p in (original, recent_train) if len(p)]
        train = pd.concat(parts, ignore_index=True).infer_objects() if parts else recent_train
        train, holdout = _typed_window(version.signature, train, holdout.infer_objects())
        dtype = _target_dtype(services, model, version, target)
        train[target] = _as_type(train[target], dtype)
        holdout = holdout.assign(**{target: _as_type(holdout[target], dtype)})
        if len(train) < spec.min_rows:
            raise InvalidInput(
                "retraining.training.min_rows",
                f"only {len(train)} labelled rows to train on; at least {spec.min_rows} needed",
            )
        return {
            "train": train.reset_index(drop=True),
            "holdout": holdout.reset_index(drop=True),
            "target": target,
            "features": features,
            "recent_rows": len(recent_train),
            "snapshot_rows": len(original),
            "holdout_rows": len(holdout),
        }


def _typed_window(
    signature: Signature | None, train: pd.DataFrame, holdout: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The window's features with the champion's training types: the prediction log keeps
    categories as text and ints as floats, and a model trained on pandas categories must be
    refit (and gated, and its snapshots registered) on categories. Values the champion never
    saw are new categories, appended after its own in both parts alike, not missing values."""
    from keel.registry.frames import restore_types, with_new_categories

    if signature is None:  # a version without a signature has no types to restore
        return train, holdout
    rows = len(train)
    both = pd.concat([train, holdout], ignore_index=True)
    typed = restore_types(with_new_categories(signature, both), both)
    both = both.assign(**{name: typed[name] for name in typed.columns})
    return (
        both.iloc[:rows].reset_index(drop=True),
        both.iloc[rows:].reset_index(drop=True),
    )


def _target_dtype(services: Services, model: str, version: ModelVersion, target: str) -> str | None:
    if not version.training_snapshot:
        return None
    snapshot = services.registry.get_snapshot(_first_training_snapshot(services, model, version))
    return snapshot.schema.get(target)


def _as_type(values: pd.Series, dtype: str | None) -> pd.Series:
    """Logged labels arrive as generic values; give them the original target's type."""
    values = values.infer_objects()
    if dtype is not None and str(values.dtype) != dtype:
        # mixed or new label types stay as they are, for the trainer to judge
        with contextlib.suppress(TypeError, ValueError):
            values = values.astype(np.dtype(dtype))
    return values


def _feature_names(version: ModelVersion) -> list[str]:
    return version.signature.feature_names if version.signature is not None else []


def _first_training_snapshot(services: Services, model: str, version: ModelVersion) -> str:
    """The original training data: of the first version in the champion's line of parents."""
    current = version
    while current.parent_version is not None:
        parent = services.registry.get_version(ModelRef(model, version=current.parent_version))
        if not parent.training_snapshot:
            break
        current = parent
    return str(current.training_snapshot)


@step
def candidate(
    context: StepContext,
    training_window: TrainingWindow,
    model: str,
    champion: int,
    policy: dict[str, Any] | None = None,
) -> Any:
    with opened(context) as services:
        rules = run_policy(services, model, policy)
        return _fit(services, rules, model, champion, training_window["train"], training_window)


def _fit(
    services: Services,
    policy: Policy,
    model: str,
    champion: int,
    train: pd.DataFrame,
    window: TrainingWindow,
) -> Any:
    """The policy's trainer on ``train``, else the champion's estimator copied and refit."""
    target, features = window["target"], window["features"]
    weights = recency_weights(len(train), policy.retraining.training.recency_half_life)
    if policy.retraining.trainer:
        module, _, name = policy.retraining.trainer.partition(":")
        trainer = getattr(importlib.import_module(module), name)
        if weights is None:
            return trainer(train, target)
        if "sample_weight" not in inspect.signature(trainer).parameters:
            raise InvalidInput(
                "retraining.training.recency_half_life",
                f"the trainer {policy.retraining.trainer} takes no sample_weight argument",
            )
        return trainer(train, target, sample_weight=weights)
    from keel.registry.flavours import unfitted

    loaded = services.registry.load_model(ModelRef(model, version=champion))
    source = loaded.version.tags.get(CONVERTED_FROM)
    if source and loaded.version.flavour == "onnx":
        return _refit_converted(services, loaded, str(source), train, window, weights)
    fitted = unfitted(loaded.model)  # the flavour's copy: CatBoost, say, refuses sklearn's clone
    fitted.fit(train[features], train[target].to_numpy(), **_weight_argument(fitted, weights))
    return fitted


def _refit_converted(
    services: Services,
    champion: LoadedModel,
    source_ref: str,
    train: pd.DataFrame,
    window: TrainingWindow,
    weights: np.ndarray | None,
) -> Any:
    """An ONNX champion that ``keel models convert`` made from another version cannot be
    refit, but its source can: the source's estimator is refit on the window and converted
    again, and the graph is kept only if it answers like that refit on the window, within the
    tolerance the champion's conversion was held to."""
    from keel.registry.agreement import compare
    from keel.registry.conversion import DEFAULT_TOLERANCE, ConversionMismatch
    from keel.registry.flavours import unfitted
    from keel.registry.to_onnx import to_onnx

    target, features = window["target"], window["features"]
    source = services.registry.load_model(source_ref)
    fitted = unfitted(source.model)
    fitted.fit(train[features], train[target].to_numpy(), **_weight_argument(fitted, weights))
    converted = to_onnx(fitted, source.signature)
    tolerance = float(champion.version.metrics.get("conversion_tolerance", DEFAULT_TOLERANCE))
    agreement = compare(fitted, converted.model, source.typed(train[features]))
    if not agreement.within(tolerance):
        raise ConversionMismatch(
            f"{champion.version.name} (refit of {source_ref})",
            compared=agreement.compared,
            max_abs_diff=agreement.max_abs_diff,
            label_agreement=agreement.label_agreement,
            rows=agreement.rows,
            tolerance=tolerance,
            data="the retrain's training window",
        )
    return converted.model


def recency_weights(rows: int, half_life: int | None) -> np.ndarray | None:
    """Weights for rows ordered oldest to newest: 1 for the newest, halving every
    ``half_life`` rows back (None: no weighting).

    >>> recency_weights(5, 2).round(3).tolist()
    [0.25, 0.354, 0.5, 0.707, 1.0]
    """
    if half_life is None:
        return None
    age = np.arange(rows - 1, -1, -1, dtype=float)
    return np.power(0.5, age / half_life)


def _weight_argument(estimator: Any, weights: np.ndarray | None) -> dict[str, Any]:
    """``sample_weight`` as ``estimator.fit`` takes it (a Pipeline routes it to its last step)."""
    if weights is None:
        return {}
    from sklearn.pipeline import Pipeline

    target, prefix = estimator, ""
    if isinstance(estimator, Pipeline):
        name, target = estimator.steps[-1]
        prefix = f"{name}__"
    if "sample_weight" not in inspect.signature(target.fit).parameters:
        raise InvalidInput(
            "retraining.training.recency_half_life",
            f"{type(target).__name__}.fit takes no sample_weight, so rows cannot be weighted",
        )
    return {f"{prefix}sample_weight": weights}


@step(cache=False)
def registered(
    context: StepContext,
    candidate: Any,
    training_window: TrainingWindow,
    model: str,
    champion: int,
    retrain: int,
    trigger: str,
) -> Registered:
    from keel.registry.models import registered_by_retrain

    with opened(context) as services:
        try:
            mine = registered_by_retrain(services.stores.db, retrain)
            if mine is not None:  # registered before a crash, or by a controller taking over
                return _registered(mine)
            train_snapshot = services.registry.register_snapshot(
                training_window["train"], f"{model}-retrain", tags={RETRAIN_TAG: str(retrain)}
            )
            holdout = services.registry.register_snapshot(
                training_window["holdout"],
                f"{model}-retrain-holdout",  # not MODEL-holdout: a user's suite may name that
                tags={RETRAIN_TAG: str(retrain)},
            )
            current = services.registry.get_version(ModelRef(model, version=champion))
            version = services.registry.register_model(
                model,
                candidate,
                training_data=train_snapshot,
                target=training_window["target"],
                signature=_widened(services, model, champion, training_window),
                retrain_id=retrain,
                **_same_format_and_trust(current),
                tags={
                    RETRAIN_TAG: str(retrain),
                    "pipeline_run": context.run_id,
                    HOLDOUT_TAG: holdout.ref,
                    **_conversion_tags(current),
                },
                description=f"retrained: {trigger}",
                parent=champion,
            )
            return Registered(int(version.version), holdout.ref)
        except Conflict:
            # registered meanwhile by another controller (this one was paused past its lease):
            # the store's unique key refused a second version; use the one the retrain has
            mine = registered_by_retrain(services.stores.db, retrain)
            if mine is None:
                raise
            return _registered(mine)


def _registered(version: ModelVersion) -> Registered:
    return Registered(int(version.version), str(version.tags[HOLDOUT_TAG]))


def _conversion_tags(champion: ModelVersion) -> dict[str, str]:
    """A graph refit through its source keeps naming that source, so the next retrain does too
    (and the tolerance it is held to stays the first conversion's)."""
    source = champion.tags.get(CONVERTED_FROM)
    return {CONVERTED_FROM: str(source)} if source and champion.flavour == "onnx" else {}


def _same_format_and_trust(source: ModelVersion) -> dict[str, Any]:
    """A retrain saves its candidate as its source was saved, under the source's recorded trust:
    the person who trusted the champion's types (or code) trusted the pipeline that remakes it,
    and the record says which version the trust came from."""
    trust = TrustRecord.from_dict(source.trust)
    return {
        "format": source.format,
        "trust": trust.inherited(source.ref) if trust is not None else None,
    }


def _widened(
    services: Services, model: str, champion: int, window: TrainingWindow
) -> Signature | None:
    """The champion's input contract, widened by the new training data: a retrain must not
    start refusing inputs the champion accepted (an open category stays open)."""

    from keel.registry.signatures import infer_signature

    fresh = infer_signature(window["train"], window["features"])
    old = services.registry.get_version(ModelRef(model, version=champion)).signature
    if old is None:
        return fresh
    before = {spec.name: spec for spec in old.inputs}
    merged = []
    for spec in fresh.inputs:
        prior = before.get(spec.name)
        if prior is not None and prior.kind == spec.kind:
            # a pandas category keeps the window's dtype (the champion's categories in order,
            # then new ones), which is what the candidate was fitted on
            if spec.categories is not None and spec.type != "category":
                spec = replace(
                    spec,
                    categories=None
                    if prior.categories is None
                    else tuple(sorted(set(prior.categories) | set(spec.categories))),
                )
            if spec.minimum is not None and prior.minimum is not None:
                spec = replace(spec, minimum=min(spec.minimum, prior.minimum))
            if spec.maximum is not None and prior.maximum is not None:
                spec = replace(spec, maximum=max(spec.maximum, prior.maximum))
        merged.append(spec)
    return replace(fresh, inputs=tuple(merged))


@step(cache=False)
def gate(
    context: StepContext,
    registered: Registered | dict[str, Any],
    model: str,
    policy: dict[str, Any] | None = None,
) -> GateVerdict:
    candidate = Registered.of(registered)
    with opened(context) as services:
        ref = ModelRef(model, version=candidate.version)
        done = services.governance.gate_history(ref)
        if done:  # gated before a crash: keep that verdict
            return GateVerdict(done[-1].verdict, tuple(done[-1].reasons))
        rules = run_policy(services, model, policy)
        outcome = _gate_on_holdout(services, ref, _on_holdout(rules, candidate.holdout))
        return GateVerdict(outcome.verdict, tuple(outcome.reasons))


def _gate_on_holdout(services: Services, ref: ModelRef, rules: Policy) -> GateOutcome:
    """The policy's gates on the retrain's holdout, recorded like any gate run, without storing
    the holdout-pointed policy as the model's (``Governance.gate(policy=...)`` would)."""
    from keel.evaluation.gating import gate_version

    stores = services.stores
    _, outcome = gate_version(stores.db, stores.artifacts, stores.actor, ref, rules)
    return outcome


def _on_holdout(policy: Policy, snapshot: str) -> Policy:
    """The policy with its gate suite pointed at the retrain's fresh holdout."""
    data = policy.to_dict()
    target = target_of(policy)
    name = policy.gate_suite_name() or "retrain"
    suite = policy.gate_suite()
    base = suite.model_dump(mode="json", by_alias=True, exclude_none=True) if suite else {}
    base.update(snapshots=[snapshot], target=target)
    data.setdefault("suites", {})[name] = Suite.model_validate(base).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    data["gates"]["suite"] = name
    return Policy.parse(data)


@step(cache=False)
def refitted(
    context: StepContext,
    gate: GateVerdict | dict[str, Any],
    registered: Registered | dict[str, Any],
    training_window: TrainingWindow,
    model: str,
    champion: int,
    retrain: int,
    policy: dict[str, Any] | None = None,
) -> Handover:
    """The version to deploy and its verdict: the gated version unchanged, or (``refit`` on and
    the candidate blessed) its refit on the training rows plus the holdout, blessed by proxy.

    Idempotent like ``registered``: a resumed run finds the refit it registered before (by its
    ``refit_of`` tag), records its gate result if the crash came before that, and archives the
    gated twin if that had not happened yet.
    """
    candidate, verdict = Registered.of(registered), GateVerdict.of(gate)
    gated = candidate.version
    out = Handover(gated, candidate.holdout, verdict, gated)
    with opened(context) as services:
        rules = run_policy(services, model, policy)
        if not rules.retraining.training.refit or not verdict.blessed:
            return out
        twin = ModelRef(model, version=gated)
        refits = f"tags.{REFIT_TAG} = '{gated}'"
        found = services.registry.list_versions(model, filter=refits, limit=1)
        if found:  # refit before a crash: never a second one
            version = int(found[0].version)
        else:
            window = training_window
            every = pd.concat([window["train"], window["holdout"]], ignore_index=True)
            fitted = _fit(services, rules, model, champion, every, window)
            gated_version = services.registry.get_version(twin)
            snapshot = services.registry.register_snapshot(
                every, f"{model}-refit", tags={RETRAIN_TAG: str(retrain), REFIT_TAG: str(gated)}
            )
            made = services.registry.register_model(
                model,
                fitted,
                training_data=snapshot,
                target=window["target"],
                signature=gated_version.signature,
                **_same_format_and_trust(gated_version),
                tags={
                    RETRAIN_TAG: str(retrain),
                    REFIT_TAG: str(gated),
                    "pipeline_run": context.run_id,
                    HOLDOUT_TAG: candidate.holdout,
                },
                description=f"refit of v{gated} on its training rows and holdout",
                parent=champion,
            )
            version = int(made.version)
        ref = ModelRef(model, version=version)
        reason = (
            f"refit of v{gated} on all rows (its training rows and holdout); v{gated} passed the "
            "gates on the holdout, this model is blessed by proxy"
        )
        if not services.governance.gate_history(ref):
            recorded = services.governance.gate_history(twin)[-1]
            from keel.registry import governance

            governance.record_gate_result(
                services.stores.db,
                services.stores.actor,
                ref,
                verdict=recorded.verdict,
                risk_profile=recorded.risk_profile or rules.risk_profile,
                checks=list(recorded.checks or []),
                reasons=[reason, *(recorded.reasons or [])],
                evaluation_id=recorded.evaluation_id,
            )
        if services.registry.get_version(twin).status != "archived":
            services.registry.archive_version(
                f"{model}/{gated}",
                reason=f"passed the gates; v{version}, its refit on all rows, ships instead",
            )
        proxy = GateVerdict(verdict.verdict, (reason, *verdict.reasons))
        return replace(out, version=version, verdict=proxy)


def standard_pipeline(*, refit: bool = False) -> Pipeline:
    """The retraining pipeline; with ``refit`` it ends with the ``refitted`` step (which passes
    the gated version through unchanged when the policy's ``training.refit`` is false)."""
    steps = [training_window, candidate, registered, gate]
    return Pipeline("retrain", [*steps, refitted] if refit else steps)
