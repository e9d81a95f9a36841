"""Loading a registered version: resolve the reference, verify the artifact, rebuild the model.

Every door (SDK, CLI, gates, serving, monitoring, retraining) loads through ``load``, so the one
rule of what may be deserialized is the version's recorded trust (``keel.registry.trust``).
"""

from __future__ import annotations

from keel.domain.names import ModelRef
from keel.domain.trust import TrustRecord
from keel.registry import models, serialization
from keel.registry.loaded import LoadedModel
from keel.store.artifacts import ArtifactStore
from keel.store.database import Database


def load(db: Database, artifacts: ArtifactStore, ref: ModelRef) -> LoadedModel:
    version = models.resolve(db, ref)
    data = artifacts.get(version.artifact_sha256)  # raises ArtifactCorrupted on a hash mismatch
    native = serialization.load(
        data,
        version.format,
        sha256=version.artifact_sha256,
        trust=TrustRecord.from_dict(version.trust),
        ref=version.ref,
    )
    return LoadedModel(native, version)
