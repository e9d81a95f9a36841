"""The four doors are one: the SDK's ``Client``, the CLI, the management API and the dashboard's
actions call the same service methods, so the same script of alias moves, deployments,
rollbacks and promotions leaves the same store behind, whichever door it went through.

Each door gets a fresh store built identically (two versions, a policy that promotes only an
approved version and deploys by canary, an approval of version 2, a champion, a logged batch of
predictions and an admin token named ``ann``), runs the script as ``ann``, and the store's
aliases, alias history, deployments (with the prediction log's position their analysis starts
from), notifications and the audit entries the script wrote are compared with the SDK's,
without ids, timestamps and hashes. The two HTTP doors go through a real server (``python -m
keel.cli.serve`` on 127.0.0.1), which mounts the management API and the dashboard.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from keel.cli.app import app
from keel.client import Client
from keel.monitoring.alerts import list_notifications
from keel.registry import tokens
from keel.rollout.window import log_position
from keel.settings import Settings
from tests.integration.serving.conftest import Server, assert_clean, start_server, stop_server

pytestmark = pytest.mark.slow

MODEL = "doors4"
ACTOR = "ann"
#: version 2 is approved and 1 is not, so moving the champion back to 1 needs ``force``
POLICY = {
    "promotion": {"require_approval": True},
    "rollout": {"strategy": "canary", "steps": [10, 50, 100], "interval": "5m"},
}
#: stands for the prediction log's position at the end of the script (nothing is logged during
#: it, so a deployment that recorded its start position recorded this one)
LOG_END = "<the log's position>"
#: keys of a record that name when it happened or which row it is, never what happened
MOMENTS = {"id", "seq", "at", "hash", "prev_hash", "created_at", "updated_at", "moved_at"}
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}")


class Door(Protocol):
    """One face of Keel, acting as ``ann`` on one store; every call must succeed."""

    def set_alias(self, alias: str, version: int, reason: str, force: bool = False) -> None: ...
    def deploy(self, version: int, strategy: str, reason: str) -> None: ...
    def rollback(self, reason: str) -> None: ...
    def promote(self, version: int, reason: str, force: bool = False) -> str: ...


def script(door: Door) -> list[str]:
    """What every door does, with the same arguments; returns what each promotion did."""
    door.set_alias("staging", 2, "stage the retrained version")
    door.deploy(2, "canary", "canary of the retrained version")
    door.rollback("the canary's latency looked off")
    done = [door.promote(2, "latency fixed upstream: replace at once")]
    door.set_alias("champion", 1, "back to the first version for the audit", force=True)
    door.deploy(2, "canary", "second canary")
    done.append(door.promote(2, "the second canary held"))
    return done


# -- the doors ------------------------------------------------------------------------------------
class SdkDoor:
    def __init__(self, client: Client) -> None:
        self.client = client

    def set_alias(self, alias: str, version: int, reason: str, force: bool = False) -> None:
        self.client.set_alias(MODEL, alias, version, reason=reason, force=force)

    def deploy(self, version: int, strategy: str, reason: str) -> None:
        self.client.deploy(MODEL, version, strategy=strategy, reason=reason)

    def rollback(self, reason: str) -> None:
        self.client.rollback(MODEL, reason=reason)

    def promote(self, version: int, reason: str, force: bool = False) -> str:
        action, _ = self.client.promote(MODEL, version, reason=reason, force=force)
        return action


class CliDoor:
    def __init__(self, settings: Settings) -> None:
        self.options = [
            "--store", settings.store_url, "--artifacts", settings.artifacts, "--user", ACTOR
        ]  # fmt: skip

    def run(self, *args: str) -> str:
        result = CliRunner().invoke(app, [*self.options, *args])
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result.stdout

    def set_alias(self, alias: str, version: int, reason: str, force: bool = False) -> None:
        forced = ["--force"] if force else []
        self.run("alias", "set", MODEL, alias, str(version), "--reason", reason, *forced)

    def deploy(self, version: int, strategy: str, reason: str) -> None:
        self.run("deploy", MODEL, "--version", str(version), "--strategy", strategy,
                 "--reason", reason)  # fmt: skip

    def rollback(self, reason: str) -> None:
        self.run("rollback", MODEL, "--reason", reason)

    def promote(self, version: int, reason: str, force: bool = False) -> str:
        import json

        forced = ["--force"] if force else []
        out = self.run("promote", MODEL, str(version), "--reason", reason, "--json", *forced)
        return str(json.loads(out)["action"])


class HttpDoor:
    """The management API (``/v1/manage``) or the dashboard's actions (``/ui/api``), with the
    admin token named ``ann``."""

    def __init__(self, http: httpx.Client, prefix: str) -> None:
        self.http = http
        self.prefix = prefix

    def send(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.http.request(method, f"{self.prefix}/models/{MODEL}{path}", json=body)
        assert answer.status_code == 200, (method, path, answer.status_code, answer.text)
        found: dict[str, Any] = answer.json()
        return found

    def set_alias(self, alias: str, version: int, reason: str, force: bool = False) -> None:
        body = {"version": version, "reason": reason, "force": force}
        self.send("PUT", f"/aliases/{alias}", body)

    def deploy(self, version: int, strategy: str, reason: str) -> None:
        self.send("POST", "/deploy", {"version": version, "strategy": strategy, "reason": reason})

    def rollback(self, reason: str) -> None:
        self.send("POST", "/rollback", {"reason": reason})

    def promote(self, version: int, reason: str, force: bool = False) -> str:
        body = {"version": version, "reason": reason, "force": force}
        return str(self.send("POST", "/promote", body)["action"])


# -- the stores -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def build(
    tmp_path_factory: pytest.TempPathFactory, cancer_frame: pd.DataFrame, two_models: Any
) -> Any:
    """Makes a fresh store, the same each time; returns its settings, the admin token of
    ``ann`` and the audit sequence number its building ended at."""

    def made(name: str) -> tuple[Settings, str, int]:
        folder = tmp_path_factory.mktemp(name)
        settings = Settings(
            store_url=f"sqlite:///{folder / 'keel.db'}",
            artifacts=str(folder / "art"),
            actor="builder",
        )
        with Client(settings=settings) as client:
            snapshot = client.register_snapshot(cancer_frame, "cancer")
            for model in two_models:
                client.register_model(MODEL, model, training_data=snapshot, target="target")
            client.set_alias(MODEL, "champion", 1, reason="first release")
            client.set_policy(MODEL, POLICY)
            client.approve(f"{MODEL}/2", reason="reviewed")
            features = cancer_frame.drop(columns=["target"]).head(40)
            client.log_predictions(MODEL, features, predictions=two_models[0].predict(features))
            secret = tokens.create(client.db, "builder", "admin", ACTOR)[0]
            built = client.audit_log(limit=1)[0].seq
        return settings, secret, built

    return made


@contextmanager
def served(settings: Settings, token: str) -> Iterator[httpx.Client]:
    """A real server over the store, stopped (and its output checked) when done."""
    server: Server = start_server(settings, Path(settings.artifacts).parent, "--poll", "0.2")
    try:
        with server.client(headers={"Authorization": f"Bearer {token}"}) as http:
            yield http
    finally:
        assert_clean(stop_server(server))


def through(door: str, settings: Settings, token: str) -> list[str]:
    """Run the script through ``door`` on the store of ``settings``."""
    if door == "sdk":
        with Client(settings=settings.model_copy(update={"actor": ACTOR})) as client:
            return script(SdkDoor(client))
    if door == "cli":
        return script(CliDoor(settings))
    prefix = {"management": "/v1/manage", "dashboard": "/ui/api"}[door]
    with served(settings, token) as http:
        return script(HttpDoor(http, prefix))


# -- what the store holds -----------------------------------------------------------------------
def plain(value: Any, log_end: str) -> Any:
    """``value`` without the keys that say when or which row, times as ``<time>``, and the
    log's current position (a part's key, which names when it was written) as ``LOG_END``."""
    if isinstance(value, str) and value == log_end:
        return LOG_END
    if isinstance(value, dict):
        return {
            key: plain(item, log_end)
            for key, item in value.items()
            if key not in MOMENTS and not key.endswith("_at")
        }
    if isinstance(value, list | tuple):
        return [plain(item, log_end) for item in value]
    if isinstance(value, str) and ISO_TIME.match(value):
        return "<time>"
    return value


def snapshot(settings: Settings, built: int) -> dict[str, Any]:
    """What the store holds that the script could have changed, comparable across stores."""
    with Client(settings=settings) as client:
        end = log_position(client.logs, MODEL)
        assert end, "the store's prediction log holds a part, so its position names it"
        moves = client.alias_history(MODEL)
        audit = [e for e in client.audit_log(limit=None) if e.seq > built]
        return {
            "aliases": {p.alias: p.version for p in client.alias_periods(MODEL) if p.end is None},
            "alias history": [
                (m.alias, m.version, m.previous_version, m.moved_by, m.reason) for m in moves
            ],
            "deployments": [plain(d.to_dict(), end) for d in client.deployments(MODEL)],
            "notifications": [
                (n["event"], n["sink"]) for n in list_notifications(client.db, None, 100)
            ],
            "audit": [
                (e.action, e.subject, e.actor, plain(e.details, end)) for e in reversed(audit)
            ],
        }


@pytest.fixture(scope="module")
def by_sdk(build: Any) -> dict[str, Any]:
    settings, token, built = build("sdk")
    assert through("sdk", settings, token) == ["champion_replaced", "deployment_promoted"]
    found = snapshot(settings, built)
    assert found["aliases"] == {"champion": 2, "staging": 2}
    canaries = [d for d in found["deployments"] if d["strategy"] == "canary"]
    assert [d["analysis"][0]["position"] for d in canaries] == [LOG_END, LOG_END]
    assert {actor for _, _, actor, _ in found["audit"]} == {ACTOR}
    forced = [d for action, _, _, d in found["audit"] if action == "alias.set" and d["forced"]]
    assert [d["version"] for d in forced] == [1]  # the one move past the policy, as overridden
    return found


@pytest.mark.parametrize("door", ["sdk", "cli", "management", "dashboard"])
def test_every_door_leaves_the_same_store(door: str, build: Any, by_sdk: dict[str, Any]) -> None:
    settings, token, built = build(door)
    assert through(door, settings, token) == ["champion_replaced", "deployment_promoted"]
    found = snapshot(settings, built)
    for part, expected in by_sdk.items():
        assert found[part] == expected, f"{door}: {part} differs from the SDK's"


def test_the_new_http_doors_name_what_is_wrong(build: Any) -> None:
    """Promote over the management API, deploy and move an alias over the dashboard's actions:
    a bad body is a 422 naming the field, forcing needs an admin token, an unknown model is a
    404, and nothing moved."""
    settings, _, built = build("refusals")
    with Client(settings=settings) as client:
        deployer = tokens.create(client.db, "builder", "deploy", "dan")[0]
    with served(settings, deployer) as http:
        cases = [
            ("POST", f"/v1/manage/models/{MODEL}/promote", {"version": 2}, 422, "reason"),
            ("POST", f"/v1/manage/models/{MODEL}/promote", {"version": 0, "reason": "x"}, 422,
             "version"),
            ("POST", f"/ui/api/models/{MODEL}/deploy", {"version": 2, "strategy": "slow",
             "reason": "x"}, 422, "strategy"),
            ("PUT", f"/ui/api/models/{MODEL}/aliases/staging", {"reason": "x"}, 422, "version"),
            ("PUT", f"/ui/api/models/{MODEL}/aliases/latest", {"version": 2, "reason": "x"}, 422,
             "alias"),
        ]  # fmt: skip
        for method, path, body, status, field in cases:
            answer = http.request(method, path, json=body)
            assert answer.status_code == status, (path, body, answer.text)
            assert field in [p["field"] for p in answer.json()["problems"]], (path, answer.text)
        forced = {"version": 1, "reason": "x", "force": True}
        for method, path in [
            ("POST", f"/v1/manage/models/{MODEL}/promote"),
            ("POST", f"/ui/api/models/{MODEL}/deploy"),
            ("PUT", f"/ui/api/models/{MODEL}/aliases/champion"),
        ]:
            answer = http.request(method, path, json=forced)
            assert answer.status_code == 403, (path, answer.text)
            assert (answer.json()["error"], answer.json()["held"]) == ("forbidden", "deploy")
        for method, path in [
            ("POST", "/v1/manage/models/nobody/promote"),
            ("POST", "/ui/api/models/nobody/deploy"),
            ("PUT", "/ui/api/models/nobody/aliases/staging"),
        ]:
            answer = http.request(method, path, json={"version": 1, "reason": "x"})
            assert answer.status_code == 404, (path, answer.text)
            assert answer.json()["error"] == "not_found"
        refused = http.post(
            f"/v1/manage/models/{MODEL}/promote", json={"version": 1, "reason": "unapproved"}
        )
        assert refused.status_code in (409, 422) and "approval" in refused.text, refused.text
    with Client(settings=settings) as client:
        assert client.get_version(f"models:/{MODEL}@champion").version == 1
        assert client.deployments(MODEL) == []
        assert [e.action for e in client.audit_log(limit=None) if e.seq > built] == ["token.create"]
