"""Models to bytes and back: skops for scikit-learn, cloudpickle for anything with predict."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from keel.domain.trust import TrustRecord, TrustRequest
from keel.errors import InvalidInput, UntrustedArtifact
from keel.registry import serialization

CODE_TRUST = TrustRecord((), code=True, by="ana", at="2026-01-01T00:00:00")


class Threshold:
    """A plain model: no scikit-learn, just predict."""

    def __init__(self, cut: float = 0.5) -> None:
        self.cut = cut

    def predict(self, frame: object) -> np.ndarray:
        return (np.asarray(frame)[:, 0] > self.cut).astype(int)


def halve(values: np.ndarray) -> np.ndarray:
    return values / 2


@pytest.fixture(scope="module")
def xy() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    features = rng.normal(size=(40, 2))
    return features, (features[:, 0] > 0).astype(int)


def test_sklearn_models_use_skops(xy: tuple[np.ndarray, np.ndarray]) -> None:
    model = LogisticRegression().fit(*xy)
    data, chosen = serialization.dump(model)
    assert chosen == "skops"
    back = serialization.load(data, chosen, sha256="x" * 64)
    assert (back.predict(xy[0]) == model.predict(xy[0])).all()


def test_plain_models_use_cloudpickle_and_load_only_with_code_trust(
    xy: tuple[np.ndarray, np.ndarray],
) -> None:
    data, chosen = serialization.dump(Threshold(0.1))
    assert chosen == "cloudpickle"
    with pytest.raises(UntrustedArtifact) as caught:
        serialization.load(data, chosen, sha256="x" * 64, ref="plain/1")
    assert caught.value.fields["runs_code"] is True
    assert "keel models trust plain/1 --code" in caught.value.message
    back = serialization.load(data, chosen, sha256="x" * 64, trust=CODE_TRUST)
    assert isinstance(back, Threshold)
    assert back.cut == 0.1


def test_trusting_types_does_not_trust_code() -> None:
    data, chosen = serialization.dump(Threshold(0.1))
    types_only = TrustRequest(types=(f"{__name__}.Threshold",))
    with pytest.raises(UntrustedArtifact):
        serialization.load(data, chosen, sha256="x" * 64, trust=types_only)


def test_a_loaded_object_without_predict_is_refused() -> None:
    import cloudpickle

    data = cloudpickle.dumps({"not": "a model"})
    with pytest.raises(InvalidInput) as caught:
        serialization.load(data, "cloudpickle", sha256="x" * 64, trust=CODE_TRUST)
    assert caught.value.field == "model"


def test_format_can_be_forced(xy: tuple[np.ndarray, np.ndarray]) -> None:
    model = LogisticRegression().fit(*xy)
    assert serialization.dump(model, "cloudpickle")[1] == "cloudpickle"
    with pytest.raises(InvalidInput) as caught:
        serialization.dump(model, "onnx")
    assert caught.value.field == "format"


def test_objects_without_predict_are_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        serialization.dump(object())
    assert caught.value.field == "model"
    assert "builtins.object" in caught.value.problem


def test_untrusted_types_are_refused_unless_named(xy: tuple[np.ndarray, np.ndarray]) -> None:
    model = make_pipeline(FunctionTransformer(halve), LogisticRegression()).fit(*xy)
    data, chosen = serialization.dump(model)
    assert chosen == "skops"
    with pytest.raises(UntrustedArtifact) as caught:
        serialization.load(data, chosen, sha256="a" * 64)
    assert caught.value.fields["types"] == [f"{__name__}.halve"]
    assert caught.value.fields["runs_code"] is False
    other = TrustRequest(types=("something.else",))
    with pytest.raises(UntrustedArtifact):
        serialization.load(data, chosen, sha256="a" * 64, trust=other)
    named = TrustRequest(types=(f"{__name__}.halve",))
    back = serialization.load(data, chosen, sha256="a" * 64, trust=named)
    assert (back.predict(xy[0]) == model.predict(xy[0])).all()


def test_trees_load_by_default_after_their_nodes_are_checked(
    xy: tuple[np.ndarray, np.ndarray],
) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    for model in (
        RandomForestClassifier(n_estimators=3, random_state=0),
        HistGradientBoostingClassifier(max_iter=3),
    ):
        model.fit(*xy)
        data, chosen = serialization.dump(model)
        back = serialization.load(data, chosen, sha256="a" * 64)
        assert (back.predict(xy[0]) == model.predict(xy[0])).all()


def test_pickle_globals_are_read_without_unpickling() -> None:
    import os
    import pickle

    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return os.system, ("exit 1",)

    names = serialization.pickle_globals(pickle.dumps(Boom()))
    assert names == [f"{os.system.__module__}.system"]
    assert serialization.pickle_globals(b"\x80\x05garbage") == ["<unreadable pickle>"]


def test_unknown_stored_format_raises_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        serialization.load(b"", "onnx", sha256="a" * 64)


def test_model_class_is_the_qualified_name() -> None:
    assert serialization.model_class(Threshold()) == f"{__name__}.Threshold"
