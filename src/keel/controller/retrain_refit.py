"""The retraining pipeline's ``refitted`` step: the gated version unchanged, or its refit on the
training rows and the holdout together, blessed by proxy (see :mod:`keel.controller.retraining`
for the trade-off)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pandas as pd

from keel.controller.handover import GateVerdict, Handover, Registered
from keel.controller.retrain_context import opened, run_policy
from keel.controller.retrain_fitting import _fit, chosen_setup
from keel.controller.retrain_registration import (
    _conversion_tags,
    _same_format_and_trust,
    setup_tags,
)
from keel.domain.names import ModelRef
from keel.domain.retraining import HOLDOUT_TAG, REFIT_TAG, RETRAIN_TAG
from keel.pipelines.step import StepContext, step

if TYPE_CHECKING:
    from keel.controller.training_window_parts import ChosenSetup, TrainingWindow

__all__ = ["refitted"]


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
    setup: ChosenSetup | None = None,
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
            chosen = chosen_setup(setup)
            fitted = _fit(services, rules, model, champion, every, window, chosen)
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
                    **_conversion_tags(gated_version),
                    **setup_tags(chosen),
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
