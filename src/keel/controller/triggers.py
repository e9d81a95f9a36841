"""Whether a model needs a retrain now: its policy's triggers, then the guards.

Rule triggers are measured on the champion's own predictions made since the last retrain (or
since it became champion), so a trigger that fired for the old champion does not fire again for
the new one before it has its own labelled evidence.

A drop trigger (``accuracy drops by 0.02 over the last 1,000 labelled predictions``) compares the
champion with itself: its metric over its newest N labelled predictions against its metric over
its first N labelled predictions as champion (its own windows, oldest first), and fires when the
newest is at least the margin worse. It waits until the champion has N labelled predictions.
With ``against the last K champions`` the baseline is the mean of the first-N metric of the
newest K versions that held the ``champion`` alias (this one included; those without N labelled
predictions are left out): the level fresh models have been starting at, so a champion whose own
first window was lucky does not retrain at once, nor one whose first window was poor hold on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from keel.controller import retrains
from keel.domain.alert_rules import rule_metric
from keel.domain.durations import parse_duration
from keel.domain.metric_specs import find_metric
from keel.domain.policy import Policy
from keel.domain.retraining import next_run_after
from keel.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

    from keel.domain.retraining import Trigger
    from keel.monitoring.alerts import AlertRecord
    from keel.monitoring.model_reads import ModelReads
    from keel.monitoring.observations import Observer
    from keel.services import Services

__all__ = ["Verdict", "consider"]


@dataclass(frozen=True)
class Verdict:
    """``trigger`` fired (with ``reason``); ``hold`` says which guard held it back, if any."""

    trigger: str | None
    reason: str
    hold: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def fire(self) -> bool:
        return self.trigger is not None and self.hold is None


def consider(
    services: Services,
    model: str,
    policy: Policy,
    champion: int,
    now: datetime,
    reads: ModelReads | None = None,
) -> Verdict:
    """Whether a trigger fires for ``model`` now and whether a guard holds it; ``reads`` are
    the pass's labels and references (read once for the monitoring run and the triggers)."""
    section = policy.retraining
    previous = retrains.last(services.stores.db, model)
    took_over = _took_over(services, model, champion)
    since = _since(services, model, champion, previous, took_over)
    if reads is None:
        from keel.monitoring.model_reads import ModelReads

        stores = services.stores
        reads = ModelReads(stores.db, stores.artifacts, stores.logs, model, policy)
    fired = _fired(services, model, policy, champion, since, now, reads)
    if fired is None and section.max_age is not None:
        fired = _aged(section.max_age, champion, previous, took_over, since, now)
    if fired is None and section.by_value:
        from keel.controller.retrain_value import retrain_value

        # the champion's windows since the last retrain (a rejected or held one resets the
        # count: it found no fresher model worth shipping); all of them before any retrain
        counted = previous.created_at if previous is not None else None
        value = retrain_value(services, model, champion, counted, section.cost)
        if value is None:
            return Verdict(None, "no trigger fired; the value rule waits for a labelled window")
        if not value.fire:
            return Verdict(None, f"no trigger fired; {value.reason()}", details=value.to_dict())
        fired = ("value", value.reason(), value.to_dict())
    if fired is None:
        return Verdict(None, "no trigger fired")
    trigger, reason, details = fired
    hold = _guard(services, model, policy, previous, now)
    if section.min_new_labels and hold is None:
        fresh = _labels_since(
            reads.labels_with_arrival(), previous.created_at if previous else None, now
        )
        details["new_labels"] = fresh
        if fresh < section.min_new_labels:
            hold = (
                f"min_new_labels: {fresh} labelled since the last retrain, "
                f"{section.min_new_labels} needed"
            )
    # after a rejection, the same rows again would make the same candidate, and after a retrain
    # held for want of new rows there are none still: wait for news
    ended = ("rejected", "held")
    rejected = previous if previous is not None and previous.state in ended else None
    if (
        hold is None
        and rejected
        and not _labels_since(reads.labels_with_arrival(), rejected.created_at, now)
    ):
        hold = (
            f"retrain #{rejected.id} was {rejected.state} and no label has arrived since: "
            "a retrain now would learn from the same rows"
        )
    return Verdict(trigger, reason, hold, details)


def _took_over(services: Services, model: str, champion: int) -> datetime | None:
    """When the deployment that made ``champion`` champion ended (the controller's clock)."""
    for deployment in services.rollouts.deployments(model, limit=50):
        if deployment.candidate_version == champion and deployment.status in (
            "completed",
            "promoted",
        ):
            moment: datetime = deployment.finished_at or deployment.created_at
            return moment
    return None


def _since(
    services: Services,
    model: str,
    champion: int,
    previous: retrains.Retrain | None,
    took_over: datetime | None,
) -> datetime:
    """Since when the champion is judged: its newest retrain, else the deployment that made it
    champion (both on the controller's clock), else the version's registration."""
    if previous is not None:
        return previous.created_at
    if took_over is not None:
        return took_over
    created: datetime = services.registry.get_version(f"{model}/{champion}").created_at
    return created


def _aged(
    max_age: str,
    champion: int,
    previous: retrains.Retrain | None,
    took_over: datetime | None,
    since: datetime,
    now: datetime,
) -> tuple[str, str, dict[str, Any]] | None:
    """``max_age``: counted from the last retrain's start (a rejected one too, so a candidate
    that keeps failing is not retried every pass) or from when the champion took over, if that
    came later (a champion promoted after the last retrain gets its full time)."""
    limit = parse_duration(max_age, "retraining.max_age")
    start, what = since, "the last retrain started"
    if previous is None:
        what = f"v{champion} took over"
    elif took_over is not None and took_over > previous.created_at:
        start, what = took_over, f"v{champion} took over"
    age = now - start
    if age < limit:
        return None
    shown = timedelta(seconds=round(age.total_seconds()))
    return (
        "max_age",
        f"{shown} since {what} ({start.isoformat()}), max_age {max_age}",
        {"since": start.isoformat(), "age_s": age.total_seconds()},
    )


def _fired(
    services: Services,
    model: str,
    policy: Policy,
    champion: int,
    since: datetime,
    now: datetime,
    reads: ModelReads,
) -> tuple[str, str, dict[str, Any]] | None:
    section = policy.retraining
    rules = [t for t in section.triggers if t.kind in ("rule", "drop")]
    if rules:
        from keel.monitoring.observations import Observer

        db, artifacts = services.stores.db, services.stores.artifacts
        references = reads.references
        plain = reads.labels()
        observe = Observer(db, artifacts, model, plain, references, version=champion)
        for trigger in rules:
            if trigger.kind == "drop":
                earlier = _champions_before(services, model, champion, trigger.champions)
                observers = [
                    Observer(db, artifacts, model, plain, references, version=version)
                    for version in earlier
                ]
                dropped = _dropped(observe, trigger, champion, observers)
                if dropped is not None:
                    return dropped
                continue
            assert trigger.rule is not None
            seen = observe(trigger.rule)
            limit = seen.limit if seen is not None else None
            if (
                seen is None
                or seen.value is None
                or (limit is None and trigger.rule.threshold is None)
                or not trigger.rule.breached(seen.value, limit)
            ):
                continue
            rule = trigger.rule
            seen_as = (
                f"{rule.metric} {seen.value:+.4f} against the {rule.baseline} baseline"
                if rule.against == "baseline"  # the value is a margin, not the metric
                else f"{rule.metric} = {seen.value:.4f}"
            )
            return (
                trigger.text,
                f"{seen_as} (champion v{champion})",
                {"value": seen.value, **seen.details},
            )
    if any(t.kind == "drift_alert" for t in section.triggers):
        for alert in services.monitoring.list_alerts(model, state="open", limit=100):
            if _observes_drift(alert) and alert.fired_at >= since:
                return (
                    "drift alert",
                    f"alert #{alert.id} firing: {alert.message}",
                    {"alert": alert.id},
                )
    if section.schedule is not None:
        due = next_run_after(section.schedule, since)
        if due <= now:
            return "schedule", f"scheduled time {due.isoformat()} ({section.schedule}) passed", {}
    return None


def _observes_drift(alert: AlertRecord) -> bool:
    """Whether an alert's rule observes a drift metric, by the metric's declaration."""
    metric = rule_metric(alert.rule)
    spec = find_metric(metric) if metric is not None else None
    return spec is not None and spec.rule_family == "drift"


def _champions_before(services: Services, model: str, champion: int, champions: int) -> list[int]:
    """The versions that held the ``champion`` alias before ``champion``, newest first, at most
    ``champions - 1``: a drop trigger ``against the last K champions`` averages their first N
    labelled predictions with the champion's own. A version a rollback took the alias from is
    left out: its start is not a level fresh models should be held to."""
    from keel.rollout.actions import ROLLBACK_REASON

    earlier: list[int] = []
    if champions <= 1:
        return earlier
    moves = services.registry.alias_history(model, "champion")
    demoted = {m.previous_version for m in moves if m.reason.startswith(ROLLBACK_REASON)}
    for move in reversed(moves):
        version = move.version
        if version is None or version == champion or version in earlier or version in demoted:
            continue
        earlier.append(version)
        if len(earlier) == champions - 1:
            break
    return earlier


def _dropped(
    observe: Observer, trigger: Trigger, champion: int, earlier: list[Observer] | None = None
) -> tuple[str, str, dict[str, Any]] | None:
    """Whether the champion's metric over its newest N labelled predictions is at least the
    margin worse than over its first N, or than the mean of the first N of it and the
    ``earlier`` champions (None while it has fewer than N, or it is not)."""
    metric, rows, margin = trigger.metric, trigger.rows, trigger.margin
    if metric is None or rows is None or margin is None:  # parse_trigger sets all three
        raise InvalidInput("retraining.triggers", f"{trigger.text!r} is not a drop trigger")
    newest = observe.realized(metric, rows)
    if newest is None or newest.value is None:
        return None
    first = observe.realized(metric, rows, oldest=True)
    if first is None or first.value is None:
        return None
    starts = [first.value]
    for other in earlier or []:
        seen = other.realized(metric, rows, oldest=True)
        if seen is not None and seen.value is not None:
            starts.append(seen.value)
    baseline = sum(starts) / len(starts)
    worse = trigger.worse_by(baseline, newest.value)
    # a hair of rounding must not decide: 0.70 - 0.68 is 0.0199999... in floating point
    if worse < margin - 1e-9:
        return None
    way = "rose" if trigger.lower_is_better else "dropped"
    against = (
        f"over champion v{champion}'s first {rows}"
        if len(starts) == 1
        else f"the mean of the first {rows} of the last {len(starts)} champions "
        f"(v{champion}'s own {first.value:.4f})"
    )
    return (
        trigger.text,
        f"{metric} {way} by {worse:.4f}: {newest.value:.4f} over the last {rows} labelled "
        f"predictions against {baseline:.4f} {against}",
        {
            "value": newest.value,
            "baseline": baseline,
            "worse_by": worse,
            "labelled_rows": rows,
            "champions": len(starts),
        },
    )


def _guard(
    services: Services,
    model: str,
    policy: Policy,
    previous: retrains.Retrain | None,
    now: datetime,
) -> str | None:
    section = policy.retraining
    if previous is not None and section.min_interval is not None:
        gap = parse_duration(section.min_interval, "retraining.min_interval")
        if now - previous.created_at < gap:
            return (
                f"min_interval: the last retrain was {now - previous.created_at} ago, {gap} needed"
            )
    recent = retrains.started_since(services.stores.db, model, now - timedelta(days=1))
    if recent >= section.max_per_day:
        return f"max_per_day: {recent} retrains in the last 24 hours"
    return None


def _labels_since(labels: pd.DataFrame, since: datetime | None, now: datetime) -> int:
    import pandas as pd

    if labels.empty:
        return 0
    stamps = pd.to_datetime(labels["labelled_at"], utc=True)
    mask = stamps <= pd.Timestamp(now)
    if since is not None:
        mask &= stamps > pd.Timestamp(since)
    return int(mask.sum())
