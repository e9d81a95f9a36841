"""ONNX conversion: a converted version answers like its original on the training snapshot, or
is refused (and nothing is registered); its lineage names the original."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from keel.client import Client
from keel.errors import InvalidInput
from keel.registry.conversion import ConversionMismatch
from keel.registry.flavours.onnx import OnnxModel
from tests.unit.registry.census import census_table

ROWS = 300


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with Client(f"sqlite:///{tmp_path / 'keel.db'}", str(tmp_path / "art"), actor="ana") as made:
        yield made


@pytest.fixture(scope="module")
def numbers() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(ROWS, 4)), columns=["a", "b", "c", "d"])
    logit = frame["a"] + frame["b"] * frame["c"] - 0.5 * frame["d"]
    labels = (logit + rng.normal(0, 0.3, ROWS) > 0).astype(int).to_numpy()
    return frame, labels


@pytest.fixture(scope="module")
def census() -> tuple[pd.DataFrame, np.ndarray]:
    """Text and int categories (in a non-sorted order), int, float and bool columns."""
    return census_table(11, ROWS)


def _with_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """Every 13th colour missing."""
    colour = frame["colour"].copy()
    colour.iloc[::13] = np.nan
    return frame.assign(colour=colour)


def _one_hot_pipeline(frame: pd.DataFrame, labels: np.ndarray) -> Any:
    prepare = ColumnTransformer(
        [
            ("categories", OneHotEncoder(handle_unknown="ignore"), ["colour", "grade"]),
            ("numbers", StandardScaler(), ["age", "income", "member"]),
        ]
    )
    model = Pipeline([("prepare", prepare), ("classify", LogisticRegression())])
    return model.fit(frame, labels)


def _histogram(frame: pd.DataFrame, labels: np.ndarray) -> Any:
    return HistGradientBoostingClassifier(max_iter=20).fit(frame, labels)


def _lightgbm(frame: pd.DataFrame, labels: np.ndarray) -> Any:
    lightgbm = pytest.importorskip("lightgbm")
    model = lightgbm.LGBMClassifier(n_estimators=20, min_child_samples=5, verbose=-1)
    return model.fit(frame, labels)


def _xgboost(frame: pd.DataFrame, labels: np.ndarray) -> Any:
    xgboost = pytest.importorskip("xgboost")
    return xgboost.XGBClassifier(n_estimators=20, max_depth=3).fit(frame, labels)


def _register(
    client: Client, name: str, model: Any, frame: pd.DataFrame, labels: Any, **more: Any
) -> None:
    data = frame.assign(label=labels)
    client.register_model(name, model, training_data=data, target="label", **more)


def _plain_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows as JSON gives them: categories as their text labels, no pandas dtypes."""
    plain = {}
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            plain[name] = [None if pd.isna(v) else str(v) for v in column.astype(object)]
        else:
            plain[name] = column.astype(object).tolist()
    return pd.DataFrame(plain)


def _check_converted(
    client: Client, name: str, native: Any, frame: pd.DataFrame, tolerance: float = 1e-4
) -> None:
    conversion = client.convert_model(f"{name}/1", tolerance=tolerance)
    version = conversion.version
    assert version.ref == f"{name}/2" and version.flavour == "onnx"
    assert version.parent_version == 1
    assert version.tags["converted_from"] == f"{name}/1"
    original = client.get_version(f"{name}/1")
    assert version.training_snapshot == original.training_snapshot == conversion.data
    assert version.signature == original.signature
    assert conversion.rows == len(frame) == version.metrics["conversion_rows"]
    assert conversion.max_abs_diff is not None and conversion.max_abs_diff <= tolerance
    assert version.metrics["conversion_max_abs_diff"] == conversion.max_abs_diff
    assert conversion.label_agreement == version.metrics["conversion_label_agreement"]
    assert [p.ref for p in client.lineage(version.ref).parents] == [f"{name}/1"]

    loaded = client.load_model(version.ref)
    assert isinstance(loaded.model, OnnxModel)
    assert list(loaded.classes_) == list(native.classes_)
    proba = loaded.predict_proba(frame)
    assert np.abs(proba - native.predict_proba(frame)).max() <= tolerance
    agree = np.mean(np.asarray(loaded.predict(frame)) == np.asarray(native.predict(frame)))
    assert agree >= 0.99  # a label may flip only where two probabilities tie within tolerance
    labels, both = loaded.model.predict_and_proba(loaded.typed(frame))  # serving's one run
    np.testing.assert_array_equal(labels, loaded.predict(frame))
    np.testing.assert_array_equal(both, proba)


def test_a_one_hot_pipeline_over_category_columns_converts(
    client: Client, census: tuple[pd.DataFrame, np.ndarray]
) -> None:
    frame, labels = census
    model = _one_hot_pipeline(frame, labels)
    _register(client, "churn", model, frame, labels)
    _check_converted(client, "churn", model, frame)
    graph_inputs = {i.name: i.type for i in client.load_model("churn/2").model.inputs}
    assert graph_inputs == {
        "colour": "tensor(string)",
        "grade": "tensor(float)",
        "age": "tensor(float)",
        "income": "tensor(float)",
        "member": "tensor(float)",
    }
    # plain rows (categories as text, as JSON sends them) answer as the native does
    loaded = client.load_model("churn/2")
    expected = model.predict_proba(frame)
    assert np.abs(loaded.predict_proba(_plain_rows(frame)) - expected).max() <= 1e-4


@pytest.mark.parametrize(
    "train", [_histogram, _lightgbm, _xgboost], ids=["histogram", "lightgbm", "xgboost"]
)
def test_gradient_boosting_on_numbers_converts(
    client: Client,
    numbers: tuple[pd.DataFrame, np.ndarray],
    train: Callable[[pd.DataFrame, np.ndarray], Any],
) -> None:
    frame, labels = numbers
    model = train(frame, labels)
    _register(client, "risk", model, frame, labels)
    _check_converted(client, "risk", model, frame)
    assert [i.name for i in client.load_model("risk/2").model.inputs] == ["input"]


def test_lightgbm_on_category_columns_maps_labels_to_its_codes(
    client: Client, census: tuple[pd.DataFrame, np.ndarray]
) -> None:
    frame, labels = census
    frame = _with_missing(frame)
    model = _lightgbm(frame, labels)
    _register(client, "census", model, frame, labels)
    _check_converted(client, "census", model, frame)
    loaded = client.load_model("census/2")
    plain = _plain_rows(frame)
    assert np.abs(loaded.predict_proba(plain) - model.predict_proba(frame)).max() <= 1e-4
    unseen = plain.assign(colour="purple")  # never trained: missing, as LightGBM takes it
    native = model.predict_proba(frame.assign(colour=pd.NA).astype({"colour": frame.colour.dtype}))
    assert np.abs(loaded.predict_proba(unseen, validate=False) - native).max() <= 1e-4
    # serving hands the graph checked columns: an unseen label of an int category (a number
    # input of the graph) is missing too, not an error taking the batch down
    from keel.serving.served import ServedModel

    served = ServedModel(loaded)
    rows = [list(r) for r in plain.head(3).itertuples(index=False)]
    at = list(plain.columns).index("grade")
    rows[0][at] = "n/a"
    scored = served.score(rows)
    expected = model.predict_proba(
        frame.head(3)
        .assign(grade=[pd.NA, *frame.grade.head(3)[1:]])
        .astype({"grade": frame.grade.dtype})
    )[:, 1]
    assert np.abs(np.asarray(scored.scores) - expected).max() <= 1e-4


def test_a_pipeline_ending_in_lightgbm_and_a_classifier_without_probabilities(
    client: Client, census: tuple[pd.DataFrame, np.ndarray]
) -> None:
    lightgbm = pytest.importorskip("lightgbm")
    from sklearn.linear_model import RidgeClassifier

    frame, labels = census
    prepare = ColumnTransformer(
        [("categories", OneHotEncoder(), ["colour", "grade"])], remainder="passthrough"
    )
    boosted = lightgbm.LGBMClassifier(n_estimators=15, min_child_samples=5, verbose=-1)
    model = Pipeline([("prepare", prepare), ("boost", boosted)]).fit(frame, labels)
    _register(client, "piped", model, frame, labels)
    _check_converted(client, "piped", model, frame)
    assert "onnxmltools" in client.get_version("piped/2").tags["converter"]

    scaled = ColumnTransformer(
        [
            ("categories", OneHotEncoder(), ["colour", "grade"]),
            ("numbers", StandardScaler(), ["age", "income", "member"]),
        ]
    )
    margin = Pipeline([("prepare", scaled), ("ridge", RidgeClassifier())]).fit(frame, labels)
    _register(client, "margin", margin, frame, labels)
    conversion = client.convert_model("margin/1")
    assert conversion.agreement.compared == "labels"
    assert conversion.label_agreement == 1.0 and conversion.max_abs_diff is None
    loaded = client.load_model("margin/2")
    assert (loaded.predict(frame) == margin.predict(frame)).all()
    with pytest.raises(AttributeError):
        loaded.predict_proba(frame)


def test_string_labels_and_a_regressor(client: Client, numbers: tuple[pd.DataFrame, Any]) -> None:
    lightgbm = pytest.importorskip("lightgbm")
    frame, _ = numbers
    words = np.array(["low", "mid", "high"])[np.digitize(frame["a"], [-0.5, 0.5])]
    classifier = lightgbm.LGBMClassifier(n_estimators=15, verbose=-1).fit(frame, words)
    _register(client, "band", classifier, frame, words)
    _check_converted(client, "band", classifier, frame)
    assert set(client.load_model("band/2").predict(frame)) == {"low", "mid", "high"}

    target = frame["a"] * 2 + frame["b"]
    regressor = lightgbm.LGBMRegressor(n_estimators=15, verbose=-1).fit(frame, target)
    _register(client, "amount", regressor, frame, target)
    conversion = client.convert_model("amount/1")
    assert conversion.agreement.compared == "predictions"
    assert conversion.label_agreement is None
    assert conversion.max_abs_diff is not None and conversion.max_abs_diff <= 1e-4
    got = client.load_model("amount/2").predict(frame)
    assert np.abs(got - regressor.predict(frame)).max() <= 1e-4


def test_a_difference_above_the_tolerance_is_refused_and_nothing_registered(
    client: Client, census: tuple[pd.DataFrame, np.ndarray]
) -> None:
    frame, labels = census
    _register(client, "churn", _one_hot_pipeline(frame, labels), frame, labels)
    with pytest.raises(ConversionMismatch) as refused:
        client.convert_model("churn/1", tolerance=1e-12)
    error = refused.value
    assert error.fields["rows"] == ROWS and error.fields["tolerance"] == 1e-12
    assert error.max_abs_diff is not None and error.max_abs_diff > 1e-12
    assert f"{error.max_abs_diff:.3g}" in error.message
    assert "nothing was registered" in error.message
    assert [v.version for v in client.list_versions("churn")] == [1]


def test_the_check_catches_what_the_converter_gets_wrong(
    client: Client, census: tuple[pd.DataFrame, np.ndarray]
) -> None:
    """A OneHotEncoder that learned missing values as a category: an ONNX input cannot carry a
    missing text, so those rows are unknown categories to the graph: encoded as zeros (the
    probabilities differ) or, for an encoder that refuses unknown values, an error."""
    frame, labels = census
    frame = _with_missing(frame)
    for name, unknown in (("ignoring", "ignore"), ("strict", "error")):
        encode = OneHotEncoder(handle_unknown=unknown)
        prepare = ColumnTransformer([("categories", encode, ["colour", "grade"])])
        model = Pipeline([("prepare", prepare), ("classify", LogisticRegression())])
        _register(client, name, model.fit(frame, labels), frame, labels)
    with pytest.raises(ConversionMismatch, match="largest absolute difference"):
        client.convert_model("ignoring/1")
    with pytest.raises(InvalidInput, match="converted graph fails on rows"):
        client.convert_model("strict/1")
    assert [v.version for v in client.list_versions("ignoring")] == [1]
    assert [v.version for v in client.list_versions("strict")] == [1]


class Doubler:
    """A custom Python model (saved with cloudpickle, trusted as code)."""

    classes_ = np.array([0, 1])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (frame["a"] > 0).astype(int).to_numpy()


def test_a_custom_python_model_is_refused_with_the_reason(
    client: Client, numbers: tuple[pd.DataFrame, np.ndarray]
) -> None:
    frame, labels = numbers
    client.register_model(
        "custom", Doubler(), training_data=frame.assign(label=labels), target="label", trust="code"
    )
    with pytest.raises(InvalidInput, match="scikit-learn, LightGBM and XGBoost models only"):
        client.convert_model("custom/1")
    assert [v.version for v in client.list_versions("custom")] == [1]


def test_category_splits_onnx_cannot_express_are_refused_by_name(
    client: Client, census: tuple[pd.DataFrame, np.ndarray]
) -> None:
    xgboost = pytest.importorskip("xgboost")
    frame, labels = census
    boosted = xgboost.XGBClassifier(n_estimators=10, enable_categorical=True, max_depth=3)
    _register(client, "xgb", boosted.fit(frame, labels), frame, labels)
    with pytest.raises(InvalidInput, match="onnxmltools cannot read XGBoost's categorical"):
        client.convert_model("xgb/1")
    histogram = HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype")
    needs = ["functools.partial", "sklearn.utils.validation.check_array"]  # its preprocessor
    _register(client, "hgb", histogram.fit(frame, labels), frame, labels, trust=needs)
    with pytest.raises(InvalidInput, match="ignores their category sets"):
        client.convert_model("hgb/1")
    assert [v.version for v in client.list_versions("xgb")] == [1]
    assert [v.version for v in client.list_versions("hgb")] == [1]


def test_what_cannot_be_checked_or_asked_is_refused(
    client: Client, numbers: tuple[pd.DataFrame, np.ndarray]
) -> None:
    frame, labels = numbers
    model = LogisticRegression().fit(frame, labels)
    client.register_model("bare", model, input_example=frame)
    with pytest.raises(InvalidInput, match="no training snapshot"):
        client.convert_model("bare/1")
    _register(client, "lr", model, frame, labels)
    with pytest.raises(InvalidInput, match="targets: onnx"):
        client.convert_model("lr/1", to="pmml")
    for bad in (-1.0, float("nan"), "0.1", True):
        with pytest.raises(InvalidInput, match="tolerance"):
            client.convert_model("lr/1", tolerance=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="max_rows"):
        client.convert_model("lr/1", max_rows=0)
    client.convert_model("lr/1", max_rows=50)
    assert client.get_version("lr/2").metrics["conversion_rows"] == 50
    with pytest.raises(InvalidInput, match="already an ONNX model"):
        client.convert_model("lr/2")
