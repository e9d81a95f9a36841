"""``keel models register NAME PATH`` with a framework's own file: the flavour is detected and
said; a framework that is not installed is named with the command that installs it (exit 7)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from keel.cli.app import main
from keel.client import Client
from keel.errors import FrameworkMissing

lgb = pytest.importorskip("lightgbm")


@pytest.fixture
def options(tmp_path: Path) -> list[str]:
    store = ["--store", f"sqlite:///{tmp_path / 'k.db'}", "--artifacts", str(tmp_path / "art")]
    with Client(store[1], store[3]):
        pass
    return store


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    features = np.random.default_rng(0).normal(size=(80, 3))
    model = lgb.LGBMClassifier(n_estimators=4, verbose=-1).fit(features, features[:, 0] > 0)
    path = tmp_path / "model.txt"
    model.booster_.save_model(path)
    return path


def test_a_lightgbm_model_text_registers_as_a_lightgbm_model(
    options: list[str], model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*options, "models", "register", "scores", str(model_file)]) == 0
    assert "registered scores/1: a lightgbm model (lightgbm.basic.Booster)" in (
        capsys.readouterr().out
    )
    with Client(options[1], options[3]) as client:
        assert client.get_version("scores/1").flavour == "lightgbm"
        assert client.load_model("scores/1").model.num_trees() == 4


def test_a_missing_framework_exits_7_naming_the_install(
    options: list[str],
    model_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert main([*options, "models", "register", "scores", str(model_file)]) == 0
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "lightgbm", None)  # as if it were not installed
    with Client(options[1], options[3]) as client, pytest.raises(FrameworkMissing):
        client.load_model("scores/1")
    assert main([*options, "models", "register", "again", str(model_file)]) == 7
    assert "pip install 'mlkeel[lightgbm]'" in capsys.readouterr().err
