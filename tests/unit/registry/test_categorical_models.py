"""LightGBM and XGBoost models trained on pandas ``category`` columns answer plain JSON rows
(categories as their labels) exactly as they answer the frame they were trained on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from keel.domain.entities import ModelVersion
from keel.domain.signature import Signature
from keel.registry.frames import frame_from_rows, restore_types
from keel.registry.loaded import LoadedModel
from keel.registry.signatures import infer_signature
from keel.serving.served import ServedModel
from tests.unit.registry.census import census_table

ROWS = 300


@pytest.fixture(scope="module")
def census() -> tuple[pd.DataFrame, np.ndarray]:
    """Two categories in a non-sorted order (text and ints) plus int, float and bool columns."""
    return census_table(7, ROWS)


def _lightgbm(frame: pd.DataFrame, labels: np.ndarray) -> Any:
    lightgbm = pytest.importorskip("lightgbm")
    model = lightgbm.LGBMClassifier(n_estimators=10, min_child_samples=5, verbose=-1)
    return model.fit(frame, labels)


def _xgboost(frame: pd.DataFrame, labels: np.ndarray) -> Any:
    xgboost = pytest.importorskip("xgboost")
    model = xgboost.XGBClassifier(
        enable_categorical=True, tree_method="hist", n_estimators=10, max_depth=3
    )
    return model.fit(frame, labels)


TRAINERS = {"lightgbm": _lightgbm, "xgboost": _xgboost}


def json_rows(frame: pd.DataFrame) -> list[list[Any]]:
    """The rows as a client sends them over JSON: categories as their text labels."""
    columns = []
    for name in frame.columns:
        values = frame[name].astype(object)
        if isinstance(frame[name].dtype, pd.CategoricalDtype):
            columns.append([None if pd.isna(v) else str(v) for v in values])
        else:
            columns.append([v.item() if hasattr(v, "item") else v for v in values])
    rows: list[list[Any]] = orjson.loads(
        orjson.dumps([list(r) for r in zip(*columns, strict=True)])
    )
    return rows


def _version(signature: Signature) -> ModelVersion:
    return ModelVersion(
        name="census",
        version=1,
        artifact_sha256="0" * 64,
        format="test",
        model_class="test",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        author="test",
        signature=signature,
    )


@pytest.fixture(params=sorted(TRAINERS))
def trained(request: pytest.FixtureRequest, census: tuple[pd.DataFrame, np.ndarray]) -> Any:
    frame, labels = census
    return TRAINERS[request.param](frame, labels), frame


def test_rows_from_json_score_exactly_like_the_training_frame(trained: Any) -> None:
    model, frame = trained
    signature = infer_signature(frame)
    assert signature.feature("grade").categories == (10, 3, 1, 2)
    assert signature.feature("colour").categories == ("teal", "red", "blue", "green")
    rebuilt = frame_from_rows(signature, json_rows(frame))
    pd.testing.assert_frame_equal(rebuilt, frame)
    np.testing.assert_array_equal(model.predict(rebuilt), model.predict(frame))
    np.testing.assert_array_equal(model.predict_proba(rebuilt), model.predict_proba(frame))


def test_load_model_predicts_on_plain_rows(trained: Any) -> None:
    model, frame = trained
    loaded = LoadedModel(model, _version(infer_signature(frame)))
    plain = pd.DataFrame(json_rows(frame), columns=list(frame.columns))
    assert plain["grade"].dtype != frame["grade"].dtype  # text, as JSON gives it
    np.testing.assert_array_equal(loaded.predict(plain), model.predict(frame))
    np.testing.assert_array_equal(loaded.predict_proba(plain), model.predict_proba(frame))
    # a replay from the log: ints as floats, booleans as 0/1, unchecked
    logged = plain.assign(age=plain["age"].astype(float), member=plain["member"].astype(int))
    np.testing.assert_array_equal(
        loaded.predict_proba(logged, validate=False), model.predict_proba(frame)
    )


def test_serving_scores_json_rows_like_the_native_model(trained: Any) -> None:
    model, frame = trained
    served = ServedModel(LoadedModel(model, _version(infer_signature(frame))))
    assert served.input_kind == "frame"
    scored = served.score(json_rows(frame))
    assert scored.predictions == model.predict(frame).tolist()
    assert scored.scores == model.predict_proba(frame)[:, 1].tolist()


def test_an_unseen_category_reaches_the_model_as_missing(trained: Any) -> None:
    model, frame = trained
    signature = infer_signature(frame)
    rows = json_rows(frame.head(5))
    rows[0][0] = "mauve"  # never seen in training: flagged elsewhere, scored here
    rebuilt = frame_from_rows(signature, rows)
    assert rebuilt["colour"].isna().tolist() == [True, False, False, False, False]
    expected = frame.head(5).assign(colour=frame["colour"].head(5).where([False, *[True] * 4]))
    np.testing.assert_array_equal(model.predict_proba(rebuilt), model.predict_proba(expected))


def test_a_snapshot_read_from_text_is_restored_for_the_model(trained: Any) -> None:
    model, frame = trained
    text = pd.read_csv(__import__("io").StringIO(frame.to_csv(index=False)))
    assert not isinstance(text["grade"].dtype, pd.CategoricalDtype)
    restored = restore_types(infer_signature(frame), text)
    np.testing.assert_array_equal(model.predict_proba(restored), model.predict_proba(frame))
