"""ONNX: a scikit-learn Pipeline (one-hot categories, scaled numbers, logistic regression)
registered as trained and converted by ``keel models convert --to onnx``, which checks the graph
against the pipeline on the training rows and registers it as the next version; onnxruntime
runs it.

An ONNX graph cannot be refit, but a converted one names its source (``converted_from``): the
default retraining pipeline refits the source's pipeline on the window and converts it again,
keeping the graph only if it answers like that refit within the conversion's tolerance.
"""

from __future__ import annotations

from typing import Any

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


CASE = FlavourCase(
    "onnx",
    flavour="onnx",
    native_class="OnnxModel",
    train=train,
    convert="onnx",
    source_tolerance=TOLERANCE,
)
