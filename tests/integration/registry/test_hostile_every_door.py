"""The hostile-artifact corpus through every door that loads a model: the SDK, each CLI command
that loads (gate, evaluate, monitor, retrain), the register route, and a real serving process.

An attacker cannot register these files (registration refuses them), so each is planted the way
a store writer or an older store would hold it: a version whose artifact is the hostile file.
Nothing may run (the marker file stays absent) and each door refuses with UntrustedArtifact (exit
5 on the command line, a 4xx over HTTP, a model that never serves).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from keel.cli.app import main
from keel.client import Client
from keel.errors import UntrustedArtifact
from keel.settings import Settings
from keel.store.schema import model_versions
from tests.hostile import Hostile, corpus
from tests.integration.controller.scenario import POLICY, START, batch, launch, serve

with warnings.catch_warnings():  # Starlette asks for httpx2 on import; httpx is what we have
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

MODEL = "risk"
CASES = corpus(Path("/nonexistent"))
IDS = [c.name for c in CASES]


def plant(client: Client, model: str, version: int, hostile: Hostile) -> None:
    """Point ``model/version`` at the hostile bytes, as someone who can write the store could."""
    sha = client.artifacts.put(hostile.data)
    with client.db.write() as conn:
        model_id = conn.execute(
            __import__("sqlalchemy").text("SELECT id FROM models WHERE name = :n"), {"n": model}
        ).scalar_one()
        conn.execute(
            model_versions.update()
            .where(model_versions.c.model_id == model_id, model_versions.c.version == version)
            .values(artifact_sha256=sha, format=hostile.format, trust=None)
        )


@pytest.fixture
def marker(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "ran"
    yield path
    assert not path.exists(), "a hostile artifact ran code"


@pytest.fixture
def options(tmp_path: Path) -> list[str]:
    store = ["--store", f"sqlite:///{tmp_path / 'k.db'}", "--artifacts", str(tmp_path / "art")]
    with Client(store[1], store[3], actor="ann") as client:
        client.register_snapshot(batch(300, 5, flipped=False), "risk-holdout")
        suite = {"release": {"snapshots": ["risk-holdout"], "target": "y", "resamples": 0}}
        launch(
            client,
            MODEL,
            {**POLICY, "suites": suite, "gates": {"suite": "release", **POLICY["gates"]}},
        )
        serve(client, MODEL, 400, 1, flipped=False, at=START)
    return store


def hostile_named(name: str, marker: Path) -> Hostile:
    return next(c for c in corpus(marker) if c.name == name)


@pytest.mark.parametrize("name", IDS)
def test_the_sdk_refuses_to_load_it(options: list[str], marker: Path, name: str) -> None:
    hostile = hostile_named(name, marker)
    with Client(options[1], options[3], actor="eve") as client:
        plant(client, MODEL, 1, hostile)
        with pytest.raises(UntrustedArtifact) as caught:
            client.load_model(f"models:/{MODEL}@champion")
    assert set(hostile.names) <= set(caught.value.fields["types"])


@pytest.mark.parametrize("name", IDS)
def test_every_command_that_loads_refuses_it(
    options: list[str], marker: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = hostile_named(name, marker)
    with Client(options[1], options[3], actor="eve") as client:
        plant(client, MODEL, 1, hostile)
    for command in (
        ["gate", f"{MODEL}/1"],
        ["evaluate", f"{MODEL}/1"],
        ["monitor", "run", MODEL],
        ["retrain", MODEL, "--reason", "try the planted champion"],
    ):
        code = main([*options, *command])
        said = capsys.readouterr()
        text = " ".join((said.out + said.err).split())  # the console wraps long lines
        # a retrain reports its failed step and the outcome, and exits 1
        assert code == (1 if command[0] == "retrain" else 5), (command, text)
        assert "not trusted" in text or "runs code" in text, (command, text)
        assert "Traceback" not in text, (command, text)
        assert not marker.exists(), command


def test_gate_names_the_untrusted_types_and_exits_5(
    options: list[str], marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = hostile_named("skops-reduce-sklearn-prefixed-check_output", marker)
    with Client(options[1], options[3], actor="eve") as client:
        plant(client, MODEL, 1, hostile)
    assert main([*options, "gate", f"{MODEL}/1"]) == 5
    said = capsys.readouterr().err
    assert "sklearn.utils._testing.check_output" in said
    assert "keel models trust risk/1" in said


def test_serving_never_loads_it(tmp_path: Path, marker: Path) -> None:
    from tests.integration.serving.conftest import start_server, stop_server

    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 's.db'}", artifacts=str(tmp_path / "a"), actor="ann"
    )
    cases = corpus(marker)
    with Client(settings=settings):  # an empty store: the server starts ready
        pass
    (tmp_path / "logs").mkdir()
    server = start_server(settings, tmp_path / "logs", "--poll", "0.2")
    try:
        with Client(settings=settings) as client:  # then champions appear, each one hostile
            for index, hostile in enumerate(cases):
                launch(client, f"h{index}")
                plant(client, f"h{index}", 1, hostile)
        with server.client() as http:

            def refused_everywhere() -> bool:
                ready = http.get("/readyz")
                return ready.status_code == 503 and all(
                    f"h{i}" in ready.text for i in range(len(cases))
                )

            server.wait(refused_everywhere, timeout=60, what="every hostile version refused")
            for index in range(len(cases)):
                answer = http.post(f"/v1/models/h{index}/predict", json={"x0": 0.1, "x1": 0.2})
                assert answer.status_code == 503, answer.text
    finally:
        stop_server(server)
    assert not marker.exists()


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    return Settings(
        store_url=f"sqlite:///{tmp_path / 'r.db'}", artifacts=str(tmp_path / "ra"), actor="srv"
    )


def managed_app(settings: Settings) -> object:
    """The serving app with the management routes, as ``keel serve`` builds it."""
    from keel.serving.app import create_app
    from keel.web.management import router

    app = create_app(settings)
    app.include_router(router)
    return app


def _post_model(http: object, data: bytes, token: str | None, **params: object) -> object:
    headers = {"Content-Type": "application/octet-stream"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return http.post(  # type: ignore[attr-defined]
        "/v1/manage/models/up/versions",
        content=data,
        params={"reason": "upload", **params},
        headers=headers,
    )


def test_the_register_route_refuses_while_no_token_exists(app_settings: Settings) -> None:
    import skops.io
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    with TestClient(managed_app(app_settings)) as http:
        answer = _post_model(http, skops.io.dumps(model), None)
    assert answer.status_code == 403  # type: ignore[attr-defined]
    assert "keel token create" in answer.json()["message"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", IDS)
def test_the_register_route_refuses_it_before_building_anything(
    app_settings: Settings, marker: Path, name: str
) -> None:

    from keel.registry import tokens

    hostile = hostile_named(name, marker)
    with Client(settings=app_settings) as client:
        token, _ = tokens.create(client.db, "ann", "admin", "uploader")
    with TestClient(managed_app(app_settings)) as http:
        answer = _post_model(http, hostile.data, token)
        assert answer.status_code == 422, answer.text  # type: ignore[attr-defined]
        body = answer.json()  # type: ignore[attr-defined]
        assert body["field"] == "body"
        if hostile.format == "skops":
            assert set(hostile.names) <= set(body["types"])
    with Client(settings=app_settings) as client:
        assert client.list_models() == []


def test_an_admin_can_trust_named_types_over_http(app_settings: Settings, tmp_path: Path) -> None:
    import numpy as np
    import skops.io
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from keel.registry import tokens
    from tests.integration.registry.test_integrity import log_scale

    features = np.random.default_rng(0).normal(size=(40, 2))
    model = make_pipeline(FunctionTransformer(log_scale), LogisticRegression())
    model.fit(features, (features[:, 0] > 0).astype(int))
    custom = "tests.integration.registry.test_integrity.log_scale"
    with Client(settings=app_settings) as client:
        token, _ = tokens.create(client.db, "ann", "admin", "uploader")
    with TestClient(managed_app(app_settings)) as http:
        refused = _post_model(http, skops.io.dumps(model), token)
        assert refused.status_code == 422  # type: ignore[attr-defined]
        assert refused.json()["types"] == [custom]  # type: ignore[attr-defined]
        accepted = _post_model(http, skops.io.dumps(model), token, trust=[custom])
        assert accepted.status_code == 200, accepted.text  # type: ignore[attr-defined]
    with Client(settings=app_settings) as client:
        version = client.get_version("up/1")
        assert version.trust is not None and version.trust["by"] == "uploader"
        assert version.trust["types"] == [custom]
        assert (client.load_model("up/1").predict(features) == model.predict(features)).all()
