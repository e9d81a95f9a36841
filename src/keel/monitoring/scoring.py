"""Running a version's model on reference rows as Keel logs its outputs: predictions, the score
(P(classes[1]) for two classes, else the top-class probability) and the classes, with the rows
given the version's training types first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from keel.domain.entities import ModelVersion

if TYPE_CHECKING:
    import pandas as pd

    from keel.registry.loaded import LoadedModel

__all__ = ["model_outputs", "typed_like_training"]


def typed_like_training(
    version: ModelVersion, frame: pd.DataFrame, features: list[str]
) -> pd.DataFrame:
    """The snapshot's features with the version's training types: Parquet keeps int categories
    as plain ints, which drift would then test as numbers against the log's category labels."""
    from keel.registry.frames import restore_types

    assert version.signature is not None
    typed = restore_types(version.signature.only(features), frame)
    return frame.assign(**{name: typed[name] for name in typed.columns})


def model_outputs(
    model: LoadedModel, frame: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray | None, list[Any]]:
    """Predictions, scores (P(classes[1]) for two classes, else the top-class probability) and
    the classes (empty for regression), as Keel logs them.

    The rows are not checked (a reference or a replay scores what it was given), but a
    ``LoadedModel`` still rebuilds its training dtypes from them (categories from their labels,
    ints logged as floats), so a model trained on pandas categories scores them as it would
    have in training."""
    prediction = np.asarray(model.predict(frame, validate=False))
    native = getattr(model, "model", model)
    classes = getattr(native, "classes_", None)
    if classes is None or not hasattr(native, "predict_proba"):
        return prediction, None, []
    proba = np.asarray(model.predict_proba(frame, validate=False), dtype="float64")
    score = proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)
    return prediction, score, [c.item() if hasattr(c, "item") else c for c in classes]
