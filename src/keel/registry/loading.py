"""Loading a registered version: resolve the reference, verify the artifact, rebuild the model."""

from __future__ import annotations

from keel.domain.names import ModelRef
from keel.registry import models, serialization
from keel.registry.loaded import LoadedModel
from keel.store.artifacts import ArtifactStore
from keel.store.database import Database


def load(
    db: Database, artifacts: ArtifactStore, ref: ModelRef, trusted: list[str] | None = None
) -> LoadedModel:
    version = models.resolve(db, ref)
    data = artifacts.get(version.artifact_sha256)  # raises ArtifactCorrupted on a hash mismatch
    native = serialization.load(
        data, version.format, sha256=version.artifact_sha256, trusted=trusted
    )
    return LoadedModel(native, version)
