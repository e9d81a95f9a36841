"""Every flavour saves in its framework's own format and loads back a model that answers exactly
as the original; artifacts that are not what they say are refused before anything is built."""

from __future__ import annotations

import io
import json
import sys
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from keel.domain.trust import TrustRequest
from keel.errors import FrameworkMissing, InvalidInput
from keel.registry import flavours, serialization
from keel.registry.flavours import bundle
from keel.registry.model_files import read_model_file

lgb = pytest.importorskip("lightgbm")
xgb = pytest.importorskip("xgboost")
catboost = pytest.importorskip("catboost")


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 300
    return pd.DataFrame(
        {
            "amount": rng.normal(size=n),
            "plan": pd.Categorical(rng.choice(["pro", "free", "team"], n), ["team", "pro", "free"]),
            "tier": pd.Categorical(rng.choice([3, 1, 2], n), categories=[3, 1, 2]),
            "visits": rng.integers(0, 20, n),
        }
    )


@pytest.fixture(scope="module")
def labels(frame: pd.DataFrame) -> np.ndarray:
    noise = np.random.default_rng(8).normal(size=len(frame))
    return np.where(frame["amount"] + (frame["plan"] == "pro") + noise > 0.5, "yes", "no")


def _builders() -> dict[str, Callable[[pd.DataFrame, np.ndarray], Any]]:
    numeric = {"yes": 1, "no": 0}
    return {
        "lightgbm-classifier": lambda x, y: lgb.LGBMClassifier(n_estimators=8, verbose=-1).fit(
            x, y
        ),
        "lightgbm-regressor": lambda x, y: lgb.LGBMRegressor(n_estimators=8, verbose=-1).fit(
            x, x["amount"] * 2
        ),
        "lightgbm-booster": lambda x, y: (
            lgb.LGBMClassifier(n_estimators=8, verbose=-1).fit(x, y).booster_
        ),
        "xgboost-classifier": lambda x, y: xgb.XGBClassifier(
            n_estimators=8, enable_categorical=True, max_depth=3
        ).fit(x, np.vectorize(numeric.get)(y)),
        "xgboost-regressor": lambda x, y: xgb.XGBRegressor(
            n_estimators=8, enable_categorical=True
        ).fit(x, x["amount"]),
        "catboost-classifier": lambda x, y: catboost.CatBoostClassifier(
            iterations=8, verbose=0, cat_features=["plan", "tier"], allow_writing_files=False
        ).fit(x, y),
    }


BUILDERS = _builders()


def _predict(model: Any, rows: pd.DataFrame) -> np.ndarray:
    if isinstance(model, xgb.Booster):
        return np.asarray(model.inplace_predict(rows))
    return np.asarray(model.predict(rows))


@pytest.mark.parametrize("case", sorted(BUILDERS))
def test_a_model_loads_back_answering_exactly_as_the_original(
    case: str, frame: pd.DataFrame, labels: np.ndarray
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        original = BUILDERS[case](frame, labels)
    data, format = serialization.dump(original)
    assert format == case.split("-")[0]
    assert serialization.types_needing_trust(data, format) == ([], False)
    loaded = serialization.load(data, format, sha256="0" * 64)
    native = loaded.booster if isinstance(loaded, flavours.XGBoostBooster) else loaded
    assert type(native) is type(original)
    np.testing.assert_array_equal(_predict(loaded, frame), _predict(original, frame))
    if hasattr(original, "predict_proba"):
        np.testing.assert_allclose(
            loaded.predict_proba(frame), original.predict_proba(frame), rtol=0, atol=1e-12
        )
        assert list(loaded.classes_) == list(original.classes_)


def test_the_same_model_gives_the_same_bytes(frame: pd.DataFrame, labels: np.ndarray) -> None:
    model = BUILDERS["lightgbm-classifier"](frame, labels)
    assert serialization.dump(model) == serialization.dump(model)


def test_the_native_file_sits_unchanged_inside_the_artifact(
    frame: pd.DataFrame, labels: np.ndarray
) -> None:
    model = BUILDERS["lightgbm-classifier"](frame, labels)
    data, _ = serialization.dump(model)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        text = archive.read("model.txt").decode()
    assert text == model.booster_.model_to_string()
    assert lgb.Booster(model_str=text).num_trees() == model.booster_.num_trees()


@pytest.mark.parametrize(
    "case", ["lightgbm-classifier", "xgboost-classifier", "catboost-classifier"]
)
def test_a_refit_copy_has_the_same_parameters_and_nothing_learned(
    case: str, frame: pd.DataFrame, labels: np.ndarray
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        original = BUILDERS[case](frame, labels)
    data, format = serialization.dump(original)
    loaded = serialization.load(data, format, sha256="0" * 64)
    fresh = flavours.unfitted(loaded)
    assert type(fresh) is type(original)
    kept = {k: v for k, v in original.get_params().items() if v is not None}
    again = {k: fresh.get_params().get(k) for k in kept}
    assert json.dumps(again, sort_keys=True, default=str) == json.dumps(  # NaN equals NaN here
        kept, sort_keys=True, default=str
    )
    refit_labels = labels if case != "xgboost-classifier" else (labels == "yes").astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh.fit(frame, refit_labels)
    np.testing.assert_array_equal(fresh.predict(frame), original.predict(frame))


def test_a_bare_booster_cannot_be_refit(frame: pd.DataFrame, labels: np.ndarray) -> None:
    booster = BUILDERS["lightgbm-booster"](frame, labels)
    with pytest.raises(InvalidInput, match=r"retraining\.trainer"):
        flavours.unfitted(booster)


def test_a_pipeline_ending_in_lightgbm_is_saved_with_skops_and_needs_no_trust(
    frame: pd.DataFrame, labels: np.ndarray
) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    pipeline = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [("categories", OneHotEncoder(handle_unknown="ignore"), ["plan", "tier"])],
                    remainder="passthrough",
                ),
            ),
            ("model", lgb.LGBMClassifier(n_estimators=5, verbose=-1)),
        ]
    ).fit(frame, labels)
    data, format = serialization.dump(pipeline)
    assert format == "skops"
    assert serialization.types_needing_trust(data, format) == ([], False)
    loaded = serialization.load(data, format, sha256="0" * 64)
    np.testing.assert_array_equal(loaded.predict_proba(frame), pipeline.predict_proba(frame))


def test_a_missing_framework_names_what_to_install(
    frame: pd.DataFrame, labels: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, format = serialization.dump(BUILDERS["lightgbm-classifier"](frame, labels))
    monkeypatch.setitem(sys.modules, "lightgbm", None)  # import lightgbm now raises ImportError
    with pytest.raises(FrameworkMissing) as caught:
        serialization.load(data, format, sha256="0" * 64)
    assert caught.value.fields["install"] == "pip install 'mlkeel[lightgbm]'"
    assert "lightgbm" in str(caught.value)


def test_a_parameter_no_native_format_can_hold_is_refused_by_name(
    frame: pd.DataFrame, labels: np.ndarray
) -> None:
    model = BUILDERS["lightgbm-classifier"](frame, labels)
    model.set_params(my_callback=print)
    with pytest.raises(InvalidInput) as caught:
        serialization.dump(model)
    assert caught.value.field == "params.my_callback"


def _rewrite(data: bytes, members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: {**m, "other.py": b"print(1)"}, "holds exactly"),
        (
            lambda m: {**m, bundle.META: b'{"flavour": "lightgbm", "wrapper": "os.system"}'},
            "wrapper",
        ),
        (lambda m: {**m, bundle.META: b'{"flavour": "xgboost", "wrapper": "Booster"}'}, "says"),
        (lambda m: {**m, bundle.META: b"[1, 2]"}, "JSON object"),
        (lambda m: {**m, "model.txt": b"not a model"}, "LightGBM"),
    ],
    ids=["extra-member", "unknown-wrapper", "other-flavour", "not-an-object", "not-a-model"],
)
def test_an_artifact_that_is_not_what_it_says_is_refused(
    frame: pd.DataFrame, labels: np.ndarray, change: Any, message: str
) -> None:
    data, format = serialization.dump(BUILDERS["lightgbm-classifier"](frame, labels))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    with pytest.raises(InvalidInput, match=message):
        serialization.load(_rewrite(data, change(members)), format, sha256="0" * 64)


def test_bytes_that_are_not_a_zip_are_refused() -> None:
    with pytest.raises(InvalidInput, match="not a zip"):
        serialization.load(b"\x00" * 64, "catboost", sha256="0" * 64)


def test_a_forced_format_must_fit_the_model(frame: pd.DataFrame, labels: np.ndarray) -> None:
    model = BUILDERS["catboost-classifier"](frame, labels)
    with pytest.raises(InvalidInput) as caught:
        serialization.dump(model, "lightgbm")
    assert caught.value.field == "format"


def test_framework_files_are_read_as_their_users_save_them(
    frame: pd.DataFrame, labels: np.ndarray, tmp_path: Path
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        classifier = BUILDERS["lightgbm-classifier"](frame, labels)
        xgb_model = BUILDERS["xgboost-classifier"](frame, labels)
        cat_model = BUILDERS["catboost-classifier"](frame, labels)
    classifier.booster_.save_model(tmp_path / "model.txt")
    xgb_model.save_model(tmp_path / "model.ubj")
    cat_model.save_model(str(tmp_path / "model.cbm"))
    trust = TrustRequest((), False)
    booster, format = read_model_file(tmp_path / "model.txt", trust)
    assert format == "lightgbm" and isinstance(booster, lgb.Booster)
    np.testing.assert_allclose(booster.predict(frame), classifier.predict_proba(frame)[:, 1])
    wrapper, format = read_model_file(tmp_path / "model.ubj", trust)
    assert format == "xgboost" and isinstance(wrapper, xgb.XGBClassifier)
    np.testing.assert_array_equal(wrapper.predict_proba(frame), xgb_model.predict_proba(frame))
    loaded_cat, format = read_model_file(tmp_path / "model.cbm", trust)
    assert format == "catboost" and isinstance(loaded_cat, catboost.CatBoostClassifier)
    np.testing.assert_array_equal(loaded_cat.predict(frame), cat_model.predict(frame))


def test_a_file_of_unknown_kind_names_the_endings_read(tmp_path: Path) -> None:
    path = tmp_path / "model.h5"
    path.write_bytes(b"x")
    with pytest.raises(InvalidInput) as caught:
        read_model_file(path, TrustRequest((), False))
    assert ".onnx" in caught.value.problem and ".cbm" in caught.value.problem


def test_detection_picks_each_frameworks_flavour(frame: pd.DataFrame, labels: np.ndarray) -> None:
    from sklearn.linear_model import LogisticRegression

    class Custom:
        def predict(self, rows: Any) -> Any:
            return rows

    assert flavours.detect(LogisticRegression()).name == "sklearn"
    assert flavours.detect(lgb.LGBMClassifier()).name == "lightgbm"
    assert flavours.detect(xgb.XGBRegressor()).name == "xgboost"
    assert flavours.detect(catboost.CatBoostRegressor()).name == "catboost"
    assert flavours.detect(Custom()).name == "python"
    with pytest.raises(InvalidInput, match="no predict"):
        flavours.detect(object())


def test_an_onnx_network_runs_as_its_graph_computes(tmp_path: Path) -> None:
    """A two-layer network in standard operators (as PyTorch or TensorFlow export one): one
    input matrix, softmax probabilities out; Keel's predict is exactly the graph's output."""
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    w1, b1 = rng.normal(size=(4, 8)).astype(np.float32), rng.normal(size=8).astype(np.float32)
    w2, b2 = rng.normal(size=(8, 3)).astype(np.float32), rng.normal(size=3).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["h2"]),
        helper.make_node("MatMul", ["h2", "w2"], ["o0"]),
        helper.make_node("Add", ["o0", "b2"], ["o1"]),
        helper.make_node("Softmax", ["o1"], ["scores"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, 3])],
        initializer=[
            numpy_helper.from_array(a, n)
            for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))
        ],
    )
    network = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    rows = pd.DataFrame(rng.normal(size=(50, 4)), columns=["a", "b", "c", "d"])
    data, format = serialization.dump(network)
    assert format == "onnx"
    loaded = serialization.load(data, format, sha256="0" * 64)
    hidden = np.maximum(rows.to_numpy(np.float32) @ w1 + b1, 0) @ w2 + b2
    expected = np.exp(hidden - hidden.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loaded.predict(rows), expected, rtol=1e-5, atol=1e-6)
    assert getattr(loaded, "predict_proba", None) is None  # no probability output: a regressor
    labels, proba = loaded.predict_and_proba(rows)
    assert proba is None
    np.testing.assert_array_equal(labels, loaded.predict(rows))
    path = tmp_path / "network.onnx"
    path.write_bytes(network.SerializeToString())
    from_file, format = read_model_file(path, TrustRequest((), False))
    np.testing.assert_array_equal(from_file.predict(rows), loaded.predict(rows))


def test_a_signature_describes_what_the_model_answers(
    frame: pd.DataFrame, labels: np.ndarray
) -> None:
    model = BUILDERS["lightgbm-classifier"](frame, labels)
    assert flavours.detect(model).outputs(model) == {
        "flavour": "lightgbm",
        "probabilities": True,
        "classes": ["no", "yes"],
    }
    regressor = BUILDERS["lightgbm-regressor"](frame, labels)
    assert flavours.detect(regressor).outputs(regressor) == {
        "flavour": "lightgbm",
        "probabilities": False,
    }


def test_an_onnx_graph_takes_plain_columns_as_it_takes_a_frame() -> None:
    """Serving hands an ONNX model the checked columns without a DataFrame; the tensors, and
    so the answers, are the same (text missing as "", numbers missing as NaN)."""
    pytest.importorskip("skl2onnx")
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    rows = pd.DataFrame({"plan": ["pro", "free", "team", "pro"] * 25, "amount": np.arange(100.0)})
    labels = (rows["amount"] > 50).astype(int)
    pipeline = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"])],
                    remainder="passthrough",
                ),
            ),
            ("model", LogisticRegression()),
        ]
    ).fit(rows, labels)
    graph = to_onnx(
        pipeline,
        initial_types=[
            ("plan", StringTensorType([None, 1])),
            ("amount", FloatTensorType([None, 1])),
        ],
        options={id(pipeline): {"zipmap": False}},
    )
    model = flavours.OnnxModel(graph.SerializeToString(), classes=[0, 1])
    columns = {"plan": ["pro", None, "gold"], "amount": [3.0, None, 70]}
    frame = pd.DataFrame({"plan": ["pro", None, "gold"], "amount": [3.0, np.nan, 70.0]})
    from_columns, from_frame = model.predict_and_proba(columns), model.predict_and_proba(frame)
    np.testing.assert_array_equal(from_columns[0], from_frame[0])
    np.testing.assert_array_equal(from_columns[1], from_frame[1])


def test_parameters_that_reach_files_or_hosts_are_left_out_of_a_loaded_model(
    frame: pd.DataFrame, labels: np.ndarray
) -> None:
    """An artifact's parameters reach the estimator a retrain fits: none of them may name a
    file to read, a folder to write or a machine to talk to."""
    data, format = serialization.dump(BUILDERS["lightgbm-classifier"](frame, labels))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(members[bundle.META])
    meta["params"].update(
        machines="10.0.0.1:12400,10.0.0.2:12400",
        num_machines=2,
        forcedsplits_filename="/etc/passwd",
        output_model="/tmp/stolen.txt",
        path_smooth=0.5,  # a regularisation, not a path
    )
    members[bundle.META] = json.dumps(meta).encode()
    loaded = serialization.load(_rewrite(data, members), format, sha256="0" * 64)
    params = flavours.unfitted(loaded).get_params()
    for key in ("machines", "num_machines", "forcedsplits_filename", "output_model"):
        assert key not in params
    assert params["path_smooth"] == 0.5
