"""A small drifting world for the controller's tests: two features, a concept that flips.

Before the flip the label is ``x0 + x1 > 0``; after it, ``x0 - x1 > 0``, so the champion trained
before drops to about 50% accuracy while a model refit on recent data gets back above 90%.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

START = datetime(2026, 1, 1, tzinfo=UTC)

POLICY: dict[str, Any] = {
    "monitoring": {"target": "y", "window": {"rows": 200}, "drift": {"multivariate": False}},
    "gates": {"checks": ["accuracy >= 0.85"]},
    "retraining": {
        "triggers": ["accuracy < 0.8 over the last 200 labelled predictions"],
        # the gated candidate ships as it is (the low profile would refit it on its holdout)
        "training": {"recent_rows": 600, "holdout": 0.3, "refit": False},
    },
}


def batch(rows: int, seed: int, flipped: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 2))
    y = (x[:, 0] - x[:, 1] > 0) if flipped else (x[:, 0] + x[:, 1] > 0)
    return pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "y": y.astype(int)})


def launch(client: Any, model: str = "risk", policy: dict[str, Any] | None = None) -> None:
    """Register v1 trained before the flip, make it champion, store the policy."""
    from sklearn.linear_model import LogisticRegression

    train = batch(1000, 0, flipped=False)
    fitted = LogisticRegression().fit(train[["x0", "x1"]], train["y"])
    client.register_model(model, fitted, training_data=train, target="y")
    client.set_policy(model, policy or POLICY)
    client.set_alias(model, "champion", 1, reason="launch")


def serve(client: Any, model: str, rows: int, seed: int, flipped: bool, at: datetime) -> None:
    """Predict with the champion, log the predictions and (a minute later) their labels."""
    frame = batch(rows, seed, flipped)
    champion = client.load_model(f"models:/{model}@champion")
    features = frame[["x0", "x1"]]
    proba = champion.model.predict_proba(features)[:, 1]
    stamps = [at + timedelta(seconds=i) for i in range(rows)]
    receipt = client.log_predictions(
        model, features, predictions=(proba >= 0.5).astype(int), scores=proba, timestamps=stamps
    )
    client.log_labels(
        model,
        receipt.request_ids,
        frame["y"].to_numpy(),
        timestamps=[s + timedelta(minutes=1) for s in stamps],
    )


def log_rows_with_labels(
    client: Any, model: str, logged: pd.DataFrame, labels: Any, at: datetime
) -> None:
    """Log ``logged`` as served rows (a second apart, predictions 0) and their ``labels`` a
    minute later: a window a retrain can learn from."""
    stamps = [at + timedelta(seconds=i) for i in range(len(logged))]
    receipt = client.log_predictions(
        model, logged, predictions=np.zeros(len(logged), dtype=int), timestamps=stamps
    )
    client.log_labels(
        model,
        receipt.request_ids,
        np.asarray(labels),
        timestamps=[s + timedelta(minutes=1) for s in stamps],
    )


def ahead_of_the_wall_clock(hours: int = 1) -> datetime:
    """A simulated start a little after the real clock, on the hour.

    The registry stamps a version's creation with the real clock, and the schedule and
    drift-alert triggers count from the champion's creation, so they only fire when the
    simulated clock runs after it; ``START`` (in the past) suits the rule triggers, the gates
    and the rollouts, which take the autopilot's clock.
    """
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now + timedelta(hours=hours + 1)


def log_served(
    client: Any,
    model: str,
    frame: pd.DataFrame,
    at: datetime,
    *,
    version: int | None = None,
    errors: float = 0.0,
    wrong: float = 0.0,
    seed: int = 0,
) -> list[str]:
    """Log ``frame``'s rows as served by ``version`` (the champion by default), as the router
    would write them, with labels a minute later; a share ``errors`` of the rows failed and a
    share ``wrong`` of the answers were turned round (a regression the gates did not see)."""
    ref = f"models:/{model}@champion" if version is None else f"models:/{model}/{version}"
    loaded = client.load_model(ref)
    number = loaded.version.version if version is None else version
    features = frame[["x0", "x1"]]
    proba = loaded.model.predict_proba(features)[:, 1]
    rows = len(frame)
    rng = np.random.default_rng(seed)
    failed = rng.random(rows) < errors
    proba = np.where(rng.random(rows) < wrong, 1.0 - proba, proba)
    stamps = [at + timedelta(seconds=i) for i in range(rows)]
    receipt = client.log_predictions(
        model,
        features,
        version=number,
        predictions=(proba >= 0.5).astype(int),
        scores=proba,
        timestamps=stamps,
        status=np.where(failed, "error", "ok"),
        errors=np.where(failed, "RuntimeError: model crashed", None),
    )
    client.log_labels(
        model,
        receipt.request_ids,
        frame["y"].to_numpy(),
        timestamps=[s + timedelta(minutes=1) for s in stamps],
    )
    return list(receipt.request_ids)
