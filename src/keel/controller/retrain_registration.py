"""The retraining pipeline's ``registered`` step: the candidate as a new version, once per
retrain, saved in its champion's format and trust, with the champion's input contract widened."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from keel.controller.handover import Registered
from keel.controller.retrain_context import opened
from keel.controller.retrain_fitting import chosen_setup
from keel.domain.names import ModelRef
from keel.domain.retraining import HOLDOUT_TAG, RETRAIN_TAG, SETUP_TAG, TrainingSetup
from keel.domain.trust import TrustRecord
from keel.errors import Conflict
from keel.pipelines.step import StepContext, step
from keel.registry.conversion import CONVERTED_FROM
from keel.services import Services

if TYPE_CHECKING:
    from keel.controller.training_window_parts import ChosenSetup, TrainingWindow
    from keel.domain.entities import ModelVersion
    from keel.domain.signature import Signature

__all__ = ["registered"]


@step(cache=False)
def registered(
    context: StepContext,
    candidate: Any,
    training_window: TrainingWindow,
    model: str,
    champion: int,
    retrain: int,
    trigger: str,
    setup: ChosenSetup | None = None,
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
                    **setup_tags(chosen_setup(setup)),
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


def setup_tags(setup: TrainingSetup | None) -> dict[str, str]:
    """The training setup a retrain chose, as the version's tag (none when it did not choose)."""
    return {SETUP_TAG: setup.name} if setup is not None else {}


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
