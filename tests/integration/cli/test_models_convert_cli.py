"""``keel models convert``: prints the measured figures, refuses (exit 4) a conversion that does
not answer like the original, and never registers a refused one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from keel.cli.app import main
from keel.client import Client


@pytest.fixture
def options(tmp_path: Path) -> list[str]:
    """A store holding churn/1: a one-hot pipeline over a category column, with its snapshot."""
    store = ["--store", f"sqlite:///{tmp_path / 'k.db'}", "--artifacts", str(tmp_path / "art")]
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "plan": pd.Categorical(rng.choice(["basic", "plus", "pro"], 200)),
            "tenure": rng.integers(1, 60, 200),
            "spend": rng.normal(40.0, 12.0, 200),
        }
    )
    labels = ((frame["plan"] == "basic") & (frame["tenure"] < 20)).astype(int)
    prepare = ColumnTransformer(
        [("plan", OneHotEncoder(), ["plan"]), ("numbers", StandardScaler(), ["tenure", "spend"])]
    )
    model = Pipeline([("prepare", prepare), ("classify", LogisticRegression())])
    model.fit(frame, labels)
    with Client(store[1], store[3], actor="ana") as client:
        data = frame.assign(churned=labels)
        client.register_model("churn", model, training_data=data, target="churned")
    return store


def _versions(options: list[str]) -> list[int]:
    with Client(options[1], options[3]) as client:
        return sorted(v.version for v in client.list_versions("churn"))


def test_convert_registers_a_checked_child_version(
    options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*options, "models", "convert", "churn/1", "--to", "onnx"]) == 0
    said = capsys.readouterr().out
    assert "converted churn/1 to ONNX as churn/2" in said
    assert "200 rows of churn-train/1 compared" in said
    assert "max abs difference of probabilities" in said and "tolerance 0.0001" in said
    assert "labels agree on 100.00%" in said
    assert "(one timing)" in said
    with Client(options[1], options[3]) as client:
        version = client.get_version("churn/2")
        assert version.flavour == "onnx" and version.parent_version == 1
        assert version.tags["converted_from"] == "churn/1"
        assert version.metrics["conversion_max_abs_diff"] <= 1e-4
    assert main([*options, "lineage", "churn/2"]) == 0
    assert "churn/1" in capsys.readouterr().out


def test_convert_prints_json_for_scripts(
    options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*options, "models", "convert", "churn/1", "--max-rows", "50", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["source"] == "churn/1" and result["version"]["version"] == 2
    assert result["rows"] == 50 and result["compared"] == "probabilities"
    assert result["max_abs_diff"] <= result["tolerance"] == 1e-4
    assert result["version"]["metrics"]["conversion_rows"] == 50


def test_a_conversion_beyond_the_tolerance_exits_4_and_registers_nothing(
    options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*options, "models", "convert", "churn/1", "--tolerance", "1e-12"]) == 4
    said = capsys.readouterr().err
    assert "largest absolute difference of the probabilities" in said
    assert "above the tolerance 1e-12" in said and "nothing was registered" in said
    assert _versions(options) == [1]


def test_bad_requests_exit_2(options: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*options, "models", "convert", "churn/1", "--to", "pmml"]) == 2
    assert "targets: onnx" in capsys.readouterr().err
    assert main([*options, "models", "convert", "churn/1", "--tolerance", "-1"]) == 2
    assert main([*options, "models", "convert", "churn/9"]) == 3
    assert main([*options, "models", "convert", "churn/1"]) == 0
    capsys.readouterr()
    assert main([*options, "models", "convert", "churn/2"]) == 2
    assert "already an ONNX model" in capsys.readouterr().err
    assert _versions(options) == [1, 2]
