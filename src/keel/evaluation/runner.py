"""Running an evaluation suite: score a version on held-out snapshots, beside naive baselines and
the champion on the same rows, and record the result with the exact snapshots used.

Each model gets the snapshot's features with its own signature's training dtypes
(``LoadedModel.typed``), so a snapshot registered from CSV text still gives a model trained on
pandas categories its categories.

Cost is measured ``cost_runs`` times, interleaved with the champion in the same process
(``keel.evaluation.cost``): ``results["cost"]`` holds the candidate's medians and
``results["cost_detail"]`` the spread, the champion's medians and the candidate/champion ratios.
``results["suite_digest"]`` fingerprints what was asked (the suite and the number of cost runs),
so a later ``keel gate`` can tell a stored evaluation it may reuse.
"""

from __future__ import annotations

import hashlib
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from keel.domain.names import ModelRef
from keel.domain.policy import CLASSIFICATION_METRICS, REGRESSION_METRICS, Suite
from keel.errors import InvalidInput, NotFound
from keel.evaluation import baselines
from keel.evaluation.bootstrap import (
    binary_bootstrap,
    multiclass_bootstrap,
    regression_bootstrap,
)
from keel.evaluation.cost import measure_interleaved
from keel.evaluation.curves import binary_curves
from keel.evaluation.metrics import classification_metrics, regression_metrics
from keel.evaluation.significance import delong, mcnemar
from keel.evaluation.slices import slice_mask
from keel.registry import governance, models, snapshots
from keel.registry.loaded import LoadedModel
from keel.registry.loading import load
from keel.store.artifacts import ArtifactStore
from keel.store.database import Database


@dataclass
class Evaluation:
    """The outcome of one suite on one version; ``results`` is what is stored and reported."""

    model: str
    suite: str
    status: str
    results: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    id: int | None = None
    reused: bool = False  # True: a stored evaluation, not run again (see keel.evaluation.gating)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reused": self.reused,
            "model": self.model,
            "suite": self.suite,
            "status": self.status,
            "error": self.error,
            **self.results,
        }

    def snapshot(self, ref: str | None = None) -> dict[str, Any]:
        """The results of one snapshot (the first when ``ref`` is None)."""
        for item in self.results.get("snapshots", []):
            if ref is None or item["ref"] == ref or item["ref"].split("/")[0] == ref:
                return dict(item)
        raise NotFound("snapshot result", ref or "(first)")


class _PredictFailed(Exception):
    pass


@dataclass
class _Scored:
    pred: np.ndarray
    proba: np.ndarray | None


def _score(model: LoadedModel, features: pd.DataFrame, classification: bool) -> _Scored:
    try:
        pred = np.asarray(model.model.predict(features))
        proba = None
        if classification and callable(getattr(model.model, "predict_proba", None)):
            proba = np.asarray(model.model.predict_proba(features), dtype=float)
    except Exception as exc:  # a model that fails is a failed evaluation, not a crash
        detail = "".join(traceback.format_exception_only(exc)).strip()
        raise _PredictFailed(f"{model.version.ref} failed to predict: {detail}") from exc
    if len(pred) != len(features):
        raise _PredictFailed(
            f"{model.version.ref} returned {len(pred)} predictions for {len(features)} rows"
        )
    return _Scored(pred, proba)


def _features(model: LoadedModel, frame: pd.DataFrame, target: str, where: str) -> list[str]:
    if model.signature is not None:
        names = model.signature.feature_names
    else:
        names = [c for c in frame.columns if c != target]
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise InvalidInput(where, f"lacks the model's features: {', '.join(missing[:10])}")
    return names


def _check_labels(y: np.ndarray, classes: list[Any] | None, where: str) -> None:
    if pd.isna(pd.Series(y)).any():
        raise InvalidInput(where, "the label column has missing values")
    if classes is None:
        if not np.issubdtype(np.asarray(y).dtype, np.number):
            raise InvalidInput(
                where, f"a regression needs numeric labels, got {np.asarray(y).dtype}"
            )
        return
    unknown = sorted({str(v) for v in np.unique(y)} - {str(c) for c in classes})
    if unknown:
        raise InvalidInput(
            where,
            f"labels {unknown[:5]} are not among the model's classes {[str(c) for c in classes]} "
            "(wrong label column or type?)",
        )


def _align_labels(y: np.ndarray, classes: list[Any]) -> np.ndarray:
    """Labels read back from Parquet/CSV may differ in type from the classes (1 vs '1')."""
    wanted = np.asarray(classes).dtype
    if np.asarray(y).dtype.kind == wanted.kind:
        return y
    lookup = {str(c): c for c in classes}
    uniques, inverse = np.unique(np.asarray(y).astype(str), return_inverse=True)
    return np.array([lookup[u] for u in uniques], dtype=wanted)[inverse]


def _metrics(
    y: np.ndarray, scored: _Scored, classes: list[Any] | None, wanted: list[str]
) -> dict[str, Any]:
    if classes is None:
        return regression_metrics(y, scored.pred, wanted)
    return classification_metrics(y, scored.pred, scored.proba, classes, wanted)


def _binary_parts(
    y: np.ndarray, scored: _Scored, classes: list[Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    positive = classes[1]
    truth = (y == positive).astype(int)
    pred = (scored.pred == positive).astype(int)
    scores = scored.proba[:, 1] if scored.proba is not None else None
    return truth, pred, scores


def _compare(
    y: np.ndarray,
    candidate: _Scored,
    champion: _Scored,
    classes: list[Any] | None,
    wanted: list[str],
    suite: Suite,
) -> dict[str, Any]:
    mine = _metrics(y, candidate, classes, wanted)
    theirs = _metrics(y, champion, classes, wanted)
    observed = {
        k: mine[k] - theirs[k]
        for k in mine
        if isinstance(mine.get(k), float) and isinstance(theirs.get(k), float)
    }
    out: dict[str, Any] = {"champion_metrics": theirs, "differences": {}}
    options = {"resamples": suite.resamples, "seed": suite.seed}
    intervals: dict[str, Any] = {}
    if classes is not None and len(classes) == 2:
        truth, pred_a, scores_a = _binary_parts(y, candidate, classes)
        _, pred_b, scores_b = _binary_parts(y, champion, classes)
        if suite.resamples > 0:
            intervals = binary_bootstrap(
                truth, (pred_a, scores_a), (pred_b, scores_b), observed, wanted, **options
            )
        if scores_a is not None and scores_b is not None:
            out["delong"] = delong(truth, scores_a, scores_b).to_dict()
        if scores_b is not None:
            out["champion_curves"] = binary_curves(truth, scores_b)
    elif suite.resamples > 0 and classes is not None:
        intervals = multiclass_bootstrap(
            y,
            candidate.pred,
            champion.pred,
            candidate.proba,
            champion.proba,
            classes,
            observed,
            wanted,
            **options,
        )
    elif suite.resamples > 0 and classes is None:
        intervals = regression_bootstrap(
            y, candidate.pred, champion.pred, observed, wanted, **options
        )
    for metric, difference in observed.items():
        interval = intervals.get(metric)
        out["differences"][metric] = (
            interval.to_dict()
            if interval is not None
            else {"metric": metric, "difference": difference}
        )
    if classes is not None:
        out["mcnemar"] = mcnemar(candidate.pred == y, champion.pred == y).to_dict()
    return out


def _resolve_champion(db: Database, ref: ModelRef, alias: str) -> ModelRef | None:
    try:
        champion = models.resolve(db, ModelRef(ref.name, alias=alias))
    except NotFound:
        return None
    return ModelRef(champion.name, version=champion.version)


def evaluate(
    db: Database,
    artifacts: ArtifactStore,
    actor: str,
    ref: ModelRef,
    suite_name: str,
    suite: Suite,
    *,
    record: bool = True,
    cost_runs: int = 5,
) -> Evaluation:
    """Run ``suite`` on the version ``ref`` points at.

    Bad input (a missing snapshot, label column or feature) raises; a model that fails to
    predict gives a failed evaluation, recorded like any other. ``cost_runs`` is how many
    interleaved runs the cost figures are the median of (the policy's ``gates.cost_runs``).
    """
    candidate = load(db, artifacts, ref)
    version = candidate.version
    exact = ModelRef(version.name, version=version.version)
    champion_ref = _resolve_champion(db, exact, suite.compare_with) if suite.compare_with else None
    if champion_ref == exact:
        champion_ref = None
    champion = load(db, artifacts, champion_ref) if champion_ref is not None else None
    classes = (
        [c.item() if hasattr(c, "item") else c for c in candidate.classes_]
        if candidate.classes_ is not None
        else None
    )
    default = CLASSIFICATION_METRICS if classes is not None else REGRESSION_METRICS
    wanted = [m for m in (suite.metrics or default) if m in default]
    results: dict[str, Any] = {
        "version": version.ref,
        "task": "regression"
        if classes is None
        else ("binary" if len(classes) == 2 else "multiclass"),
        "classes": classes,
        "champion": str(champion_ref) if champion_ref else None,
        "suite_digest": suite_digest(suite, cost_runs),
        "snapshots": [],
    }
    used: list[dict[str, Any]] = []
    first_features: pd.DataFrame | None = None
    champion_features: pd.DataFrame | None = None
    try:
        for snapshot_ref in suite.snapshots:
            snapshot = snapshots.get(db, snapshot_ref)
            used.append({"ref": snapshot.ref, "sha256": snapshot.sha256, "rows": snapshot.rows})
            frame = snapshots.load_frame(artifacts, snapshot)
            where = f"suite {suite_name}: snapshot {snapshot.ref}"
            if suite.target not in frame.columns:
                raise InvalidInput(where, f"has no label column {suite.target!r}")
            if len(frame) == 0:  # bad data, not a model that fails to predict
                raise InvalidInput(where, "has no rows")
            if suite.time_column:
                if suite.time_column not in frame.columns:
                    raise InvalidInput(where, f"has no time column {suite.time_column!r}")
                frame = frame.sort_values(suite.time_column, kind="stable").reset_index(drop=True)
            names = _features(candidate, frame, suite.target, where)
            features = candidate.typed(frame[names])
            y = frame[suite.target].to_numpy()
            _check_labels(y, classes, f"{where}: {suite.target}")
            if classes is not None:
                y = _align_labels(y, classes)
            scored = _score(candidate, features, classes is not None)
            if first_features is None:
                first_features = features
            results["snapshots"].append(
                _snapshot_results(
                    snapshot.ref, snapshot.sha256, frame, y, scored, classes, wanted, suite, names
                )
            )
            if champion is not None:
                champion_names = _features(champion, frame, suite.target, where)
                if champion_features is None:
                    champion_features = champion.typed(frame[champion_names])
                try:
                    theirs = _score(
                        champion, champion.typed(frame[champion_names]), classes is not None
                    )
                    results["snapshots"][-1]["comparison"] = _compare(
                        y, scored, theirs, classes, wanted, suite
                    )
                except _PredictFailed as exc:
                    results["snapshots"][-1]["comparison"] = {"error": str(exc)}
        if suite.measure_cost and first_features is not None:
            _measure_cost(
                results, candidate, first_features, champion, champion_features, cost_runs
            )
        status, error = "finished", None
    except _PredictFailed as exc:
        status, error = "failed", str(exc)
    evaluation = Evaluation(version.ref, suite_name, status, results, error)
    if record:
        evaluation.id = governance.record_evaluation(
            db,
            actor,
            exact,
            suite_name,
            status=status,
            snapshots=used,
            results=results,
            champion=champion_ref,
            error=error,
        )
    return evaluation


def suite_digest(suite: Suite, cost_runs: int) -> str:
    """A fingerprint of what an evaluation was asked to do (the suite's fields by name, and the
    number of cost runs): equal digests on the same snapshots give the same figures."""
    text = suite.model_dump_json() + f"|cost_runs={cost_runs}"
    return hashlib.sha256(text.encode()).hexdigest()


def _measure_cost(
    results: dict[str, Any],
    candidate: LoadedModel,
    features: pd.DataFrame,
    champion: LoadedModel | None,
    champion_features: pd.DataFrame | None,
    runs: int,
) -> None:
    """The candidate's cost, interleaved with the champion's on the same rows (each typed for
    its own model)."""
    with_champion = champion is not None and champion_features is not None
    measured = measure_interleaved(
        candidate.model,
        champion.model if with_champion and champion is not None else None,
        features,
        (candidate.version.size_bytes, champion.version.size_bytes if champion else None),
        runs=runs,
        champion_frame=champion_features,
    )
    results["cost"] = measured.candidate
    results["cost_detail"] = measured.to_dict()


def _snapshot_results(
    ref: str,
    sha256: str,
    frame: pd.DataFrame,
    y: np.ndarray,
    scored: _Scored,
    classes: list[Any] | None,
    wanted: list[str],
    suite: Suite,
    features: list[str],
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ref": ref,
        "sha256": sha256,
        "rows": len(frame),
        "metrics": _metrics(y, scored, classes, wanted),
        "slices": {},
        "baselines": {},
        "quality": [],
    }
    for name, conditions in suite.slices.items():
        mask = slice_mask(frame, name, conditions)
        if not mask.any():
            out["slices"][name] = {"rows": 0}
            out["quality"].append(f"slice {name} has no rows in {ref}")
            continue
        part = _Scored(scored.pred[mask], None if scored.proba is None else scored.proba[mask])
        out["slices"][name] = _metrics(y[mask], part, classes, wanted)
    ordered = suite.time_ordered or suite.time_column is not None
    if classes is not None:
        out["baselines"]["majority"] = baselines.majority(y, classes, wanted)
        if ordered:
            out["baselines"]["persistence"] = baselines.persistence(y, classes, wanted)
        if len(classes) == 2 and scored.proba is not None:
            truth, _, scores = _binary_parts(y, scored, classes)
            out["curves"] = binary_curves(truth, scores) if scores is not None else {}
    else:
        out["baselines"]["mean"] = baselines.mean_baseline(y, wanted)
        if ordered:
            out["baselines"]["persistence"] = baselines.persistence_regression(y, wanted)
    for name in features:
        if frame[name].isna().all():
            out["quality"].append(f"feature {name} is missing in every row of {ref}")
    return out
