"""The SDK entry points: Client construction and the module-level shortcuts on both back ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import keel
from keel.client import Client
from keel.errors import InvalidInput
from keel.settings import Settings


@pytest.fixture
def default_client(client: Client) -> Iterator[Client]:
    keel.set_client(client)
    yield client
    keel.set_client(None)


def test_module_shortcuts_use_the_default_client(
    default_client: Client, cancer_frame: pd.DataFrame, fitted_model: Any
) -> None:
    assert keel.get_client() is default_client
    snapshot = keel.register_snapshot(cancer_frame, "cancer")
    with keel.start_run("train") as run:
        version = keel.register_model(
            "cancer", fitted_model, training_data=snapshot, target="target"
        )
    assert isinstance(version, keel.ModelVersion)
    assert isinstance(snapshot, keel.Snapshot)
    assert isinstance(run, keel.Run)
    assert version.run_id == run.id
    champion = keel.set_alias("cancer", "champion", version.version, reason="first")
    assert champion.version == 1
    loaded = keel.load_model("models:/cancer@champion")
    assert isinstance(loaded, keel.LoadedModel)
    features = cancer_frame.drop(columns=["target"])
    assert (loaded.predict(features) == fitted_model.predict(features)).all()


def test_the_default_client_is_built_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KEEL_STORE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("KEEL_ARTIFACTS", str(tmp_path / "env-artifacts"))
    monkeypatch.setenv("KEEL_USER", "env-user")
    keel.set_client(None)
    try:
        client = keel.get_client()
        assert client is keel.get_client()
        assert client.actor == "env-user"
        assert client.db.url.endswith("env.db")
        assert client.artifacts.url == str(tmp_path / "env-artifacts")
    finally:
        keel.get_client().close()
        keel.set_client(None)


def test_client_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for variable in ("KEEL_STORE_URL", "KEEL_ARTIFACTS", "KEEL_USER"):
        monkeypatch.delenv(variable, raising=False)
    with Client(
        f"sqlite:///{tmp_path / 'args.db'}", str(tmp_path / "args-artifacts"), actor="ann"
    ) as client:
        assert client.actor == "ann"
        assert client.settings.store_url.endswith("args.db")
        assert "args.db" in repr(client)
        assert "args-artifacts" in repr(client)
    with Client() as defaults:  # nothing configured: .keel/ in the working folder
        assert defaults.settings.store_url == "sqlite:///.keel/keel.db"
    assert (tmp_path / ".keel" / "keel.db").is_file()
    assert (tmp_path / ".keel" / "artifacts").is_dir()


def test_an_unusable_artifact_root_is_refused(store_url: str) -> None:
    settings = Settings(store_url=store_url, artifacts="nosuchprotocol://x", actor="ann")
    with pytest.raises(InvalidInput) as caught:
        Client(settings=settings)
    assert caught.value.field == "artifacts"
