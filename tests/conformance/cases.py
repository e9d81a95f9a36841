"""The flavour cases of the conformance suite: a new flavour is one module in
``tests/conformance/flavours/`` and one line here."""

from __future__ import annotations

from tests.conformance.flavour_case import FlavourCase
from tests.conformance.flavours import (
    catboost_model,
    lightgbm_model,
    onnx_model,
    python_model,
    sklearn_lightgbm,
    sklearn_pipeline,
    xgboost_model,
)

FLAVOURS: list[FlavourCase] = [
    sklearn_pipeline.CASE,
    sklearn_lightgbm.CASE,
    lightgbm_model.CASE,
    xgboost_model.CASE,
    catboost_model.CASE,
    onnx_model.CASE,
    python_model.CASE,
]
