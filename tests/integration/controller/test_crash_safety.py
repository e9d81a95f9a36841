"""Killing the autopilot mid-retrain: a subprocess drives a retrain on a SQLite file store and
SIGKILLs itself at an injected point (just before or just after a committed step); a fresh
autopilot then takes the retrain over once the dead one's lease ran out and finishes it.

Whatever the point: one retrain for the trigger, one pipeline run, one candidate version per
retrain, one champion, no deployment left running, and an intact audit chain.
"""

from __future__ import annotations

import copy
import shutil
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from keel.client import Client
from keel.controller import retrains
from keel.controller.autopilot import Autopilot, Decision
from keel.registry.clock import utcnow
from keel.registry.service import Registry

from .scenario import POLICY, START, batch, launch, log_served, serve

MODEL = "risk"
TRIGGER = POLICY["retraining"]["triggers"][0]

#: run one autopilot pass, dying at ``target:name:when`` (step: pipeline step finished; move: the
#: retrain moved to a state; deploy: the deployment written)
CRASHER = textwrap.dedent(
    """
    import os
    import signal
    import sys
    from datetime import datetime

    import keel.controller.retrains as retrains
    import keel.pipelines.records as records
    import keel.rollout.actions as actions
    from keel.client import Client
    from keel.controller.autopilot import Autopilot

    store, artifacts, now, point = sys.argv[1:5]
    target, name, when = point.split(":")


    def die():
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)


    def wrap(module, attr, hit):
        real = getattr(module, attr)

        def patched(*args, **kwargs):
            chosen = hit(args, kwargs)
            if chosen and when == "before":
                die()
            result = real(*args, **kwargs)
            if chosen and when == "after":
                die()
            return result

        setattr(module, attr, patched)


    if target == "step":  # finish_step(db, run_id, name, *, status, ...)
        wrap(records, "finish_step", lambda a, k: a[2] == name and k["status"] == "succeeded")
    elif target == "move":  # move(db, actor, retrain, owner, state, ...)
        wrap(retrains, "move", lambda a, k: a[4] == name)
    else:
        wrap(actions, "deploy_with_policy", lambda a, k: True)
    client = Client(store, artifacts, actor="autopilot")
    for decision in Autopilot(client).reconcile_all(now=datetime.fromisoformat(now)):
        print(decision.action, decision.reason, flush=True)
    print("survived", flush=True)
    """
)


def _build(folder: Path, policy: dict[str, Any], start: datetime) -> datetime:
    """v1 champion, two healthy hours, then four hours after the flip: enough fresh labelled
    rows for the first retrain to be blessed. Returns the time of the pass."""
    with Client(f"sqlite:///{folder / 'keel.db'}", str(folder / "artifacts")) as client:
        launch(client, MODEL, policy)
        at = start
        for i in range(6):
            serve(client, MODEL, 200, 10 + i, flipped=i >= 2, at=at)
            at += timedelta(hours=1)
    return at


@pytest.fixture(scope="module")
def replace_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, datetime]:
    folder = tmp_path_factory.mktemp("replace-world")
    return folder, _build(folder, POLICY, START)


CANARY = {
    **copy.deepcopy(POLICY),
    "rollout": {
        "strategy": "canary",
        "steps": [50, 100],
        "interval": "1m",
        "auto_rollback": True,
        "min_rows_per_step": 100,
        "min_labelled_rows": 50,
    },
}


@pytest.fixture(scope="module")
def canary_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, datetime]:
    folder = tmp_path_factory.mktemp("canary-world")
    return folder, _build(folder, CANARY, START)


def _crash(world: tuple[Path, datetime], tmp_path: Path, point: str) -> tuple[Client, datetime]:
    """Copy the world, run the crashing autopilot on it, and open the copy."""
    template, now = world
    folder = tmp_path / "world"
    shutil.copytree(template, folder)
    script = tmp_path / "crasher.py"
    script.write_text(CRASHER)
    store, artifacts = f"sqlite:///{folder / 'keel.db'}", str(folder / "artifacts")
    done = subprocess.run(
        [sys.executable, str(script), store, artifacts, now.isoformat(), point],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, (done.stdout, done.stderr)
    assert "survived" not in done.stdout
    return Client(store, artifacts, actor="autopilot-2"), now


def _later() -> datetime:
    """A lease clock a minute ahead: the dead autopilot's heartbeat is that old, so its lease
    has lapsed (three 5 s heartbeats), without waiting for it."""
    return utcnow() + timedelta(minutes=1)


def _take_over(client: Client, now: datetime, until: str = "ended") -> list[Decision]:
    """Fresh autopilot passes, a minute after the dead one's last heartbeat, until the retrain
    ended (or reached ``until``)."""
    pilot = Autopilot(client, clock=_later)
    decisions: list[Decision] = []
    for _ in range(20):
        out = pilot.reconcile(MODEL, now)
        decisions += out
        assert not any(d.action == "busy" for d in out), decisions
        current = retrains.active(client.db, MODEL)
        if current is None or current.state == until:
            return decisions
    raise AssertionError(decisions)


def _assert_sound(client: Client) -> retrains.Retrain:
    """One retrain, one run, one version per retrain, one champion, nothing left running."""
    made = client.retrains(MODEL)
    assert [r.trigger for r in made] == [TRIGGER]
    retrain = made[0]
    assert len(client.pipeline_runs(MODEL)) == 1
    assert client.pipeline_runs(MODEL)[0].id == retrain.pipeline_run_id
    assert client.pipeline_run(str(retrain.pipeline_run_id)).status == "succeeded"
    versions = client.list_versions(MODEL)
    tagged = Counter(v.tags.get("retrain") for v in versions if "retrain" in v.tags)
    assert tagged == {str(retrain.id): 1}
    assert sorted(v.version for v in versions) == [1, 2]
    assert retrain.candidate_version == 2
    assert all(d.status != "running" for d in client.deployments(MODEL))
    moved = Counter(e.action for e in client.audit_log(limit=None))
    assert moved["retrain.request"] == 1 and moved["retrain.training"] == 1
    assert sum(moved[f"retrain.{state}"] for state in retrains.ENDED) == 1
    verified = client.verify_audit()
    assert verified.intact, verified.reason
    return retrain


@pytest.mark.parametrize(
    ("point", "left"),
    [
        pytest.param("step:candidate:before", ("training", [1], "pending", 0), id="mid-training"),
        pytest.param(
            "step:registered:before",
            ("training", [1, 2], "running", 0),
            id="version-registered-step-not-recorded",
        ),
        pytest.param(
            "step:registered:after",
            ("training", [1, 2], "succeeded", 0),
            id="after-registered-committed",
        ),
        pytest.param(
            "move:deploying:after", ("deploying", [1, 2], "succeeded", 0), id="blessed-not-deployed"
        ),
        pytest.param(
            "deploy:any:after",
            ("deploying", [1, 2], "succeeded", 1),
            id="deployed-retrain-not-moved",
        ),
    ],
)
def test_a_killed_autopilot_is_taken_over_and_the_retrain_ends_once(
    replace_world: tuple[Path, datetime],
    tmp_path: Path,
    point: str,
    left: tuple[str, list[int], str, int],
) -> None:
    client, now = _crash(replace_world, tmp_path, point)
    with client:
        [dead] = client.retrains(MODEL)  # what the killed autopilot left in flight
        state, versions, registered, deployed = left
        assert dead.state == state
        assert sorted(v.version for v in client.list_versions(MODEL)) == versions
        steps = {s.name: s.status for s in client.pipeline_run(str(dead.pipeline_run_id)).steps}
        assert steps["registered"] == registered
        if point == "step:candidate:before":
            assert steps["candidate"] == "running"
        assert len(client.deployments(MODEL)) == deployed

        decisions = _take_over(client, now)
        retrain = _assert_sound(client)
        assert retrain.state == "promoted", decisions
        assert client.get_version(f"models:/{MODEL}@champion").version == 2
        assert len(client.deployments(MODEL)) == 1  # never deployed twice
        [moved] = [m for m in client.alias_history(MODEL, "champion") if m.version == 2]
        assert f"retrain #{retrain.id}" in moved.reason
        later = Autopilot(client).reconcile(MODEL, now + timedelta(minutes=5))
        assert later[-1].action == "idle"  # the new champion has no evidence against it yet
        assert len(client.retrains(MODEL)) == 1


def test_a_canary_started_before_the_crash_is_adopted_not_started_twice(
    canary_world: tuple[Path, datetime], tmp_path: Path
) -> None:
    client, now = _crash(canary_world, tmp_path, "deploy:any:after")
    with client:
        [running] = [d for d in client.deployments(MODEL) if d.status == "running"]
        _take_over(client, now, until="rolling_out")
        retrain = client.retrains(MODEL)[0]
        assert retrain.state == "rolling_out" and retrain.deployment_id == running.id
        candidate = int(retrain.candidate_version or 0)
        at = now
        for k in range(2):  # the router's split: half the traffic on each version
            frame = batch(240, 100 + k, flipped=True)
            log_served(client, MODEL, frame.iloc[:120], at, version=candidate)
            log_served(client, MODEL, frame.iloc[120:], at, version=1)
            at += timedelta(minutes=2)
            Autopilot(client).reconcile(MODEL, at)
        retrain = _assert_sound(client)
        assert retrain.state == "promoted", retrain.outcome
        assert [d.id for d in client.deployments(MODEL)] == [running.id]
        assert client.get_version(f"models:/{MODEL}@champion").version == candidate


#: ``keel retrain``'s work (Client.retrain) on the lease clock ``argv[4]``, SIGKILLed in the middle
#: of a step: while the candidate step trains
KILLED_RETRAIN = textwrap.dedent(
    """
    import os
    import signal
    import sys
    from datetime import datetime

    import keel.controller.retrain_fitting as retrain_fitting
    from keel.client import Client
    from keel.registry.clock import replayed

    store, artifacts, now, clock = sys.argv[1:5]
    moment, beat = datetime.fromisoformat(now), datetime.fromisoformat(clock)


    def die(*args, **kwargs):
        print("training", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


    retrain_fitting._fit = die
    with replayed(lambda: beat), Client(store, artifacts, actor="first") as client:
        client.retrain("risk", reason="new bureau data", now=moment)
    print("survived", flush=True)
    """
)


def test_a_sigkilled_retrain_is_taken_over_once_its_heartbeat_is_stale(
    replace_world: tuple[Path, datetime], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The killed process stops beating: ``keel retrain --takeover`` is refused while its last
    heartbeat is younger than the lease (3 x 5 s), and drives the retrain to its end after."""
    import json

    from keel.cli.app import main
    from keel.registry.clock import replayed

    template, now = replace_world
    folder = tmp_path / "world"
    shutil.copytree(template, folder)
    script = tmp_path / "killed.py"
    script.write_text(KILLED_RETRAIN)
    store, artifacts = f"sqlite:///{folder / 'keel.db'}", str(folder / "artifacts")
    beat = utcnow().replace(microsecond=0)  # the killed process's lease clock stands still here
    done = subprocess.run(
        [sys.executable, str(script), store, artifacts, now.isoformat(), beat.isoformat()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, (done.stdout, done.stderr)
    assert done.stdout.split() == ["training"]
    with Client(store, artifacts, actor="ann") as client:
        [dead] = client.retrains(MODEL)
        assert (dead.state, dead.heartbeat_at, dead.lease_until) == (
            "training",
            beat,
            beat + timedelta(seconds=15),
        )
        steps = {s.name: s.status for s in client.pipeline_run(str(dead.pipeline_run_id)).steps}
        assert steps["candidate"] == "running"
    options = ["--store", store, "--artifacts", artifacts]

    with replayed(lambda: beat + timedelta(seconds=5)):  # its heartbeat is 5 s old: alive
        assert main([*options, "retrain", MODEL, "--takeover"]) == 4
        refused = capsys.readouterr().err
        assert f"held by {dead.lease_owner}, last heartbeat 5 s ago" in refused
        with Client(store, artifacts, actor="autopilot") as client:
            busy = Autopilot(client, monitor=False).reconcile(MODEL, now)
            assert [d.action for d in busy] == ["busy"]
        assert main([*options, "retrain", MODEL, "--reason", "again"]) == 4
        assert "--takeover" in capsys.readouterr().err

    with replayed(lambda: beat + timedelta(minutes=1)):  # 60 s without a beat: taken over
        assert main([*options, "retrain", MODEL, "--takeover", "--json"]) == 0
        decisions = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    actions = [d["action"] for d in decisions]
    assert actions[0] == "takeover" and dead.lease_owner in decisions[0]["reason"]
    assert actions[-1] == "promoted", decisions
    with Client(store, artifacts, actor="ann") as client:
        [retrain] = client.retrains(MODEL)
        assert (retrain.id, retrain.state, retrain.candidate_version) == (dead.id, "promoted", 2)
        assert retrain.lease_owner is None and not retrain.active
        [run] = client.pipeline_runs(MODEL)
        assert run.id == dead.pipeline_run_id and run.status == "succeeded"
        assert sorted(v.version for v in client.list_versions(MODEL)) == [1, 2]
        assert client.get_version(f"models:/{MODEL}@champion").version == 2
        [entry] = [e for e in client.audit_log(limit=None) if e.action == "retrain.takeover"]
        assert entry.details["from"] == dead.lease_owner
        assert entry.details["heartbeat_at"] == beat.isoformat()
        assert client.verify_audit().intact


def test_a_retrain_paused_past_its_lease_never_registers_a_second_version(
    replace_world: tuple[Path, datetime], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Controller A checks that its retrain has no version yet, then pauses (a long GC pause:
    no heartbeat either) past its lease. Controller B takes the retrain over, registers the
    version and finishes. A resumes its registration: the store refuses a second version for
    the retrain, A uses B's, and A's next move finds the retrain moved. Deterministic: A's
    pause is B's whole pass, run from inside A's step; the lease clock is a fake one."""
    from keel.registry.clock import replayed

    template, now = replace_world
    folder = tmp_path / "world"
    shutil.copytree(template, folder)
    store, artifacts = f"sqlite:///{folder / 'keel.db'}", str(folder / "artifacts")
    clock = {"now": utcnow()}
    first_client = Client(store, artifacts, actor="first")
    second_client = Client(store, artifacts, actor="second")
    first = Autopilot(
        first_client, monitor=False, heartbeat_s=0, lease_s=60, clock=lambda: clock["now"]
    )
    second = Autopilot(
        second_client, monitor=False, heartbeat_s=0, lease_s=60, clock=lambda: clock["now"]
    )
    seen: list[Decision] = []
    real = Registry.register_snapshot

    def paused(self: Registry, *args: Any, **kwargs: Any) -> Any:
        if self.stores.actor == "first" and not seen:  # A checked "registered already?": it was not
            clock["now"] += timedelta(minutes=2)  # A's 60 s lease lapses while it is paused
            seen.extend(second.reconcile(MODEL, now))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Registry, "register_snapshot", paused)
    with first_client, second_client, replayed(lambda: clock["now"]):
        queued = first.request(MODEL, reason="new bureau data", now=now)
        decisions = first.reconcile_all(now=now, models=[MODEL])
        assert [d.action for d in seen][-1] == "promoted", seen
        assert (decisions[-1].action, decisions[-1].retrain) == ("error", None), decisions
        assert "moved by another controller" in decisions[-1].reason

        [retrain] = first_client.retrains(MODEL)
        assert (retrain.id, retrain.state, retrain.candidate_version) == (queued.id, "promoted", 2)
        versions = first_client.list_versions(MODEL)
        assert sorted(v.version for v in versions) == [1, 2]  # never a second for the retrain
        from keel.registry.models import registered_by_retrain

        mine = registered_by_retrain(first_client.db, retrain.id)
        assert mine is not None and mine.version == 2
        assert first_client.get_version(f"models:/{MODEL}@champion").version == 2
        [run] = first_client.pipeline_runs(MODEL)
        assert run.id == retrain.pipeline_run_id and run.status == "succeeded"
        [entry] = [e for e in first_client.audit_log(limit=None) if e.action == "retrain.takeover"]
        assert (entry.details["from"], entry.details["to"]) == (first.owner, second.owner)
        assert first_client.verify_audit().intact
