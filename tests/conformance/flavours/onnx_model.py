"""ONNX: a scikit-learn Pipeline (one-hot categories, scaled numbers, logistic regression)
registered as trained and converted by ``keel models convert --to onnx``, which checks the graph
against the pipeline on the training rows and registers it as the next version; onnxruntime
runs it.

An ONNX graph cannot be refit, so the policy names ``retrain`` as the trainer: it fits the same
scikit-learn pipeline on the retrain's window and converts it with skl2onnx (one graph input per
column), as a user's trainer would.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tests.conformance.flavour_case import FlavourCase, Trained
from tests.conformance.flavours.prepare import columns
from tests.conformance.tables import Table

#: how far onnxruntime's probabilities may be from scikit-learn's (max abs difference): the
#: graph computes in float32
TOLERANCE = 1e-5


def pipeline(categorical: list[str], numeric: list[str]) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    return Pipeline(
        [
            ("prepare", columns(categorical, numeric, scale=True)),
            ("classify", LogisticRegression(max_iter=2000)),
        ]
    )


def train(table: Table) -> Trained:
    fitted = pipeline(list(table.categorical), table.numeric)
    return Trained(fitted.fit(table.train[table.features], table.train[table.target].to_numpy()))


def retrain(frame: pd.DataFrame, target: str) -> Any:
    """The policy's trainer: the same pipeline fit on the window, converted with skl2onnx."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    from keel.registry.flavours import OnnxModel

    features = frame.drop(columns=[target])
    categorical = [str(c) for c in features if isinstance(features[c].dtype, pd.CategoricalDtype)]
    numeric = [str(c) for c in features if str(c) not in categorical]
    fitted = pipeline(categorical, numeric).fit(features, frame[target].to_numpy())
    inputs = []  # as keel models convert names them: text categories as strings, numbers as floats
    for name, dtype in features.dtypes.items():
        text = isinstance(dtype, pd.CategoricalDtype) and not pd.api.types.is_numeric_dtype(
            dtype.categories.dtype
        )
        inputs.append((str(name), (StringTensorType if text else FloatTensorType)([None, 1])))
    graph = convert_sklearn(
        fitted,
        initial_types=inputs,
        options={id(fitted.steps[-1][1]): {"zipmap": False}},
        target_opset=17,
    )
    return OnnxModel(graph.SerializeToString(), classes=np.asarray(fitted.classes_).tolist())


CASE = FlavourCase(
    "onnx",
    flavour="onnx",
    native_class="OnnxModel",
    train=train,
    trainer=f"{__name__}:retrain",
    convert="onnx",
    source_tolerance=TOLERANCE,
)
