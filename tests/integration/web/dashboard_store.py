"""A small store for the dashboard's tests, written through the SDK with the controller tests'
drifting world (``tests/integration/controller/scenario.py``):

- ``risk`` (medium risk, gated on a held-out snapshot, alerts on realized accuracy): v1 champion
  (never gated), v2 trained after the concept flipped (rejected), v3 a child of v1 trained in a run
  (blessed) and in a canary at 10%; five windows of 200 rows: three calm and labelled, one
  labelled after the flip (accuracy about 0.5: a critical alert), one unlabelled with ``x1``
  shifted (drift: a warning alert); a manual retrain queued.
- ``fraud`` (low risk, the ``accuracy_threshold`` shorthand): v1 champion, v2 promoted from a
  canary, v3 rolled back from a canary by another actor; no monitoring window.
- ``bare``: one version, no policy, no alias.
"""

from __future__ import annotations

import functools
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from keel.client import Client
from keel.rollout import actions
from keel.settings import Settings
from tests.conftest import PG_URL
from tests.integration.controller.scenario import START, batch, log_served

RISK_POLICY: dict[str, Any] = {
    "risk_profile": "medium",
    "suites": {
        "release": {
            "snapshots": ["risk-holdout"],
            "target": "y",
            "metrics": ["accuracy"],
            "resamples": 0,
            "compare_with": "",
            "measure_cost": False,
        }
    },
    "gates": {"checks": ["accuracy >= 0.85"]},
    "rollout": {"strategy": "canary", "steps": [10, 50, 100]},
    "monitoring": {
        "target": "y",
        "window": {"rows": 200},
        "drift": {"multivariate": False},
        "alerts": ["accuracy < 0.92 over the last 200 labelled predictions as critical"],
    },
}
FRAUD_POLICY: dict[str, Any] = {"risk_profile": "low", "monitoring": {"accuracy_threshold": 0.8}}
OTHER_ACTOR = "alice"


@dataclass
class Built:
    """The store and what the tests need to know about it."""

    client: Client
    settings: Settings
    window_ids: list[int] = field(default_factory=list)  # risk's, oldest first
    alerts: dict[str, int] = field(default_factory=dict)  # severity -> id (risk's)


@functools.cache
def _fitted(seed: int, flipped: bool) -> Any:
    from sklearn.linear_model import LogisticRegression

    frame = batch(600, seed, flipped)
    return LogisticRegression().fit(frame[["x0", "x1"]], frame["y"])


def build(settings: Settings) -> Built:
    client = Client(settings=settings)
    try:
        return _fill(Built(client, settings))
    except BaseException:
        client.close()
        raise


def _fill(built: Built) -> Built:
    client, settings = built.client, built.settings
    train = client.register_snapshot(batch(600, 0, flipped=False), "risk-train")
    client.register_snapshot(batch(300, 9, flipped=False), "risk-holdout")

    client.register_model("risk", _fitted(0, False), training_data=train, target="y")
    client.set_alias("risk", "champion", 1, reason="launch")  # before the policy asks for gates
    client.set_policy("risk", RISK_POLICY)
    client.register_model("risk", _fitted(1, True), training_data=train, target="y")
    client.gate("risk/2")
    with client.start_run("train-risk") as run:
        client.register_model(
            "risk", _fitted(2, False), training_data=train, target="y", parent=1, run=run
        )
    client.gate("risk/3")
    for hour in range(3):
        log_served(client, "risk", batch(200, 10 + hour, False), START + timedelta(hours=hour))
    log_served(client, "risk", batch(200, 20, True), START + timedelta(hours=3))
    late = batch(200, 21, False)
    late["x1"] += 2.0
    client.log_predictions(
        "risk",
        late[["x0", "x1"]],
        predictions=np.zeros(200, dtype=int),
        scores=np.full(200, 0.3),
        timestamps=[START + timedelta(hours=4, seconds=i) for i in range(200)],
    )
    client.monitor("risk", now=START + timedelta(hours=5))
    built.window_ids = sorted(w.id for w in client.monitor_windows("risk"))
    built.alerts = {a.severity: a.id for a in client.list_alerts("risk")}
    client.deploy("risk", 3, strategy="canary", reason="try v3")
    client.retrain("risk", reason="accuracy fell after the flip", run=False)

    client.register_model("fraud", _fitted(3, False), training_data=train, target="y")
    client.set_policy("fraud", FRAUD_POLICY)
    client.set_alias("fraud", "champion", 1, reason="first release")
    client.register_model("fraud", _fitted(4, False), training_data=train, target="y")
    canary = client.deploy("fraud", 2, strategy="canary", steps=[10, 100], reason="try v2")
    actions.promote(client.db, client.actor, canary, reason="looks good")
    client.register_model("fraud", _fitted(5, False), training_data=train, target="y")
    client.deploy("fraud", 3, strategy="canary", steps=[10, 100], reason="try v3")
    with Client(settings=settings.model_copy(update={"actor": OTHER_ACTOR})) as other:
        other.rollback("fraud", reason="errors went up")

    client.register_model("bare", _fitted(6, False), training_data=train, target="y")
    return built


def stored(request: pytest.FixtureRequest, folder: Path, backend: str) -> Iterator[Built]:
    """``build`` in ``folder`` on ``backend`` (a fresh PostgreSQL database), removed after."""
    import psycopg

    database = None
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'keel.db'}"
    else:
        admin = str(request.getfixturevalue("postgres"))
        database = f"keel_t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        url = PG_URL.format(db=database)
    settings = Settings(store_url=url, artifacts=str(folder / "artifacts"), actor="builder")
    made = build(settings)
    try:
        yield made
    finally:
        made.client.close()
        if database is not None:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        shutil.rmtree(folder, ignore_errors=True)
