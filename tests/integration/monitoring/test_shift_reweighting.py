"""A monitoring run, through the CLI, on a window whose inputs moved to where the model is right
less often at the same score: the stored calibration would overstate its accuracy; the run
reweights the reference's held-out rows, says so in the window, and estimates it closely."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from keel.cli.app import main
from keel.client import Client
from keel.domain.policy import Policy
from keel.monitoring.calibration_sample import ROWS
from keel.monitoring.runner import References
from keel.settings import Settings

WINDOW = 1000


def draw(rng: np.random.Generator, rows: int, shift: float = 0.0) -> pd.DataFrame:
    """Above x1 = 0.5 the label follows x0 loosely; the model barely uses x1."""
    x = pd.DataFrame({"x0": rng.normal(size=rows), "x1": rng.normal(shift, 1.0, rows)})
    strength = np.where(x["x1"] > 0.5, 0.4, 3.0)
    return x.assign(y=(rng.random(rows) < 1.0 / (1.0 + np.exp(-strength * x["x0"]))).astype(int))


def test_a_shifted_window_is_estimated_from_reweighted_held_out_rows(
    tmp_path: Path, capsys
) -> None:
    rng = np.random.default_rng(0)
    train = draw(rng, 4000)
    model = LogisticRegression().fit(train[["x0", "x1"]], train["y"])
    args = ["--store", f"sqlite:///{tmp_path / 'k.db'}", "--artifacts", str(tmp_path / "art")]
    settings = Settings(store_url=args[1], artifacts=args[3], actor="ann")
    with Client(settings=settings) as client:
        client.register_model("risk", model, training_data=train, target="y")
        client.set_alias("risk", "champion", 1, reason="first")

    served = pd.concat([draw(rng, 2 * WINDOW), draw(rng, 2 * WINDOW, shift=1.0)], ignore_index=True)
    features = served[["x0", "x1"]]
    logged = features.assign(
        prediction=model.predict(features),
        score=model.predict_proba(features)[:, 1],
        request_id=[f"req-{i}" for i in range(len(served))],
        timestamp=pd.date_range("2026-11-01", periods=len(served), freq="min", tz="UTC"),
    )
    predictions = tmp_path / "predictions.parquet"
    logged.to_parquet(predictions)
    assert main([*args, "predictions", "import", str(predictions), "--model", "risk"]) == 0
    assert "4,000 predictions of risk/1 logged" in capsys.readouterr().out
    policy = tmp_path / "risk.yaml"
    policy.write_text(f"monitoring:\n  window: {{rows: {WINDOW}}}\n")
    assert main([*args, "monitor", "run", "risk", "--policy", str(policy), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["windows"]) == 4

    with Client(settings=settings) as client:
        windows = sorted(client.monitor_windows("risk"), key=lambda w: w.id)
        reference = References(
            client.db,
            client.artifacts,
            "risk",
            Policy.parse({"monitoring": {"window": {"rows": WINDOW}}}),
        )(1)
    assert reference.calibration["source"] == "out-of-fold"
    assert reference.calibration_sample is not None
    assert reference.calibration_sample.rows == min(ROWS, len(train))

    right = (logged["prediction"] == served["y"]).to_numpy()
    for index, window in enumerate(windows):
        realized = float(right[index * WINDOW : (index + 1) * WINDOW].mean())
        estimate = window.estimate
        shift = estimate.get("shift") or {}
        if index < 2:  # calm: the stored calibration, and it holds
            assert not shift.get("weighted")
        else:
            assert window.drift["drifted"] == ["x1"]
            assert shift["weighted"] is True and 100 < shift["effective_rows"] < len(train)
        low, high = estimate["bands"]["accuracy"]
        assert low <= realized <= high, (index, realized, estimate["metrics"]["accuracy"])
        assert abs(estimate["metrics"]["accuracy"] - realized) < 0.04

    assert main([*args, "monitor", "windows", "risk"]) == 0
    table = capsys.readouterr().out
    assert "reweighted" in table
    assert sum(f"{w.estimate['shift']['effective_rows']:,.0f}" in table for w in windows[2:]) == 2
