"""Canaries through a real server: traffic is split by the plan, the controller reads what the
server logged, promotes a sound candidate, and rolls back a slow one, which every request then
stops reaching within a few seconds."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from keel.client import Client
from keel.registry.clock import utcnow
from keel.rollout.results import RolloutStep
from keel.settings import Settings
from tests.integration.serving.conftest import Server, post_many, start_server, stop_server
from tests.integration.serving.test_predict import logged_rows

pytestmark = pytest.mark.slow

POLICY = {
    "rollout": {
        "strategy": "canary",
        "steps": [50, 100],
        "interval": "1s",
        "auto_rollback": True,
        "min_rows_per_step": 100,
    }
}
#: a shared 2-core test machine can jitter one variant's p99 by 2x; the sound candidate costs
#: the same as the stable version, so its test must not hinge on that noise
SOUND_POLICY = {"rollout": {**POLICY["rollout"], "max_latency_p99_ratio": 5.0}}


def slow_model(cancer_frame: pd.DataFrame) -> object:
    """Nearest neighbours over 60,000 rows: the same answers family, many times the latency."""
    from sklearn.neighbors import KNeighborsClassifier

    features = cancer_frame.drop(columns=["target"])
    repeated = pd.concat([features] * 105, ignore_index=True)
    labels = pd.concat([cancer_frame["target"]] * 105, ignore_index=True)
    return KNeighborsClassifier(algorithm="brute").fit(repeated, labels)


RECORDS: list[dict[str, float]] = []
SENT: dict[str, int] = {}


def send(server: Server, model: str, rows: list[dict[str, float]], count: int) -> list[int]:
    answers = post_many(
        server, f"/v1/models/{model}/predict", [rows[i % 300] for i in range(count)]
    )
    assert {a.status_code for a in answers} == {200}
    SENT[model] = SENT.get(model, 0) + count
    return [a.json()["version"] for a in answers]


def all_logged(server: Server, model: str) -> bool:
    return logged_rows(server, model).num_rows >= SENT[model]


def advance_when_logged(client: Client, server: Server, model: str) -> RolloutStep:
    """Advance once every answered request is in the log; while the controller still waits for
    rows (a step counts only rows that arrived after it began), send more and ask again."""
    for _ in range(5):
        server.wait(lambda: all_logged(server, model), what="the logged rows")
        decision = client.advance_rollout(model, now=utcnow() + timedelta(seconds=2))
        if decision.action != "wait":
            return decision
        send(server, model, RECORDS, 200)
    return decision


def test_a_canary_is_promoted_and_a_slow_one_rolled_back(
    store: Settings,
    tmp_path_factory: pytest.TempPathFactory,
    cancer_frame: pd.DataFrame,
    two_models: tuple[object, object],
) -> None:
    rows = cancer_frame.drop(columns=["target"]).to_dict("records")
    RECORDS[:] = rows
    with Client(settings=store) as client:
        for name, candidate in (("sound", two_models[1]), ("sluggish", slow_model(cancer_frame))):
            client.register_model(name, two_models[0], training_data=cancer_frame, target="target")
            client.register_model(name, candidate, training_data=cancer_frame, target="target")
            client.set_alias(name, "champion", 1, reason="first release")
            client.set_policy(name, SOUND_POLICY if name == "sound" else POLICY)
    server = start_server(store, tmp_path_factory.mktemp("canary"), "--poll", "0.2")
    try:
        with Client(settings=store) as client:
            client.deploy("sound", 2, reason="a sound candidate")
            server.wait(lambda: 2 in send(server, "sound", rows, 20), what="the canary plan")
            versions = send(server, "sound", rows, 400)
            assert 0.35 < versions.count(2) / len(versions) < 0.65
            step = advance_when_logged(client, server, "sound")
            assert step.action == "step", step
            server.wait(lambda: set(send(server, "sound", rows, 20)) == {2}, what="100%")
            send(server, "sound", rows, 300)
            done = advance_when_logged(client, server, "sound")
            assert done.action == "promote", done
            assert client.get_version("sound@champion").version == 2

            client.deploy("sluggish", 2, reason="a slower candidate")
            server.wait(lambda: 2 in send(server, "sluggish", rows, 20), what="the canary plan")
            send(server, "sluggish", rows, 400)
            verdict = advance_when_logged(client, server, "sluggish")
            assert verdict.action == "rollback", verdict
            assert any("latency" in reason for reason in verdict.reasons), verdict
            server.wait(lambda: set(send(server, "sluggish", rows, 40)) == {1}, what="stable")
            assert client.get_version("sluggish@champion").version == 1
            actions = [e.action for e in client.audit_log(subject="model:sluggish/2", limit=5)]
            assert actions[0] == "deployment.rollback"
    finally:
        stop_server(server)
