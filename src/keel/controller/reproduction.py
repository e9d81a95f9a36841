"""Recreating a model version from its record: ``keel reproduce MODEL/VERSION``.

A version records the git commit of the code that built it (and whether the work tree had edits),
its training snapshot, its parameters and, when a pipeline made it, the pipeline run with that
run's parameters. Reproducing it fits it again from exactly those, in a child process
(:mod:`keel.controller.reproduce_worker`) whose project code comes from a clean checkout of the
recorded commit in a temporary ``git worktree``, then compares the new model's answers with the
stored model's on the recorded holdout (:mod:`keel.domain.reproduction` says when they count as
the same). The registry is left as it was: nothing is registered and no alias moves; the one
thing written is the audit entry ``version.reproduce`` with the result, which ``keel lineage``
shows.

What is re-run depends on what the record holds:

- ``pipeline``: a version the retraining pipeline registered (its ``pipeline_run`` tag) is fit
  again by that pipeline's steps after ``training_window`` up to ``candidate`` (a step choosing
  how to train, if the run had one, then the fit), with the run's parameters (model, champion,
  policy: so the policy's trainer, recency weights and the champion's estimator are the ones the
  run used), on the version's training snapshot (for a refit, the snapshot of training rows plus
  holdout it was fit on; see :func:`keel.controller.reproduce_worker._by_pipeline`). The
  data-selecting step (``training_window``) is not re-run: its output is the recorded snapshot,
  read back by content hash; nor are the steps that register and gate, which would change the
  registry;
- ``trainer``: a version registered inside a run tagged ``trainer`` (``module:function``, called
  as the policy's trainer is: ``trainer(frame, target)``, plus each recorded run parameter the
  function names, a seed say) gets that function from the recorded commit, on the training
  snapshot;
- ``estimator``: otherwise the stored model's own estimator, unfitted with the same
  hyper-parameters (``random_state`` among them) and fit on the training snapshot's features and
  label. Keel does not record a hand-written training script, so this is what can honestly be
  re-run for it; the result says which method was used.

It is refused (Conflict, with ``reason``) when there is nothing trustworthy to re-run: no commit
recorded, a work tree with uncommitted edits (the code that ran is in no commit), a commit the
repository does not hold, no training snapshot, no input signature, no single label column, or a
pipeline that is not the standard retraining pipeline. Keel itself is the installed one; the
commit supplies the project's code.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from keel.domain.entities import ModelVersion, RunRecord
from keel.domain.names import ModelRef
from keel.domain.reproduction import (
    DEFAULT_TOLERANCE,
    FAILED,
    REPRODUCE_ACTION,
    Reproduction,
    check_tolerance,
    verdict_of,
)
from keel.domain.retraining import HOLDOUT_TAG, REFIT_TAG
from keel.errors import Conflict, NotFound
from keel.services import Services

__all__ = ["TRAINER_TAG", "reproduce"]

#: the run tag naming the function that trained a hand-registered version (``module:function``)
TRAINER_TAG = "trainer"

#: the pipeline whose ``candidate`` step a retrained version is fit again by
_RETRAIN_PIPELINE = "retrain"

#: how long the child may take to fit and compare, by default
_TIMEOUT_S = 3600.0


def reproduce(
    services: Services,
    ref: str | ModelRef,
    *,
    tolerance: float | None = None,
    repository: str | None = None,
    timeout_s: float = _TIMEOUT_S,
) -> Reproduction:
    """Fit ``ref`` again from its record and compare it with the stored model on its holdout;
    the result is also appended to the audit trail. ``repository``: the git repository to take
    the recorded commit from, when it is not where the version was built (another machine's
    clone); ``tolerance``: the largest difference of a probability that still counts as the
    same model (1e-9 by default, for deterministic learners)."""
    limit = DEFAULT_TOLERANCE if tolerance is None else check_tolerance(tolerance)
    version = services.registry.get_version(ref)
    run = _run_of(services, version)
    request = _plan(services, version, run)
    commit, top = _recorded_code(version, run, repository)
    _check_artifact(services, version)
    try:
        with contextlib.ExitStack() as stack:
            temporary = tempfile.TemporaryDirectory(prefix="keel-reproduce-")
            folder = Path(stack.enter_context(temporary))
            tree = stack.enter_context(_checkout(top, commit, folder / "tree"))
            answer = _recreate(services, version, request, tree, folder, timeout_s)
    except Conflict as exc:
        if exc.fields.get("reason") in RAN_AND_FAILED:
            _record_failure(services, version, request, commit, top, exc)
        raise
    result = Reproduction(
        version=version.ref,
        verdict=verdict_of(
            max_abs_diff=answer["max_abs_diff"],
            label_agreement=answer["label_agreement"],
            tolerance=limit,
        ),
        method=request["method"],
        commit=commit,
        repository=top,
        training_snapshot=request["training"],
        holdout=request["holdout"],
        compared=answer["compared"],
        rows=int(answer["rows"]),
        max_abs_diff=answer["max_abs_diff"],
        label_agreement=answer["label_agreement"],
        tolerance=limit,
        model_class=answer["model_class"],
        pipeline_run=request.get("pipeline_run"),
        run_id=run.id if run is not None else None,
    )
    return _record(services, result)


def _check_artifact(services: Services, version: ModelVersion) -> None:
    """The stored artifact verified against its hash and its recorded trust here, without
    deserializing it, so a tampered or untrusted file is refused (ArtifactCorrupted,
    UntrustedArtifact) before any child loads it."""
    from keel.domain.trust import TrustRecord
    from keel.registry import serialization

    data = services.stores.artifacts.get(version.artifact_sha256)
    serialization.check_trust(
        data,
        version.format,
        sha256=version.artifact_sha256,
        trust=TrustRecord.from_dict(version.trust),
        ref=version.ref,
    )


def _refuse(version: ModelVersion, reason: str, why: str) -> Conflict:
    return Conflict(f"cannot reproduce {version.ref}: {why}", version=version.ref, reason=reason)


def _run_of(services: Services, version: ModelVersion) -> RunRecord | None:
    if not version.run_id:
        return None
    try:
        return services.registry.get_run(version.run_id)
    except NotFound:
        return None


def _plan(services: Services, version: ModelVersion, run: RunRecord | None) -> dict[str, Any]:
    """What the child fits and compares, from the record alone (refused when it falls short)."""
    if not version.training_snapshot:
        raise _refuse(version, "no_training_data", "it was registered without training data")
    if version.signature is None or not version.signature.feature_names:
        raise _refuse(
            version,
            "no_signature",
            "it was registered without an input signature, so its features are not recorded",
        )
    features = list(version.signature.feature_names)
    training = services.registry.get_snapshot(version.training_snapshot)
    holdout = _holdout_of(version, run)
    request: dict[str, Any] = {
        "version": version.ref,
        "training": training.ref,
        "holdout": holdout or training.ref,
        "features": features,
    }
    pipeline_run = (version.tags or {}).get("pipeline_run")
    if pipeline_run:
        from keel.pipelines.records import find_run

        try:
            record = find_run(services.stores.db, str(pipeline_run))
        except NotFound as exc:
            raise _refuse(
                version, "no_pipeline_run", f"its pipeline run {pipeline_run} is not in the store"
            ) from exc
        if record.pipeline != _RETRAIN_PIPELINE or record.step("candidate") is None:
            raise _refuse(
                version,
                "custom_pipeline",
                f"pipeline {record.pipeline!r} is not Keel's retraining pipeline, whose "
                "candidate step can be re-run on its own",
            )
        refit_of = (version.tags or {}).get(REFIT_TAG)
        window = training.ref
        if refit_of:  # its setup was chosen on the gated twin's training rows
            twin = services.registry.get_version(ModelRef(version.name, version=int(refit_of)))
            window = twin.training_snapshot or training.ref
        request.update(
            method="pipeline",
            pipeline_run=record.id,
            params=record.params,
            steps=[s.name for s in record.steps],
            refit=bool(refit_of),
            window_training=window,
        )
    elif run is not None and run.tags.get(TRAINER_TAG):
        request.update(method="trainer", trainer=str(run.tags[TRAINER_TAG]), params=run.params)
    else:
        request.update(method="estimator", params={})
    request["target"] = _target_of(version, run, list(training.schema), features)
    return request


def _holdout_of(version: ModelVersion, run: RunRecord | None) -> str | None:
    """The version's ``holdout`` tag, else a snapshot its run read as ``holdout``."""
    tagged = (version.tags or {}).get(HOLDOUT_TAG)
    if tagged:
        return str(tagged)
    for item in run.inputs if run is not None else []:
        if item.get("role") == HOLDOUT_TAG:
            return str(item["snapshot"])
    return None


def _target_of(
    version: ModelVersion, run: RunRecord | None, columns: list[str], features: list[str]
) -> str:
    """The label column: the run's ``target`` parameter or tag, else the one training column
    that is not a feature."""
    for recorded in (run.params, run.tags) if run is not None else ():
        if isinstance(recorded.get("target"), str) and recorded["target"] in columns:
            return str(recorded["target"])
    rest = [c for c in columns if c not in features]
    if len(rest) != 1:
        raise _refuse(
            version,
            "no_target",
            f"its training snapshot has {len(rest)} columns besides the features "
            f"({', '.join(rest) or 'none'}), so its label column is not recorded; record it "
            "as the run's 'target' parameter",
        )
    return rest[0]


def _recorded_code(
    version: ModelVersion, run: RunRecord | None, repository: str | None
) -> tuple[str, str]:
    """The recorded commit and the repository that holds it (refused when there is none)."""
    code = version.code_version or (run.code_version if run is not None else {})
    commit = code.get("commit")
    if not commit:
        raise _refuse(
            version, "no_commit", "no git commit was recorded (it was not built in a git tree)"
        )
    if code.get("dirty") is not False:
        state = "had uncommitted edits" if code.get("dirty") else "could not be read"
        raise _refuse(
            version,
            "dirty",
            f"the work tree it was built from {state} at commit {commit[:12]}, so the code "
            "that ran is in no commit",
        )
    # the code that runs comes from the repository the caller names or works in, never from a
    # path the stored record names: whoever can register a version must not choose what runs
    top = repository or _git(os.getcwd(), "rev-parse", "--show-toplevel")
    if not top or _git(str(top), "rev-parse", "--git-dir") is None:
        recorded = code.get("repository")
        raise _refuse(
            version,
            "no_repository",
            f"{top or 'the current folder'} is not a git repository; run from the clone holding "
            f"commit {commit[:12]}"
            + (f" (it was built in {recorded})" if recorded else "")
            + " or pass it (--repo)",
        )
    if _git(str(top), "cat-file", "-e", f"{commit}^{{commit}}") is None:
        raise _refuse(
            version,
            "commit_missing",
            f"commit {commit[:12]} is not in the repository {top} (fetch it first)",
        )
    return str(commit), str(top)


def _git(top: str, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", top, *args], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@contextlib.contextmanager
def _checkout(top: str, commit: str, tree: Path) -> Iterator[Path]:
    """A clean checkout of ``commit`` in a temporary worktree, removed afterwards."""
    if _git(top, "worktree", "add", "--detach", str(tree), commit) is None:
        raise Conflict(
            f"could not check commit {commit[:12]} out of {top} into a temporary worktree",
            reason="checkout_failed",
        )
    try:
        yield tree
    finally:
        _git(top, "worktree", "remove", "--force", str(tree))
        _git(top, "worktree", "prune")


def _recreate(
    services: Services,
    version: ModelVersion,
    request: dict[str, Any],
    tree: Path,
    folder: Path,
    timeout_s: float,
) -> dict[str, Any]:
    """Run the child on the checkout; its answer, or a refusal carrying its error."""
    settings = services.stores.settings
    source = tree / "src"
    full = {
        **request,
        "settings": {
            "store_url": settings.store_url,
            "artifacts": settings.artifacts,
            "actor": settings.actor,
            "artifact_options": dict(settings.artifact_options),
            "audit_dir": settings.audit_dir,
        },
        "paths": [str(tree), *([str(source)] if source.is_dir() else [])],
        "workdir": str(tree),
        "result": str(folder / "result.json"),
    }
    asked = folder / "request.json"
    asked.write_text(json.dumps(full), encoding="utf-8")
    command = [sys.executable, "-m", "keel.controller.reproduce_worker", str(asked)]
    try:
        done = subprocess.run(
            command,
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise _refuse(version, "timeout", f"fitting it again took over {timeout_s:g} s") from exc
    answer_file = folder / "result.json"
    answer = json.loads(answer_file.read_text("utf-8")) if answer_file.exists() else None
    if answer is None or "error" in answer:
        detail = answer["error"] if answer else (done.stderr.strip()[-2000:] or "no answer")
        raise _refuse(
            version,
            "recreation_failed",
            f"fitting it again ({request['method']}) at the recorded commit failed: {detail}",
        )
    return dict(answer)


#: refusals that come after the recorded code ran: an attempt the audit trail keeps too
RAN_AND_FAILED = ("timeout", "recreation_failed")


def _record_failure(
    services: Services,
    version: ModelVersion,
    request: dict[str, Any],
    commit: str,
    top: str,
    failure: Conflict,
) -> None:
    """An attempt that ran the recorded code and failed, kept in the audit trail beside the
    finished comparisons: that a version could not be recreated is worth as much to know."""
    from keel.registry import audit

    with services.stores.db.write() as conn:
        audit.append(
            conn,
            services.stores.actor,
            REPRODUCE_ACTION,
            f"model:{version.ref}",
            {
                "verdict": FAILED,
                "reason": failure.fields.get("reason"),
                "error": failure.message[-2000:],
                "method": request["method"],
                "commit": commit,
                "repository": top,
                "training_snapshot": request["training"],
                "holdout": request["holdout"],
            },
        )


def _record(services: Services, result: Reproduction) -> Reproduction:
    from keel.registry import audit

    with services.stores.db.write() as conn:
        entry = audit.append(
            conn,
            services.stores.actor,
            REPRODUCE_ACTION,
            f"model:{result.version}",
            result.details(),
        )
    return replace(result, audit_seq=entry.seq)
