"""Alerts and the notification outbox on SQLite and PostgreSQL: firing, de-duplication, reminders,
resolution, flapping suppression, acknowledgement, delivery after crashes, and routed events."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keel.client import Client
from keel.domain.alert_rules import AlertRule, parse_alert_rule
from keel.errors import Conflict, InvalidInput, NotFound
from keel.monitoring.alerts import (
    Observation,
    acknowledge,
    deliver_pending,
    evaluate_rules,
    list_alerts,
    list_notifications,
    route_events,
)
from keel.monitoring.sinks import DeliveryFailed, MemorySink

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
ACCURACY = parse_alert_rule("accuracy < 0.92 over the last 1,000 labelled predictions")
LATENCY = parse_alert_rule("latency_p99_ms > 50 as critical")


class Probe:
    """The observations a monitor would make; tests set ``values`` between evaluations."""

    def __init__(self, **values: float | None) -> None:
        self.values: dict[str, float | None] = dict(values)

    def __call__(self, rule: AlertRule) -> Observation | None:
        if rule.metric not in self.values:
            return None
        return Observation(self.values[rule.metric], details={"rows": 1000})


def evaluate(
    client: Client, probe: Probe, at: datetime, rules: list[AlertRule] | None = None
) -> dict[str, str]:
    changes = evaluate_rules(
        client.db,
        client.actor,
        "fraud",
        rules or [ACCURACY],
        probe,
        now=at,
        cooldown=HOUR,
    )
    return {c.alert.rule: c.transition for c in changes}


def queued(client: Client) -> list[str]:
    """Events queued for delivery (the sink-independent rows), oldest first."""
    rows = list_notifications(client.db, limit=1000)
    return [r["event"] for r in reversed(rows) if r["sink"] == "*"]


class Flaky(MemorySink):
    """A sink that fails its first ``failures`` sends, then works."""

    def __init__(self, failures: int, name: str = "ops") -> None:
        super().__init__(name)
        self.failures = failures
        self.calls = 0

    def send(self, payload: dict[str, Any]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise DeliveryFailed(self.name, 1, "HTTP 503")
        super().send(payload)


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing on the way catches it."""


class SendsThenDies(MemorySink):
    def send(self, payload: dict[str, Any]) -> None:
        super().send(payload)
        raise Crash


def test_fire_dedupe_remind_resolve_and_suppress_a_flap(client: Client) -> None:
    probe = Probe(accuracy=0.85)
    sink = MemorySink()
    assert evaluate(client, probe, T0) == {ACCURACY.text: "fired"}
    [alert] = list_alerts(client.db, "fraud")
    assert (alert.state, alert.value, alert.threshold, alert.occurrences) == (
        "firing",
        0.85,
        0.92,
        1,
    )
    assert alert.severity == "warning" and alert.fired_at == T0
    assert "0.85" in alert.message and alert.details == {"rows": 1000}

    probe.values["accuracy"] = 0.80  # still breached: the same alert, no second message
    assert evaluate(client, probe, T0 + timedelta(minutes=10)) == {ACCURACY.text: "unchanged"}
    [alert] = list_alerts(client.db, "fraud")
    assert (alert.value, alert.occurrences) == (0.80, 2)
    assert alert.last_seen_at == T0 + timedelta(minutes=10)
    assert queued(client) == ["alert.fired"]
    assert deliver_pending(client.db, [sink]) == {"sent": 1, "failed": 0, "pending": 0}
    assert [p["event"] for p in sink.payloads] == ["alert.fired"]
    fired = sink.payloads[0]
    assert fired["model"] == "fraud" and fired["alert"]["id"] == alert.id
    assert fired["alert"]["state"] == "firing" and fired["at"] == T0.isoformat()

    assert evaluate(client, probe, T0 + 59 * timedelta(minutes=1)) == {ACCURACY.text: "unchanged"}
    assert evaluate(client, probe, T0 + HOUR) == {ACCURACY.text: "reminded"}
    assert evaluate(client, probe, T0 + HOUR + timedelta(minutes=5)) == {ACCURACY.text: "unchanged"}

    probe.values["accuracy"] = 0.95
    assert evaluate(client, probe, T0 + 2 * HOUR) == {ACCURACY.text: "resolved"}
    assert evaluate(client, probe, T0 + 2 * HOUR + timedelta(minutes=1)) == {}
    [alert] = list_alerts(client.db, "fraud", state="resolved")
    assert alert.resolved_at == T0 + 2 * HOUR and alert.value == 0.95

    probe.values["accuracy"] = 0.90  # breached again within the cooldown: reopened quietly
    assert evaluate(client, probe, T0 + 2 * HOUR + timedelta(minutes=10)) == {
        ACCURACY.text: "refired"
    }
    [reopened] = list_alerts(client.db, "fraud")
    assert reopened.id == alert.id and reopened.state == "firing"
    assert reopened.resolved_at is None and reopened.occurrences == 6
    probe.values["accuracy"] = 0.99  # and gone again: nothing new to announce
    assert evaluate(client, probe, T0 + 2 * HOUR + timedelta(minutes=20)) == {
        ACCURACY.text: "resolved"
    }
    assert queued(client) == ["alert.fired", "alert.reminder", "alert.resolved"]
    assert deliver_pending(client.db, [sink]) == {"sent": 2, "failed": 0, "pending": 0}
    assert [p["event"] for p in sink.payloads] == [
        "alert.fired",
        "alert.reminder",
        "alert.resolved",
    ]
    assert sink.payloads[2]["alert"]["state"] == "resolved"
    assert len({p["delivery"] for p in sink.payloads}) == 3
    assert len(list_alerts(client.db)) == 1  # one row through it all

    actions = [e.action for e in client.audit_log(subject="model:fraud", limit=None)]
    assert actions[::-1] == ["alert.fire", "alert.resolve", "alert.fire", "alert.resolve"]
    fire = client.audit_log(subject="model:fraud", action="alert.fire", limit=None)[-1]
    assert fire.details["alert"] == alert.id and fire.details["rule"] == ACCURACY.text
    assert fire.details["value"] == 0.85 and fire.details["threshold"] == 0.92
    assert client.verify_audit().intact


def test_a_flap_that_persists_gets_a_reminder_a_cooldown_after_the_last_message(
    client: Client,
) -> None:
    probe = Probe(accuracy=0.5)
    evaluate(client, probe, T0)
    probe.values["accuracy"] = 0.99
    evaluate(client, probe, T0 + timedelta(minutes=30))  # resolved, announced
    probe.values["accuracy"] = 0.5
    assert evaluate(client, probe, T0 + timedelta(minutes=40)) == {ACCURACY.text: "refired"}
    assert evaluate(client, probe, T0 + timedelta(minutes=89)) == {ACCURACY.text: "unchanged"}
    assert evaluate(client, probe, T0 + timedelta(minutes=90)) == {ACCURACY.text: "reminded"}
    probe.values["accuracy"] = 0.99
    assert evaluate(client, probe, T0 + timedelta(minutes=95)) == {ACCURACY.text: "resolved"}
    assert queued(client) == [
        "alert.fired",
        "alert.resolved",
        "alert.reminder",
        "alert.resolved",
    ]
    # after the cooldown a new breach is a new alert, announced again
    probe.values["accuracy"] = 0.5
    assert evaluate(client, probe, T0 + timedelta(minutes=95) + HOUR) == {ACCURACY.text: "fired"}
    assert [a.state for a in list_alerts(client.db, "fraud")] == ["firing", "resolved"]


def test_no_data_changes_nothing(client: Client) -> None:
    probe = Probe(latency_p99_ms=80.0)
    rules = [ACCURACY, LATENCY]
    assert evaluate(client, probe, T0, rules) == {LATENCY.text: "fired"}  # accuracy: no data
    probe.values["latency_p99_ms"] = None
    assert evaluate(client, probe, T0 + 2 * HOUR, rules) == {LATENCY.text: "unchanged"}
    [alert] = list_alerts(client.db, "fraud")
    assert (alert.state, alert.severity, alert.occurrences, alert.value) == (
        "firing",
        "critical",
        1,
        80.0,
    )
    assert queued(client) == ["alert.fired"]


def test_acknowledge_stops_reminders_and_is_audited(client: Client) -> None:
    probe = Probe(accuracy=0.5)
    evaluate(client, probe, T0)
    [alert] = list_alerts(client.db, "fraud")
    with pytest.raises(InvalidInput) as empty:
        acknowledge(client.db, client.actor, alert.id, "  ")
    assert empty.value.field == "reason"
    acked = acknowledge(client.db, client.actor, alert.id, "retraining on fresh labels")
    assert (acked.state, acked.acknowledged_by) == ("acknowledged", "tester")
    assert acked.acknowledged_at is not None
    assert acked.details["acknowledgement"]["reason"] == "retraining on fresh labels"
    with pytest.raises(Conflict):
        acknowledge(client.db, client.actor, alert.id, "again")
    with pytest.raises(NotFound):
        acknowledge(client.db, client.actor, alert.id + 1000, "who?")

    assert evaluate(client, probe, T0 + 5 * HOUR) == {ACCURACY.text: "unchanged"}  # no reminder
    [still] = list_alerts(client.db, "fraud", state="acknowledged")
    assert still.occurrences == 2 and still.details["acknowledgement"]["by"] == "tester"
    assert [a.id for a in list_alerts(client.db, "fraud", state="open")] == [alert.id]
    probe.values["accuracy"] = 0.99
    assert evaluate(client, probe, T0 + 6 * HOUR) == {ACCURACY.text: "resolved"}
    with pytest.raises(Conflict) as resolved:
        acknowledge(client.db, client.actor, alert.id, "too late")
    assert resolved.value.fields["state"] == "resolved"
    assert queued(client) == ["alert.fired", "alert.resolved"]

    [entry] = client.audit_log(subject="model:fraud", action="alert.acknowledge", limit=None)
    assert entry.actor == "tester" and entry.details["alert"] == alert.id
    assert entry.details["reason"] == "retraining on fresh labels"
    assert client.verify_audit().intact
    with pytest.raises(InvalidInput):
        list_alerts(client.db, state="sleeping")


def test_undelivered_notifications_survive_and_are_sent_once_to_a_healthy_sink(
    client: Client,
) -> None:
    evaluate(client, Probe(accuracy=0.5), T0)  # queued; the process "dies" before delivering
    [event] = list_notifications(client.db)
    assert (event["sink"], event["status"], event["attempts"]) == ("*", "pending", 0)

    ops = Flaky(failures=1)
    assert deliver_pending(client.db, [ops]) == {"sent": 0, "failed": 1, "pending": 1}
    delivery = next(r for r in list_notifications(client.db) if r["sink"] == "ops")
    assert (delivery["status"], delivery["attempts"]) == ("pending", 1)
    assert "HTTP 503" in delivery["error"]
    assert delivery["payload"]["delivery"] == str(delivery["id"])

    assert deliver_pending(client.db, [ops]) == {"sent": 1, "failed": 0, "pending": 0}
    assert deliver_pending(client.db, [ops]) == {"sent": 0, "failed": 0, "pending": 0}
    assert [p["delivery"] for p in ops.payloads] == [str(delivery["id"])]
    rows = {r["sink"]: r for r in list_notifications(client.db)}
    assert rows["*"]["status"] == "dispatched"
    assert (rows["ops"]["status"], rows["ops"]["attempts"], rows["ops"]["error"]) == (
        "sent",
        2,
        None,
    )


def test_a_crash_after_sending_resends_with_the_same_delivery_id(client: Client) -> None:
    evaluate(client, Probe(accuracy=0.5), T0)
    dying = SendsThenDies("ops")
    with pytest.raises(Crash):
        deliver_pending(client.db, [dying])
    healthy = MemorySink("ops")
    assert deliver_pending(client.db, [healthy]) == {"sent": 1, "failed": 0, "pending": 0}
    assert dying.payloads == healthy.payloads  # the receiver drops it by X-Keel-Delivery


def test_failures_stop_after_max_attempts_and_other_sinks_still_get_theirs(
    client: Client,
) -> None:
    evaluate(client, Probe(accuracy=0.5), T0)
    broken, fine = Flaky(failures=99, name="broken"), MemorySink("fine")
    assert deliver_pending(client.db, [broken, fine], max_attempts=2) == {
        "sent": 1,
        "failed": 1,
        "pending": 1,
    }
    assert deliver_pending(client.db, [broken, fine], max_attempts=2) == {
        "sent": 0,
        "failed": 1,
        "pending": 0,
    }
    assert deliver_pending(client.db, [broken, fine], max_attempts=2)["failed"] == 0
    assert broken.calls == 2 and len(fine.payloads) == 1
    rows = {r["sink"]: r for r in list_notifications(client.db)}
    assert (rows["broken"]["status"], rows["broken"]["attempts"]) == ("failed", 2)
    assert rows["fine"]["status"] == "sent"
    with pytest.raises(InvalidInput):
        deliver_pending(client.db, [fine, MemorySink("fine")])


def test_delivery_can_be_limited_to_one_model(client: Client) -> None:
    evaluate(client, Probe(accuracy=0.5), T0)
    sink = MemorySink()
    assert deliver_pending(client.db, [sink], model="other") == {
        "sent": 0,
        "failed": 0,
        "pending": 0,
    }
    assert deliver_pending(client.db, [sink], model="fraud")["sent"] == 1


def test_route_events_delivers_the_models_matching_events_once(
    client: Client, fitted_model: Any
) -> None:
    client.register_model("fraud", fitted_model)
    client.register_model("fraud", fitted_model)
    client.register_model("fraud-v2", fitted_model)  # a name that shares the prefix
    client.set_alias("fraud", "champion", 1, reason="first")
    client.set_alias("fraud-v2", "champion", 1, reason="other model")
    client.archive_version("fraud/2", reason="not needed")  # not a routed action
    patterns = ["version.register", "alias.*"]

    assert route_events(client.db, "fraud", []) == 0  # nothing configured: nothing read
    assert route_events(client.db, "fraud", patterns) == 3
    assert route_events(client.db, "fraud", patterns) == 0
    sink = MemorySink()
    assert deliver_pending(client.db, [sink])["sent"] == 3
    assert [(p["event"], p["subject"]) for p in sink.payloads] == [
        ("version.register", "model:fraud/1"),
        ("version.register", "model:fraud/2"),
        ("alias.set", "model:fraud"),
    ]
    alias = sink.payloads[2]
    assert alias["model"] == "fraud" and alias["actor"] == "tester"
    assert alias["details"]["alias"] == "champion" and alias["details"]["reason"] == "first"
    assert alias["seq"] > sink.payloads[1]["seq"] and alias["delivery"]

    client.register_model("fraud", fitted_model)
    client.set_alias("fraud", "champion", 3, reason="better")
    assert route_events(client.db, "fraud", ["alias.set"]) == 1  # resumes from its cursor
    assert route_events(client.db, "fraud", patterns) == 0  # the version was passed over
    deliver_pending(client.db, [sink])
    assert [p["event"] for p in sink.payloads[3:]] == ["alias.set"]
    assert sink.payloads[3]["details"]["version"] == 3
    assert route_events(client.db, "fraud-v2", patterns) == 2
    assert client.verify_audit().intact


def race(action: Callable[[], Any], threads: int = 2) -> list[Any]:
    """Run ``action`` in several threads released at once; re-raise the first error."""
    barrier = threading.Barrier(threads)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(action())
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    return results


def test_concurrent_evaluators_raise_one_alert_and_one_message(client: Client) -> None:
    results = race(lambda: evaluate(client, Probe(accuracy=0.5), T0))
    assert sorted(r[ACCURACY.text] for r in results) == ["fired", "unchanged"]
    assert len(list_alerts(client.db)) == 1
    assert queued(client) == ["alert.fired"]


def test_concurrent_routers_queue_each_event_once(client: Client, fitted_model: Any) -> None:
    for _ in range(3):
        client.register_model("fraud", fitted_model)
    results = race(lambda: route_events(client.db, "fraud", ["version.*"]))
    assert sorted(results) == [0, 3]
    assert queued(client) == ["version.register"] * 3


def test_invalid_arguments_are_refused(client: Client) -> None:
    with pytest.raises(InvalidInput):
        evaluate_rules(
            client.db,
            "x",
            "fraud",
            [ACCURACY],
            Probe(),
            now=datetime(2026, 1, 1),  # naive
            cooldown=HOUR,
        )
    with pytest.raises(InvalidInput):
        evaluate_rules(client.db, "x", "no such/model", [ACCURACY], Probe(), now=T0, cooldown=HOUR)
    with pytest.raises(InvalidInput):
        deliver_pending(client.db, [MemorySink()], max_attempts=0)
