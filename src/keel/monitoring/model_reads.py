"""What one pass over one model reads once, however many parts of the pass use it: the
model's labels (from the label log) and its versions' monitoring references. The autopilot
hands one ``ModelReads`` to the monitoring run, the retraining triggers and the rollout's
analysis; each alone makes its own."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keel.domain.entities import ModelVersion
from keel.domain.names import ModelRef
from keel.domain.policy import Policy
from keel.monitoring.references import Reference, load_reference
from keel.store.artifacts import ArtifactStore
from keel.store.database import Database
from keel.store.prediction_log import LogStore

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ModelReads", "References"]


class References:
    """Loads each version's reference once per run."""

    def __init__(self, db: Database, artifacts: ArtifactStore, model: str, policy: Policy) -> None:
        self.db, self.artifacts, self.model, self.policy = db, artifacts, model, policy
        self._cache: dict[int, Reference] = {}
        self._versions: dict[int, ModelVersion] = {}

    def version(self, number: int) -> ModelVersion:
        from keel.registry import models

        if number not in self._versions:
            self._versions[number] = models.resolve(self.db, ModelRef(self.model, version=number))
        return self._versions[number]

    def __call__(self, version: int) -> Reference:
        if version not in self._cache:
            self._cache[version] = load_reference(
                self.db, self.artifacts, self.version(version), self.policy
            )
        return self._cache[version]


class ModelReads:
    """A model's labels and references, each read at most once."""

    def __init__(
        self,
        db: Database,
        artifacts: ArtifactStore,
        logs: LogStore,
        model: str,
        policy: Policy,
    ) -> None:
        self.logs, self.model = logs, model
        self.references = References(db, artifacts, model, policy)
        self._labels: pd.DataFrame | None = None

    def labels_with_arrival(self) -> pd.DataFrame:
        """One label per request id, with the time it was logged (``labelled_at``)."""
        if self._labels is None:
            from keel.monitoring.labelling import read_labels

            self._labels = read_labels(self.logs, self.model, arrival=True)
        return self._labels

    def labels(self) -> pd.DataFrame:
        """One label per request id: what ``read_labels`` returns."""
        return self.labels_with_arrival()[["request_id", "label"]]
