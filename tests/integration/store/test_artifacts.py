"""One conformance suite for every artifact store: a local folder, memory:// and S3 (moto)."""

from __future__ import annotations

import hashlib
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from keel.client import Client
from keel.errors import ArtifactCorrupted, InvalidInput, NotFound
from keel.settings import Settings
from keel.store.artifacts import FsspecArtifactStore

BUCKET = "keel-artifacts"


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def options(self) -> dict[str, Any]:
        return {
            "client_kwargs": {"endpoint_url": self.endpoint},
            "key": "testing",
            "secret": "testing",
        }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 in server mode on a free local port, with one bucket; stopped afterwards."""
    import boto3
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.delenv("AWS_PROFILE", raising=False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
            boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
                Bucket=BUCKET
            )
            yield S3Server(endpoint)
        finally:
            server.stop()


@dataclass
class Backend:
    store: FsspecArtifactStore
    overwrite: Any  # (sha256, bytes) -> None: replaces the stored bytes behind the store's back


@pytest.fixture(params=["file", "memory", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "file":
        store = FsspecArtifactStore(f"file://{tmp_path / 'artifacts'}")

        def overwrite(sha: str, data: bytes) -> None:
            Path(store.location(sha)).write_bytes(data)

        return Backend(store, overwrite)
    if request.param == "memory":
        store = FsspecArtifactStore(f"memory://keel-{uuid.uuid4().hex}")
        return Backend(store, lambda sha, data: store.fs.pipe_file(store._path(sha), data))
    server: S3Server = request.getfixturevalue("s3_server")
    store = FsspecArtifactStore(f"s3://{BUCKET}/{uuid.uuid4().hex}", **server.options())

    def overwrite_object(sha: str, data: bytes) -> None:
        import boto3

        key = store._path(sha).split("/", 1)[1]
        boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1").put_object(
            Bucket=BUCKET, Key=key, Body=data
        )
        store.fs.invalidate_cache()

    return Backend(store, overwrite_object)


def test_put_returns_the_sha256_and_get_reads_it_back(backend: Backend) -> None:
    data = b"model bytes \x00\xff" * 1000
    digest = backend.store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert backend.store.exists(digest)
    assert backend.store.get(digest) == data
    assert digest in backend.store.location(digest)


def test_empty_artifacts_round_trip(backend: Backend) -> None:
    digest = backend.store.put(b"")
    assert backend.store.get(digest) == b""


def test_put_is_idempotent(backend: Backend) -> None:
    first = backend.store.put(b"same")
    second = backend.store.put(b"same")
    assert first == second
    assert backend.store.get(first) == b"same"
    found = backend.store.fs.find(backend.store.root)
    assert len(found) == 1, found  # one object, no partial files left behind


def test_distinct_data_gets_distinct_addresses(backend: Backend) -> None:
    one, two = backend.store.put(b"one"), backend.store.put(b"two")
    assert one != two
    assert (backend.store.get(one), backend.store.get(two)) == (b"one", b"two")


def test_corrupted_bytes_are_refused(backend: Backend) -> None:
    digest = backend.store.put(b"the real model")
    backend.overwrite(digest, b"a swapped model")
    with pytest.raises(ArtifactCorrupted) as caught:
        backend.store.get(digest)
    error = caught.value
    assert error.fields["sha256"] == digest
    assert error.fields["actual"] == hashlib.sha256(b"a swapped model").hexdigest()
    assert error.fields["location"] == backend.store.location(digest)


def test_unknown_artifacts_are_not_found(backend: Backend) -> None:
    missing = hashlib.sha256(b"never stored").hexdigest()
    assert not backend.store.exists(missing)
    with pytest.raises(NotFound) as caught:
        backend.store.get(missing)
    assert caught.value.kind == "artifact"


@pytest.mark.parametrize("bad", ["", "abc", "G" * 64, "A" * 64, "../" + "a" * 61])
def test_malformed_hashes_raise_invalid_input(backend: Backend, bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        backend.store.get(bad)
    assert caught.value.field == "sha256"


def test_a_plain_folder_path_works_and_is_created(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "artifacts"
    store = FsspecArtifactStore(str(root))
    digest = store.put(b"x")
    assert root.is_dir()
    assert Path(store.location(digest)).read_bytes() == b"x"
    assert Path(store.location(digest)).relative_to(root).parts[:2] == ("sha256", digest[:2])


@pytest.mark.parametrize("url", ["", "   ", "nosuchprotocol://x"])
def test_unusable_roots_raise_invalid_input(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        FsspecArtifactStore(url)
    assert caught.value.field == "artifacts"


def test_client_round_trip_with_artifacts_on_s3(
    s3_server: S3Server, store_url: str, cancer_frame: pd.DataFrame, fitted_model: Any
) -> None:
    prefix = f"s3://{BUCKET}/client-{uuid.uuid4().hex}"
    settings = Settings(
        store_url=store_url, artifacts=prefix, actor="tester", artifact_options=s3_server.options()
    )
    with Client(settings=settings) as client:
        snapshot = client.register_snapshot(cancer_frame, "cancer")
        version = client.register_model(
            "cancer", fitted_model, training_data=snapshot, target="target"
        )
        assert client.artifacts.location(version.artifact_sha256).startswith(prefix)
        assert client.load_snapshot(snapshot.ref).equals(cancer_frame)
        loaded = client.load_model("models:/cancer/1")
        features = cancer_frame.drop(columns=["target"])
        assert (loaded.predict(features) == fitted_model.predict(features)).all()
