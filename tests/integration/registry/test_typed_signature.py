"""A version's signature comes back from the store typed: a LightGBM model trained on pandas
``category`` columns, registered and read back, still answers and serves plain JSON rows as it
answers its training frame, and every door still shows the JSON the store keeps."""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd
import pytest

from keel import Client
from keel.domain.signature import Signature
from keel.registry.signatures import infer_signature
from keel.serving.served import ServedModel
from tests.unit.registry.census import census_table
from tests.unit.registry.test_categorical_models import json_rows


def test_a_categorical_lightgbm_version_read_from_the_store_still_serves(client: Client) -> None:
    lightgbm = pytest.importorskip("lightgbm")
    frame, labels = census_table(11, 300)
    model = lightgbm.LGBMClassifier(n_estimators=10, min_child_samples=5, verbose=-1)
    model.fit(frame, labels)
    client.register_model("census", model, training_data=frame.assign(label=labels))

    version = client.get_version("census/1")
    assert isinstance(version.signature, Signature)
    assert version.signature.inputs == infer_signature(frame).inputs
    grade = version.signature.feature("grade")
    assert (grade.type, grade.categories, grade.labels) == (
        "category",
        (10, 3, 1, 2),
        ("10", "3", "1", "2"),
    )
    assert version.signature.outputs == {
        "flavour": "lightgbm",
        "probabilities": True,
        "classes": [0, 1],
    }
    shown = orjson.loads(orjson.dumps(version.to_dict()))["signature"]
    assert shown == version.signature.to_dict()
    assert shown["inputs"][1] == {
        "name": "grade",
        "kind": "category",
        "dtype": "category",
        "type": "category",
        "categories": [10, 3, 1, 2],
    }

    loaded = client.load_model("census/1")
    assert loaded.signature == version.signature
    plain = pd.DataFrame(json_rows(frame), columns=list(frame.columns))
    np.testing.assert_array_equal(loaded.predict_proba(plain), model.predict_proba(frame))
    scored = ServedModel(loaded).score(json_rows(frame))
    assert scored.predictions == model.predict(frame).tolist()
    assert scored.scores == model.predict_proba(frame)[:, 1].tolist()
