"""``keel models register`` and ``keel models trust``: trust is given by name, recorded, audited."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import skops.io
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from keel.cli.app import main
from keel.client import Client
from tests.hostile import corpus
from tests.integration.registry.test_integrity import Constant, log_scale

CUSTOM = "tests.integration.registry.test_integrity.log_scale"


@pytest.fixture
def options(tmp_path: Path) -> list[str]:
    store = ["--store", f"sqlite:///{tmp_path / 'k.db'}", "--artifacts", str(tmp_path / "art")]
    with Client(store[1], store[3]):  # the store exists; these commands change it
        pass
    return store


@pytest.fixture
def features() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(40, 2))


def test_a_skops_file_needing_more_types_is_registered_only_when_they_are_named(
    options: list[str], tmp_path: Path, features: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    model = make_pipeline(FunctionTransformer(log_scale), LogisticRegression())
    model.fit(features, (features[:, 0] > 0).astype(int))
    path = tmp_path / "piped.skops"
    path.write_bytes(skops.io.dumps(model))
    assert main([*options, "models", "register", "piped", str(path)]) == 5
    assert CUSTOM in capsys.readouterr().err
    assert main([*options, "models", "register", "piped", str(path), "--trust", "sklearn.*"]) == 2
    assert "exact type name" in capsys.readouterr().err
    assert main([*options, "models", "register", "piped", str(path), "--trust", CUSTOM]) == 0
    assert "registered piped/1: a sklearn model" in capsys.readouterr().out
    with Client(options[1], options[3]) as client:
        version = client.get_version("piped/1")
        assert version.trust is not None and version.trust["types"] == [CUSTOM]
        assert (client.load_model("piped/1").predict(features) == model.predict(features)).all()
    assert main([*options, "versions", "show", "piped/1"]) == 0
    assert CUSTOM in capsys.readouterr().out


def test_a_pickle_is_opened_only_with_trust_code(
    options: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "ran"
    hostile = next(c for c in corpus(marker) if c.name == "pickle-os-system")
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(hostile.data)
    assert main([*options, "models", "register", "evil", str(evil)]) == 5
    said = capsys.readouterr().err
    assert "runs code" in said and "--trust-code" in said
    assert not marker.exists()
    good = tmp_path / "constant.pkl"
    good.write_bytes(pickle.dumps(Constant(3)))
    assert main([*options, "models", "register", "constant", str(good), "--trust-code"]) == 0
    with Client(options[1], options[3]) as client:
        trust = client.get_version("constant/1").trust
        assert trust is not None and trust["code"] is True


def test_trust_is_recorded_later_with_a_reason(
    options: list[str], features: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    with Client(options[1], options[3], actor="ann") as client:
        client.register_model("constant", Constant(4), trust="code")
        with client.db.write() as conn:  # as a store from before trust was recorded holds it
            from keel.store.schema import model_versions

            conn.execute(model_versions.update().values(trust=None))
    assert main([*options, "models", "trust", "constant/1", "--code"]) == 2
    assert "reason" in capsys.readouterr().err
    assert main([*options, "models", "trust", "constant/1", "--type", "x.Y", "--reason", "r"]) == 5
    capsys.readouterr()
    arguments = ["models", "trust", "constant/1", "--code", "--reason", "our class"]
    assert main([*options, "--user", "bob", *arguments]) == 0
    assert "trusted code (by bob" in capsys.readouterr().out
    with Client(options[1], options[3]) as client:
        assert (client.load_model("constant/1").predict(features) == 4).all()
        entry = client.audit_log(action="version.trust")[0]
        assert entry.actor == "bob" and entry.details["trust"]["reason"] == "our class"
