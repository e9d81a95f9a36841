"""A retrain's lease lives as long as its holder's heartbeat: renewed by each beat, lapsing a
few beats after the last one, taken over then (and audited), never while the beat is live.

Every time here comes from a fake clock handed to the lease functions; the one test of the
background thread waits for beats to have happened, not for time to pass.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from keel.client import Client
from keel.controller import retrains
from keel.controller.autopilot import Autopilot
from keel.controller.heartbeat import Heartbeat
from keel.errors import Conflict, InvalidInput

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=15)  # three heartbeats of 5 s


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _queued(client: Client) -> retrains.Retrain:
    return retrains.request(client.db, "ann", "risk", trigger="manual", reason="new data", now=T0)


def test_the_lease_lives_while_its_holder_beats_and_is_taken_over_after(client: Client) -> None:
    retrain = _queued(client)
    db = client.db
    assert retrains.take_lease(db, retrain.id, "first", LEASE, now=_at(0))
    held = retrains.get(db, retrain.id)
    assert (held.lease_owner, held.heartbeat_at, held.lease_until) == ("first", _at(0), _at(15))

    assert not retrains.take_lease(db, retrain.id, "second", LEASE, now=_at(10))
    assert retrains.beat(db, retrain.id, "first", LEASE, now=_at(10))
    assert retrains.get(db, retrain.id).lease_until == _at(25)
    # past the first lease, but the holder beat 10 s ago: alive, not taken over
    assert not retrains.take_lease(db, retrain.id, "second", LEASE, now=_at(20))
    assert not [e for e in client.audit_log(limit=None) if e.action == "retrain.takeover"]

    assert retrains.take_lease(db, retrain.id, "second", LEASE, now=_at(26), actor="bob")
    taken = retrains.get(db, retrain.id)
    assert (taken.lease_owner, taken.heartbeat_at) == ("second", _at(26))
    assert not retrains.beat(db, retrain.id, "first", LEASE, now=_at(27))  # it lost the lease
    [entry] = [e for e in client.audit_log(limit=None) if e.action == "retrain.takeover"]
    assert entry.actor == "bob" and entry.subject == "risk"
    assert entry.details == {
        "retrain": retrain.id,
        "state": "queued",
        "from": "first",
        "to": "second",
        "heartbeat_at": _at(10).isoformat(),
        "lease_until": _at(25).isoformat(),
    }
    assert client.verify_audit().intact


def test_a_stale_heartbeat_loses_even_a_long_lease(client: Client) -> None:
    """A lease written long (an older Keel, a long ``--lease``) is judged by its heartbeat."""
    retrain = _queued(client)
    assert retrains.take_lease(client.db, retrain.id, "old", timedelta(minutes=15), now=_at(0))
    assert not retrains.take_lease(client.db, retrain.id, "new", LEASE, now=_at(14))
    assert retrains.take_lease(client.db, retrain.id, "new", LEASE, now=_at(16))


def test_an_ended_retrain_has_no_lease_to_take(client: Client) -> None:
    retrain = _queued(client)
    assert retrains.take_lease(client.db, retrain.id, "first", LEASE, now=_at(0))
    retrains.move(client.db, "ann", retrain, "first", "abandoned", reason="not needed", now=T0)
    assert not retrains.take_lease(client.db, retrain.id, "second", LEASE, now=_at(60))
    assert not retrains.beat(client.db, retrain.id, "first", LEASE, now=_at(1))


def test_the_heartbeat_thread_renews_the_lease_on_its_clock(client: Client) -> None:
    retrain = _queued(client)
    assert retrains.take_lease(client.db, retrain.id, "first", LEASE, now=_at(0))
    ticks = iter(range(1, 10_000))
    two = threading.Event()

    def clock() -> datetime:
        moment = _at(5 * next(ticks))
        if moment >= _at(10):
            two.set()
        return moment

    with Heartbeat(client.db, retrain.id, "first", every_s=0.01, lease=LEASE, clock=clock) as beats:
        assert two.wait(timeout=60), "the heartbeat thread never beat twice"
    assert beats.beats >= 2 and not beats.lost
    held = retrains.get(client.db, retrain.id)
    assert held.heartbeat_at is not None and held.heartbeat_at >= _at(10)
    assert held.lease_until == held.heartbeat_at + LEASE

    assert retrains.take_lease(
        client.db, retrain.id, "second", LEASE, now=held.heartbeat_at + timedelta(seconds=16)
    )
    stopped = Heartbeat(client.db, retrain.id, "first", every_s=1, lease=LEASE, clock=clock)
    assert not stopped.beat() and stopped.lost


def test_take_over_refuses_a_live_heartbeat_and_says_whose(client: Client) -> None:
    fake = {"now": _at(0)}
    pilot = Autopilot(client, monitor=False, clock=lambda: fake["now"])
    assert pilot.lease == LEASE and pilot.heartbeat_s == 5.0  # the settings' defaults
    retrain = _queued(client)
    assert retrains.take_lease(client.db, retrain.id, "killed-host:4242:abc", LEASE, now=_at(0))
    fake["now"] = _at(6)
    with pytest.raises(Conflict) as refused:
        pilot.take_over("risk")
    assert "held by killed-host:4242:abc, last heartbeat 6 s ago" in refused.value.message
    assert "older than 15 s" in refused.value.message
    assert retrains.get(client.db, retrain.id).lease_owner == "killed-host:4242:abc"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"lease_s": 4.0}, "lease"),  # shorter than a heartbeat
        ({"heartbeat_misses": 1}, "heartbeat_misses"),
        ({"heartbeat_s": float("nan")}, "heartbeat"),
    ],
)
def test_a_lease_a_live_process_could_lose_is_refused(
    client: Client, options: dict[str, float], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        Autopilot(client, **options)  # type: ignore[arg-type]
    assert refused.value.field == field
