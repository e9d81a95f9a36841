"""The retraining pipeline's ``candidate`` step and the fit it shares with the refit: the
policy's trainer, or the champion's own estimator (or an ONNX champion's source) refit, with
recency weights when the policy asks for them."""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from keel.controller.retrain_context import opened, run_policy
from keel.controller.setup_selection import Fit, fit_setup
from keel.domain.names import ModelRef
from keel.domain.policy import Policy
from keel.domain.retraining import TrainingSetup
from keel.errors import InvalidInput
from keel.pipelines.step import StepContext, step
from keel.registry.conversion import CONVERTED_FROM
from keel.services import Services

if TYPE_CHECKING:
    from keel.controller.training_window_parts import ChosenSetup, TrainingWindow
    from keel.registry.loaded import LoadedModel

__all__ = ["candidate", "chosen_setup", "fitter", "recency_weights"]


@step
def candidate(
    context: StepContext,
    training_window: TrainingWindow,
    model: str,
    champion: int,
    policy: dict[str, Any] | None = None,
    setup: ChosenSetup | None = None,
) -> Any:
    """The model the gates judge. With a chosen ``setup`` (the ``setup`` step's): that setup on
    the training rows, or, when the policy refits the blessed candidate on everything anyway,
    the winner the choice already fit on the rows before its validation share (no extra fit)."""
    with opened(context) as services:
        rules = run_policy(services, model, policy)
        chosen = chosen_setup(setup)
        refits = rules.retraining.training.refit
        if chosen is not None and refits and setup and setup.get("model") is not None:
            return setup["model"]
        return _fit(
            services, rules, model, champion, training_window["train"], training_window, chosen
        )


def chosen_setup(setup: ChosenSetup | None) -> TrainingSetup | None:
    """The setup the ``setup`` step chose (None when the retrain did not choose)."""
    selection = setup.get("selection") if setup else None
    if not selection:
        return None
    return TrainingSetup.model_validate({**selection["setup"], "name": selection["chosen"]})


def _fit(
    services: Services,
    policy: Policy,
    model: str,
    champion: int,
    train: pd.DataFrame,
    window: TrainingWindow,
    setup: TrainingSetup | None = None,
) -> Any:
    """``setup`` (else the policy's one setup: all rows, ``recency_half_life``) fit on ``train``."""
    fit = fitter(services, policy, model, champion, window)
    if setup is not None:
        return fit_setup(train, fit, setup)
    return fit(train, recency_weights(len(train), policy.retraining.training.recency_half_life))


def fitter(
    services: Services, policy: Policy, model: str, champion: int, window: TrainingWindow
) -> Fit:
    """A function fitting a fresh model on rows (with optional weights): the policy's trainer,
    else the champion's estimator copied and refit (an ONNX champion's source, converted)."""
    target, features = window["target"], window["features"]
    if policy.retraining.trainer:
        module, _, name = policy.retraining.trainer.partition(":")
        trainer = getattr(importlib.import_module(module), name)

        def by_trainer(rows: pd.DataFrame, weights: np.ndarray | None) -> Any:
            if weights is None:
                return trainer(rows, target)
            if "sample_weight" not in inspect.signature(trainer).parameters:
                raise InvalidInput(
                    "retraining.training.recency_half_life",
                    f"the trainer {policy.retraining.trainer} takes no sample_weight argument",
                )
            return trainer(rows, target, sample_weight=weights)

        return by_trainer
    from keel.registry.flavours import unfitted

    loaded = services.registry.load_model(ModelRef(model, version=champion))
    source = loaded.version.tags.get(CONVERTED_FROM)

    def by_champion(rows: pd.DataFrame, weights: np.ndarray | None) -> Any:
        if source and loaded.version.flavour == "onnx":
            return _refit_converted(services, loaded, str(source), rows, window, weights)
        fitted = unfitted(loaded.model)  # the flavour's copy: CatBoost, say, refuses clone
        fitted.fit(rows[features], rows[target].to_numpy(), **_weight_argument(fitted, weights))
        return fitted

    return by_champion


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
