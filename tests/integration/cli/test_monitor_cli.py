"""``keel predictions import``, ``keel labels import``, ``keel monitor run|windows|report``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keel.cli.app import main
from keel.client import Client
from keel.settings import Settings


@pytest.fixture
def store(tmp_path: Path, cancer_frame, fitted_model) -> list[str]:
    args = ["--store", f"sqlite:///{tmp_path / 'k.db'}", "--artifacts", str(tmp_path / "art")]
    settings = Settings(store_url=args[1], artifacts=args[3], actor="ann")
    with Client(settings=settings) as client:
        client.register_model("cancer", fitted_model, training_data=cancer_frame, target="target")
        client.set_alias("cancer", "champion", 1, reason="first")
    return args


def test_import_monitor_label_and_report(
    store: list[str], tmp_path: Path, cancer_frame, fitted_model, capsys
) -> None:
    features = cancer_frame.drop(columns=["target"]).sample(n=120, random_state=0)
    logged = features.assign(
        prediction=fitted_model.predict(features),
        score=fitted_model.predict_proba(features)[:, 1],
        request_id=[f"req-{i}" for i in range(len(features))],
        timestamp=pd.date_range("2026-11-01", periods=len(features), freq="min", tz="UTC"),
        latency_ms=np.linspace(1, 5, len(features)),
    )
    predictions = tmp_path / "predictions.parquet"
    logged.to_parquet(predictions)
    assert main([*store, "predictions", "import", str(predictions), "--model", "cancer"]) == 0
    assert "120 predictions of cancer/1 logged" in capsys.readouterr().out

    policy = tmp_path / "cancer.yaml"
    policy.write_text(
        "monitoring:\n  window: {rows: 50}\n  alerts:\n"
        "    - accuracy < 0.99 over the last 50 labelled predictions\n"
    )
    assert main([*store, "monitor", "run", "cancer", "--policy", str(policy), "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert (run["new_rows"], len(run["windows"]), run["pending_rows"]) == (120, 2, 20)

    labels = tmp_path / "labels.csv"
    wrong = 1 - logged["prediction"].to_numpy()  # every label contradicts the model
    frame = pd.DataFrame({"id": logged["request_id"], "truth": wrong})
    pd.concat([frame, pd.DataFrame({"id": ["stray"], "truth": [1]})]).to_csv(labels, index=False)
    code = main(
        [
            *store,
            "labels",
            "import",
            str(labels),
            "--model",
            "cancer",
            "--id-column",
            "id",
            "--label-column",
            "truth",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "1 matched none" in out and "stray" in out

    assert main([*store, "monitor", "run", "cancer"]) == 0
    out = capsys.readouterr().out
    assert "alert fired" in out and "accuracy" in out
    assert main([*store, "monitor", "windows", "cancer", "--json"]) == 0
    windows = json.loads(capsys.readouterr().out)
    assert [w["performance"]["accuracy"] for w in windows] == [0.0, 0.0]
    majority = [w["performance"]["baselines"]["majority"]["accuracy"] for w in windows]
    assert all(m >= 0.5 for m in majority)  # a constant beats a model that is always wrong
    assert main([*store, "monitor", "windows", "cancer"]) == 0
    table = capsys.readouterr().out
    assert "majority" in table and f"{majority[0]:.4g}" in table

    reports = tmp_path / "reports"
    assert main([*store, "monitor", "report", "cancer", "--out", str(reports), "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    page = Path(written["html"]).read_text()
    assert page.startswith("<!doctype html>") and "Drift" in page and "accuracy &lt; 0.99" in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    data = json.loads(Path(written["json"]).read_text())
    assert data["windows"] == 2 and len(data["series"]["end"]) == 2
    assert data["alerts"][0]["state"] == "firing"


def test_errors_are_one_line_with_an_exit_code(store: list[str], tmp_path: Path, capsys) -> None:
    assert main([*store, "monitor", "run", "nobody"]) == 3
    bad = tmp_path / "labels.csv"
    pd.DataFrame({"request_id": ["a"], "y": [1]}).to_csv(bad, index=False)
    assert main([*store, "labels", "import", str(bad), "--model", "cancer"]) == 2
    assert "--label-column" in capsys.readouterr().err
    assert main([*store, "monitor", "report", "cancer", "--window", "12"]) == 3
    assert main([*store, "monitor", "report", "cancer", "--window", "yesterday..x"]) == 2
