"""What a running deployment should do now, decided from reads only (``assess``); the
controller (``keel.rollout.controller``) applies the decision.

- canary: the step's rows are analysed (``keel.rollout.analysis``); a breach means roll back (or
  stop, when the policy's ``auto_rollback`` is off), a pass after the interval the next step, and
  passing the last step promotion. A 100% step has no stable traffic left, so it is compared with
  the stable rows of the whole deployment;
- ab: every look checks the split (SRM: a mismatch stops the test, nothing can be concluded
  from broken groups), guards errors and latency like a canary, then takes the always-valid
  sequential test's decision, both in the unit the traffic was split by (distinct entity keys
  on a sticky deployment whose rows carry keys, rows otherwise: ``keel.rollout.units``): a
  better candidate is promoted; worse, futile or at its maximum size, the test stops and the
  stable version stays;
- shadow: reports agreement with the stable answers and latency, and finishes after
  ``max_rows`` shadow rows, promoting only when the policy says ``promote_shadow``;
- replace (and any deployment whose candidate is already champion, a promotion interrupted
  between its two writes): finish it.

Whatever strategy: when the candidate's own code raises while it is analysed (building its
reference runs it on its training data), that is a failure of the candidate, not of the
analysis: it is rolled back (stopped with ``auto_rollback`` off) with an alert, the reason
naming the exception's type and message (``ModelFailed``).

Example: ``assess(db, artifacts, logs, "fraud", policy).reasons`` says why a canary waits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from keel.domain.deployments import Deployment
from keel.domain.names import ModelRef
from keel.domain.policy import Policy
from keel.errors import InvalidInput, KeelError, ModelFailed
from keel.registry import deployments
from keel.registry.clock import utcnow
from keel.registry.models import resolve_in
from keel.rollout import srm
from keel.rollout.analysis import analyse_step, shadow_agreement
from keel.rollout.limits import Limits
from keel.rollout.sequential import compare_proportions_by_unit
from keel.rollout.units import accuracy_outcomes, error_outcomes
from keel.rollout.window import read_window, split_variants
from keel.store.artifacts import ArtifactStore
from keel.store.database import Database
from keel.store.prediction_log import LogStore

if TYPE_CHECKING:
    import pandas as pd

    from keel.monitoring.model_reads import ModelReads
    from keel.monitoring.references import Reference

__all__ = ["FINAL", "Action", "Assessment", "assess", "moment"]

Action = Literal["none", "wait", "step", "promote", "complete", "finish", "rollback", "stop"]
FINAL: tuple[Action, ...] = ("none", "promote", "complete", "finish", "rollback", "stop")


@dataclass(frozen=True)
class Assessment:
    """What ``advance`` would do now and why; ``entry`` is the analysis kept with the move."""

    model: str
    deployment: Deployment | None
    action: Action
    reasons: list[str]
    entry: dict[str, Any] = field(default_factory=dict)
    next_step: int | None = None
    alert: bool = False


@dataclass
class _Look:
    db: Database
    artifacts: ArtifactStore
    logs: LogStore
    policy: Policy
    deployment: Deployment
    limits: Limits
    now: datetime
    #: the caller's labels and references when it read them for others too (an autopilot
    #: pass); else read here, once
    reads: ModelReads | None = None

    def base(self, **extra: Any) -> dict[str, Any]:
        d = self.deployment
        return {"at": self.now.isoformat(), "step": d.step, "weight": d.candidate_weight, **extra}

    def split(self, rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        d = self.deployment
        return split_variants(rows, d.stable_version, d.candidate_version)

    def since_start(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        start = start_position(self.deployment)
        if start is not None:
            window = read_window(self.logs, self.deployment.model, after=start)
        else:
            window = read_window(self.logs, self.deployment.model, since=self.deployment.created_at)
        return self.split(window.rows)

    def accuracy_inputs(
        self, rows: pd.DataFrame
    ) -> tuple[pd.DataFrame | None, Callable[[str], Reference | None] | None]:
        """Labels and references, loaded only when the rows could use them."""
        if self.reads is None:
            from keel.monitoring.model_reads import ModelReads

            model = self.deployment.model
            self.reads = ModelReads(self.db, self.artifacts, self.logs, model, self.policy)
        labels = self.reads.labels()
        scored = "score" in rows and bool(rows["score"].notna().any())
        if labels.empty and not scored:
            return None, None
        loader = self.reads.references
        versions = {
            "stable": self.deployment.stable_version,
            "candidate": self.deployment.candidate_version,
        }

        def reference_of(side: str) -> Reference | None:
            number = versions[side]
            try:
                return None if number is None else loader(number)
            except ModelFailed:
                if side == "candidate":  # the candidate's own code failed: a failure of it
                    raise
                return None  # the stable version's: no accuracy comparison, not its rival's fault
            except KeelError:  # no training snapshot, a regression: no accuracy, not a failure
                return None

        return (None if labels.empty else labels), reference_of


def assess(
    db: Database,
    artifacts: ArtifactStore,
    logs: LogStore,
    model: str,
    policy: Policy,
    *,
    now: datetime | None = None,
    reads: ModelReads | None = None,
) -> Assessment:
    """Decide what the running deployment of ``model`` should do now. It only reads, apart from
    caching a version's monitoring reference the first time its accuracy is estimated.
    ``reads``: the caller's labels and references, read once for its whole pass."""
    when = moment(now)
    deployment = deployments.running(db, model)
    if deployment is None:
        return Assessment(model, None, "none", [f"{model} has no running deployment"])
    look = _Look(
        db,
        artifacts,
        logs,
        policy,
        deployment,
        Limits.of(deployment.limits, policy.rollout),
        when,
        reads,
    )
    with db.read() as conn:
        champion = deployments.champion_in(conn, model)
        candidate = resolve_in(conn, ModelRef(model, version=deployment.candidate_version))
    finishing: Action = "complete" if deployment.strategy == "replace" else "promote"
    if champion == deployment.candidate_version:
        why = "the candidate is champion already (a promotion was interrupted); finishing it"
        return Assessment(model, deployment, finishing, [why], look.base())
    if candidate.status != "ready":
        why = f"{candidate.ref} is {candidate.status} and can no longer be promoted"
        return Assessment(model, deployment, "stop", [why], look.base())
    if deployment.strategy == "replace":
        why = "a replace deployment moves the champion at once"
        return Assessment(model, deployment, "complete", [why], look.base())
    decide = {"canary": _canary, "ab": _ab, "shadow": _shadow}[deployment.strategy]
    try:
        return decide(look)
    except ModelFailed as exc:
        if exc.version != deployment.candidate_version:
            raise
        return _candidate_failed(look, exc)


def _candidate_failed(look: _Look, exc: ModelFailed) -> Assessment:
    """The candidate's own code raised during the analysis: that is a failure of the candidate,
    rolled back (or stopped, with ``auto_rollback`` off) with an alert, like a breach."""
    d = look.deployment
    failure = {"raised": exc.raised, "detail": exc.detail, "during": exc.during}
    why = (
        f"the candidate {d.model}/{d.candidate_version} raised {exc.raised}: {exc.detail} "
        f"({exc.during})"
    )
    action: Action = "rollback" if look.limits.auto_rollback else "stop"
    return Assessment(d.model, d, action, [why], look.base(failure=failure), alert=True)


def start_position(deployment: Deployment) -> str | None:
    """The prediction log's position when the deployment started (None for one that did not
    record it: its rows are then those written since it was created)."""
    return next((e["position"] for e in deployment.analysis if e.get("event") == "start"), None)


def _canary(look: _Look) -> Assessment:
    d, limits = look.deployment, look.limits
    after = next((e.get("position") for e in reversed(d.analysis) if "position" in e), None)
    if d.step == 0:  # the step's rows: after the log position the deployment started at, if kept
        after = start_position(d)
    window = read_window(
        look.logs, d.model, after=after, since=d.created_at if after is None else None
    )
    stable, candidate = look.split(window.rows)
    if d.candidate_weight >= 100.0:  # nothing left on stable: compare with the whole deployment
        stable = look.since_start()[0]
    labels, reference_of = look.accuracy_inputs(window.rows)
    result = analyse_step(
        stable,
        candidate,
        limits,
        elapsed_s=(look.now - d.step_started_at).total_seconds(),
        interval_s=d.interval_s,
        labels=labels,
        reference_of=reference_of,
        rules=look.policy.monitoring.alerts,
        sticky=d.sticky,
    )
    entry = look.base(**result.to_dict(), position=window.position, parts=window.parts)
    if result.verdict == "wait":
        return Assessment(d.model, d, "wait", result.reasons, entry)
    if result.verdict == "breach":
        where = f"step {d.step + 1} of {len(d.steps)} ({d.candidate_weight:g}%)"
        reasons = [f"breach at {where}: {r}" for r in result.reasons]
        action: Action = "rollback" if limits.auto_rollback else "stop"
        return Assessment(d.model, d, action, reasons, entry, alert=True)
    if d.step + 1 < len(d.steps):
        return Assessment(d.model, d, "step", result.reasons, entry, next_step=d.step + 1)
    return Assessment(d.model, d, "promote", ["passed every step", *result.reasons], entry)


def _ab(look: _Look) -> Assessment:
    d, limits = look.deployment, look.limits
    stable, candidate = look.since_start()
    ratio = srm.check_split(
        stable,
        candidate,
        {"stable": 100.0 - d.candidate_weight, "candidate": d.candidate_weight},
        sticky=d.sticky,
        alpha=limits.srm_alpha,
    )
    if min(len(stable), len(candidate)) < limits.min_rows_per_step:
        why = f"waiting for rows: stable {len(stable):,}, candidate {len(candidate):,}"
        return Assessment(d.model, d, "wait", [why], look.base(srm=ratio.to_dict()))
    if ratio.mismatch:
        why = f"{ratio.reason}; the groups cannot be compared"
        return Assessment(d.model, d, "stop", [why], look.base(srm=ratio.to_dict()))
    guard = analyse_step(
        stable, candidate, limits, elapsed_s=0, interval_s=0, accuracy=False, sticky=d.sticky
    )
    entry = look.base(srm=ratio.to_dict(), **guard.to_dict())
    if guard.verdict == "breach":
        action: Action = "rollback" if limits.auto_rollback else "stop"
        return Assessment(d.model, d, action, guard.reasons, entry, alert=True)
    if limits.ab_metric == "error_rate":
        arms = [error_outcomes(rows, sticky=d.sticky) for rows in (stable, candidate)]
        floor, higher_is_better = limits.min_rows_per_step, False
    else:
        labels, reference_of = look.accuracy_inputs(candidate)
        references = [
            reference_of(side) if reference_of else None for side in ("stable", "candidate")
        ]
        if labels is None or None in references:
            why = "waiting for labels (the A/B test compares accuracy from labels)"
            return Assessment(d.model, d, "wait", [why], entry)
        arms = [
            accuracy_outcomes(rows, labels, ref, sticky=d.sticky)
            for rows, ref in zip((stable, candidate), references, strict=True)
            if ref is not None
        ]
        floor, higher_is_better = limits.min_labelled_rows, True
    test = compare_proportions_by_unit(
        (arms[0].successes, arms[0].rows),
        (arms[1].successes, arms[1].rows),
        unit=ratio.unit,
        alpha=limits.alpha,
        minimum_effect=limits.minimum_effect,
        max_rows=limits.max_rows,
        higher_is_better=higher_is_better,
        min_rows=floor,
    )
    entry["test"] = {"metric": limits.ab_metric, **test.to_dict()}
    said = f"{limits.ab_metric}: {test.reason}"
    if test.decision == "candidate_better":
        return Assessment(d.model, d, "promote", [said], entry)
    if test.decision == "continue":
        return Assessment(d.model, d, "wait", [said], entry)
    return Assessment(d.model, d, "stop", [f"{said}; the stable version stays"], entry)


def _shadow(look: _Look) -> Assessment:
    d, limits = look.deployment, look.limits
    stable, candidate = look.since_start()
    agreement = shadow_agreement(stable, candidate)
    labels, reference_of = look.accuracy_inputs(candidate)
    guard = analyse_step(
        stable,
        candidate,
        limits,
        elapsed_s=0,
        interval_s=0,
        labels=labels,
        reference_of=reference_of,
    )
    entry = look.base(agreement=agreement, **guard.to_dict())
    shown = agreement["agreement"]
    said = f"the shadow scored {len(candidate):,} of {limits.max_rows:,} rows" + (
        f", agreeing with stable on {shown:.1%} of {agreement['paired']:,} requests"
        if shown is not None
        else ""
    )
    if len(candidate) < limits.max_rows:
        return Assessment(d.model, d, "wait", [said, *guard.reasons], entry)
    if limits.promote_shadow and guard.verdict == "pass":
        return Assessment(d.model, d, "promote", [said, *guard.reasons], entry)
    return Assessment(d.model, d, "finish", [said, *guard.reasons], entry)


def moment(now: datetime | None) -> datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise InvalidInput("now", "must be a timezone-aware datetime")
    return now
