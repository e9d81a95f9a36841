"""The retraining pipeline's ``setup`` step: which training setup this retrain uses, chosen by
validation on the newest training rows (``keel.controller.setup_selection``), with every
candidate's score, so the retrain's record can say what was tried and why one won."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from keel.controller.retrain_context import opened, run_policy
from keel.controller.retrain_fitting import fitter
from keel.controller.setup_selection import Score, select_setup
from keel.domain.names import ModelRef
from keel.pipelines.step import StepContext, step

if TYPE_CHECKING:
    from keel.controller.training_window_parts import ChosenSetup, TrainingWindow

__all__ = ["setup"]


@step
def setup(
    context: StepContext,
    training_window: TrainingWindow,
    model: str,
    champion: int,
    policy: dict[str, Any] | None = None,
) -> ChosenSetup:
    with opened(context) as services:
        rules = run_policy(services, model, policy)
        training = rules.retraining.training
        if not training.selecting:
            return {"selection": None, "model": None}
        choice = training.choice
        champion_model = services.registry.load_model(ModelRef(model, version=champion))
        metric, score = _scorer(training_window, classes=champion_model.classes_ is not None)
        chosen = select_setup(
            training_window["train"],
            fitter(services, rules, model, champion, training_window),
            score,
            choice.setups,
            validation=choice.validation,
            budget=choice.budget,
            metric=metric,
        )
        return {"selection": chosen.to_dict(), "model": chosen.model}


def _scorer(window: TrainingWindow, *, classes: bool) -> tuple[str, Score]:
    """The metric a setup is scored by, as a score where higher is better: accuracy for a
    classifier (the champion has classes, as the gate tells them), else the root mean squared
    error, negated (an integer label can be a count to regress, not a class)."""
    target, features = window["target"], window["features"]

    def score(model: Any, rows: pd.DataFrame) -> float:
        predicted = np.asarray(model.predict(rows[features]))
        truth = rows[target].to_numpy()
        if classes:
            return float(np.mean(predicted == truth))
        errors = predicted.astype(float) - truth.astype(float)
        return -float(np.sqrt(np.mean(errors**2)))

    return ("accuracy" if classes else "-rmse"), score
