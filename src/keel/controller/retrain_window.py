"""The retraining pipeline's ``training_window`` step: the newest labelled production rows,
topped up from the original training snapshot, with the newest share held back for the gates."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from keel.controller.retrain_context import opened, run_policy, target_of
from keel.domain.names import ModelRef
from keel.errors import InvalidInput
from keel.pipelines.step import StepContext, step
from keel.services import Services

if TYPE_CHECKING:
    from keel.controller.training_window_parts import TrainingWindow
    from keel.domain.entities import ModelVersion
    from keel.domain.signature import Signature

__all__ = ["newest_labelled", "training_window"]


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
            joined = newest_labelled(log, labels, moment, spec.recent_rows)
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


def newest_labelled(
    log: pd.DataFrame, labels: pd.DataFrame, moment: pd.Timestamp, rows: int
) -> pd.DataFrame:
    """The newest ``rows`` predictions served without error whose label had arrived by
    ``moment``, oldest first, with their ``label``: a window's production rows (the novelty
    guard asks which of them a champion saw, so both read them here)."""
    known = labels[pd.to_datetime(labels["labelled_at"], utc=True) <= moment]
    joined = log.merge(known[["request_id", "label"]], on="request_id", how="inner")
    joined = joined[joined["status"].fillna("ok") == "ok"] if "status" in joined else joined
    return joined.sort_values("timestamp").tail(rows)


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
