"""A model with a champion (version 1) and a candidate (version 2), and a writer of prediction
log rows for either, as the server would write them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from keel.client import Client
from keel.domain.deployments import Deployment
from keel.registry import deployments
from keel.registry.predictions import log_predictions, prediction_table
from keel.rollout import controller
from keel.rollout.results import RolloutStep

MODEL = "cancer"


@dataclass
class Rollout:
    """The client, the data, and helpers to log rows and advance the controller."""

    client: Client
    frame: pd.DataFrame
    model: Any
    seed: int = 0

    def rows(
        self,
        version: int,
        n: int,
        *,
        variant: str | None = None,
        error_rate: float = 0.0,
        latency_ms: float = 20.0,
        request_ids: list[str] | None = None,
        same_requests: bool = False,
        entity_keys: list[str] | None = None,
    ) -> list[str]:
        """Log ``n`` predictions of ``version``; returns their request ids. ``same_requests``
        scores the inputs of the previous call again (a shadow answering the same requests);
        ``entity_keys`` are the requests' keys, one per row."""
        self.seed += 0 if same_requests else 1
        rng = np.random.default_rng(self.seed)
        features = self.frame.drop(columns=["target"]).sample(
            n, replace=True, random_state=self.seed
        )
        features = features.reset_index(drop=True)
        predictions = self.model.predict(features)
        scores = self.model.predict_proba(features)[:, 1]
        status = np.where(rng.random(n) < error_rate, "error", "ok")
        latency = rng.lognormal(np.log(latency_ms), 0.3, n)
        if variant is None and request_ids is None:
            receipt = self.client.log_predictions(
                MODEL,
                features,
                version=version,
                predictions=predictions,
                scores=scores,
                latency_ms=latency,
                status=status,
            )
            return receipt.request_ids
        table = prediction_table(
            features,
            version=version,
            predictions=predictions,
            scores=scores,
            latency_ms=latency,
            status=status,
            request_ids=request_ids,
            entity_keys=entity_keys,
            variant=variant,
        )
        return log_predictions(self.client.logs, MODEL, version, table).request_ids

    def label(self, request_ids: list[str], wrong: float = 0.0) -> None:
        """Label logged predictions: right, except a share ``wrong`` of them."""
        logged = self.client.read_predictions(MODEL).set_index("request_id")
        answers = logged.loc[request_ids, "prediction"].to_numpy()
        rng = np.random.default_rng(len(request_ids) + int(wrong * 1000))
        flip = rng.random(len(answers)) < wrong
        self.client.log_labels(MODEL, request_ids, np.where(flip, 1 - answers, answers))

    def running(self) -> Deployment:
        found = deployments.running(self.client.db, MODEL)
        assert found is not None
        return found

    def advance(self, after_s: float = 0.0, *, at: datetime | None = None) -> RolloutStep:
        """One controller step, ``after_s`` seconds after the running step started."""
        moment = at or self.running().step_started_at + timedelta(seconds=after_s)
        client = self.client
        policy = client.get_policy(MODEL)
        from keel.domain.policy import Policy

        return controller.advance(
            client.db,
            client.artifacts,
            client.logs,
            "controller",
            MODEL,
            policy or Policy(),
            now=moment,
        )

    def champion(self) -> int | None:
        with self.client.db.read() as conn:
            return deployments.champion_in(conn, MODEL)


@pytest.fixture
def rollout(client: Client, cancer_frame: pd.DataFrame, fitted_model: Any) -> Rollout:
    snapshot = client.register_snapshot(cancer_frame, "cancer")
    for _ in range(2):
        client.register_model(MODEL, fitted_model, training_data=snapshot, target="target")
    client.set_alias(MODEL, "champion", 1, reason="first release")
    return Rollout(client, cancer_frame, fitted_model)


@pytest.fixture(scope="module")
def two_models(cancer_frame: pd.DataFrame) -> tuple[Any, Any]:
    """Two versions of the door tests' model: the champion and a weaker candidate."""
    from sklearn.linear_model import LogisticRegression

    features, target = cancer_frame.drop(columns=["target"]), cancer_frame["target"]
    return (
        LogisticRegression(max_iter=5000).fit(features, target),
        LogisticRegression(max_iter=5000, C=0.001).fit(features, target),
    )
