"""The child process of ``keel reproduce``: fits a version again in a clean checkout of the commit
it was built from, then compares the new model's answers with the stored one's on the holdout.

It runs as ``python -m keel.controller.reproduce_worker REQUEST.json`` beside the checkout (not in
it), so Keel itself is the installed one while the project's modules (a trainer, a custom
estimator's class) are imported from the recorded commit: the checkout's folders go first on
``sys.path`` only after Keel is loaded. It reads the stores and writes nothing to them; its
answer goes to the file the request names (a trainer printing to stdout cannot garble it).

The request is made by :mod:`keel.controller.reproduction`, which documents each method.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from keel.pipelines.step import Step
    from keel.registry.loaded import LoadedModel
    from keel.services import Services

__all__ = ["compare", "main", "recreate"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    with open(args[0], encoding="utf-8") as handle:
        request = json.load(handle)
    try:
        answer = recreate(request)
        code = 0
    except Exception as exc:  # reported to the parent, which raises it as a refusal
        lines = traceback.format_exception_only(exc)
        answer = {"error": "".join(lines).strip()}
        code = 1
    with open(request["result"], "w", encoding="utf-8") as handle:
        json.dump(answer, handle)
    return code


def recreate(request: dict[str, Any]) -> dict[str, Any]:
    """Fit the version again as ``request["method"]`` says and compare it on the holdout."""
    from keel.services import Services
    from keel.settings import Settings
    from keel.stores import Stores

    for path in reversed(request["paths"]):
        sys.path.insert(0, path)
    importlib.invalidate_caches()
    os.chdir(request["workdir"])  # a trainer reading files by relative path finds the commit's
    stores = Stores.open(Settings(**request["settings"]), create=False)
    try:
        services = Services.over(stores)
        train = services.registry.load_snapshot(request["training"])
        holdout = services.registry.load_snapshot(request["holdout"])
        fitted = _fit(services, request, train, holdout)
        stored = services.registry.load_model(request["version"])
        answer = compare(stored, fitted, stored.typed(holdout[request["features"]]))
        answer["model_class"] = f"{type(fitted).__module__}.{type(fitted).__qualname__}"
        return answer
    finally:
        stores.close()


def _fit(
    services: Services, request: dict[str, Any], train: pd.DataFrame, holdout: pd.DataFrame
) -> Any:
    target, features = request["target"], request["features"]
    method = request["method"]
    if method == "pipeline":
        window_rows = train
        if request["window_training"] != request["training"]:
            window_rows = services.registry.load_snapshot(request["window_training"])
        return _by_pipeline(request, window_rows, train, holdout)
    if method == "trainer":
        trainer = _checked_out_trainer(str(request["trainer"]), request["paths"])
        # the frame and the label column first, then each recorded run parameter it names
        named = list(inspect.signature(trainer).parameters)[2:]
        recorded = {k: v for k, v in request["params"].items() if k in named}
        return trainer(train, target, **recorded)
    from keel.registry.flavours import unfitted

    stored = services.registry.load_model(request["version"])
    estimator = unfitted(stored.model)
    estimator.fit(train[features], train[target].to_numpy())
    return estimator


def _checked_out_trainer(named: str, paths: list[str]) -> Any:
    """The run's ``module:function`` trainer, imported only from the checkout of the recorded
    commit: a tag naming an installed module (``subprocess:run``, say) would run code that no
    commit of the project holds, chosen by whoever tagged the run."""
    module_name, _, name = named.partition(":")
    module = importlib.import_module(module_name)
    where = getattr(module, "__file__", None)
    roots = [Path(p).resolve() for p in paths]
    inside = where is not None and any(Path(where).resolve().is_relative_to(r) for r in roots)
    if not inside:
        raise PermissionError(
            f"the run's trainer {named!r} is not in the checked-out commit ({where or 'built in'})"
        )
    return getattr(module, name)


def _by_pipeline(
    request: dict[str, Any], window_rows: pd.DataFrame, train: pd.DataFrame, holdout: pd.DataFrame
) -> Any:
    """The recorded pipeline's steps from the one after ``training_window`` to ``candidate``,
    re-run with the run's parameters on the recorded rows (a step that changes the store, one
    marked ``cache=False``, is refused). For a refit, the steps before ``candidate`` see the
    gated candidate's window, as they did, and ``candidate`` fits on the refit's rows (training
    rows plus holdout) as the ``refitted`` step does: with the policy's refit switched off, so
    it fits rather than hand on a model a setup choice had already fit."""
    import copy

    from keel.controller.retraining import standard_pipeline

    steps = standard_pipeline(refit=True).steps
    params = copy.deepcopy(request["params"])
    outputs: dict[str, Any] = {"training_window": _window(request, window_rows, holdout)}
    for name in request["steps"]:
        if name == "candidate":
            break
        if name not in outputs:
            outputs[name] = _run_step(steps, name, outputs, params, request)
    if request["refit"]:
        outputs["training_window"] = _window(request, train, holdout)
        policy = params.get("policy")
        if isinstance(policy, dict):
            policy.setdefault("retraining", {}).setdefault("training", {})["refit"] = False
    return _run_step(steps, "candidate", outputs, params, request)


def _window(request: dict[str, Any], train: pd.DataFrame, holdout: pd.DataFrame) -> dict[str, Any]:
    """The ``training_window`` step's output, rebuilt from the recorded snapshots."""
    return {
        "train": train,
        "holdout": holdout,
        "target": request["target"],
        "features": request["features"],
        "recent_rows": len(train),
        "snapshot_rows": 0,
        "holdout_rows": len(holdout),
    }


def _run_step(
    steps: dict[str, Step],
    name: str,
    outputs: dict[str, Any],
    params: dict[str, Any],
    request: dict[str, Any],
) -> Any:
    """Call step ``name`` as a pipeline run would: each parameter filled by name from the
    outputs so far, the run's context or the run's parameters."""
    from keel.errors import InvalidInput
    from keel.pipelines.step import CONTEXT, StepContext

    current = steps.get(name)
    if current is None or not current.cache:
        why = "is not in Keel's retraining pipeline" if current is None else "changes the store"
        raise InvalidInput("pipeline", f"step {name!r} of the recorded run {why}")
    settings = request["settings"]
    kwargs: dict[str, Any] = {}
    for need in current.needs:
        if need == CONTEXT:
            kwargs[need] = StepContext(
                run_id=request["pipeline_run"],
                pipeline="retrain",
                step=name,
                store_url=settings["store_url"],
                artifacts=settings["artifacts"],
                actor=settings["actor"],
                params=params,
                artifact_options=settings.get("artifact_options") or {},
            )
        elif need in outputs:
            kwargs[need] = outputs[need]
        elif need in params:
            kwargs[need] = params[need]
        elif need not in current.defaults:
            raise InvalidInput("pipeline", f"step {name!r} needs {need!r}, which is not recorded")
    return current.fn(**kwargs)


def compare(stored: LoadedModel, fitted: Any, frame: pd.DataFrame) -> dict[str, Any]:
    """The stored and the recreated model's answers on ``frame``: the largest difference of any
    probability (or a regressor's prediction) and the share of rows whose labels agree."""
    ours, theirs = stored.model, fitted
    classifier = getattr(ours, "classes_", None) is not None
    probabilities = all(callable(getattr(m, "predict_proba", None)) for m in (ours, theirs))
    labels, new_labels = ours.predict(frame), theirs.predict(frame)
    difference: float | None = None
    if classifier and probabilities:
        compared = "probabilities"
        difference = _max_abs_diff(ours.predict_proba(frame), theirs.predict_proba(frame))
    elif classifier:
        compared = "labels"
    else:
        compared = "predictions"
        difference = _max_abs_diff(labels, new_labels)
    agreement = None
    if classifier:
        a = np.asarray(labels, dtype=object).ravel()
        b = np.asarray(new_labels, dtype=object).ravel()
        agreement = (
            float(np.mean(a == b)) if a.size == b.size and a.size else float(a.size == b.size)
        )
    return {
        "compared": compared,
        "rows": len(frame),
        "max_abs_diff": difference,
        "label_agreement": agreement,
    }


def _max_abs_diff(expected: Any, got: Any) -> float:
    """The largest absolute difference; other shapes, or a value missing on one side only,
    count as infinitely far apart."""
    from keel.registry.agreement import max_abs_difference

    a = np.asarray(expected, dtype=np.float64)
    b = np.asarray(got, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    return max_abs_difference(a, b)


if __name__ == "__main__":
    sys.exit(main())
