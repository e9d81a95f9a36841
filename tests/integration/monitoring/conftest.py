"""A registered binary classifier on scikit-learn's breast-cancer data, with a policy-free store."""

from __future__ import annotations

import pytest

from keel.client import Client
from keel.domain.entities import ModelVersion


@pytest.fixture
def cancer_version(client: Client, cancer_frame, fitted_model) -> ModelVersion:  # type: ignore[no-untyped-def]
    snapshot = client.register_snapshot(cancer_frame, "cancer-train")
    version = client.register_model("cancer", fitted_model, training_data=snapshot, target="target")
    client.set_alias("cancer", "champion", version.version, reason="first release")
    return version
