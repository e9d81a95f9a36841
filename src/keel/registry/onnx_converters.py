"""What ``keel.registry.to_onnx`` hands skl2onnx beyond its own converters.

- onnxmltools' LightGBM and XGBoost converters, registered for the scikit-learn wrappers (once per
  process), with the ZipMap option so classifiers give probabilities as one tensor;
- the HistGradientBoosting converters behind a container that writes booleans in integer lists
  as 0/1: skl2onnx 1.20 mixes ``False`` into ``nodes_missing_value_tracks_true``, which the onnx
  package refuses ("Expected an int, got a boolean");
- the first stage of a LightGBM graph trained on pandas ``category`` columns: LightGBM splits on a
  category's code (its position in the training categories, ``Booster.pandas_categorical``), so
  the stage maps each category, given as its label, to that code, and anything else (missing or
  never seen) to NaN, which LightGBM also treats as missing.
"""

from __future__ import annotations

import importlib
import math
from functools import cache
from typing import Any, NoReturn

from keel.domain.signature import FeatureSpec, Signature
from keel.errors import FrameworkMissing, InvalidInput

__all__ = [
    "NUMBERS",
    "category_kind",
    "cut",
    "histogram_converters",
    "imported",
    "lightgbm_categories",
    "refuse_feature",
    "register",
    "with_category_codes",
]

#: logical types fed to a graph as floats
NUMBERS = frozenset({"int", "float", "bool"})
#: characters of a converter's own message kept in ours (some quote whole trees)
_QUOTED = 300


def cut(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _QUOTED else text[: _QUOTED - 3] + "..."


def imported(package: str) -> Any:
    try:
        return importlib.import_module(package)
    except ImportError as exc:
        raise FrameworkMissing("onnx", package, "onnx") from exc


def refuse_feature(spec: FeatureSpec, why: str) -> NoReturn:
    raise InvalidInput(
        f"signature.{spec.name}",
        f"a {spec.type} feature cannot be converted: {why}; encode it as numbers or categories",
    )


def category_kind(spec: FeatureSpec, categories: Any) -> str:
    """``"text"`` when every category is text, ``"number"`` when every one is a number."""
    values = list(categories or ())
    if not values:
        raise InvalidInput(
            f"signature.{spec.name}",
            "the signature keeps no categories for this feature (registered before categories "
            "were kept); register the model again to convert it",
        )
    if all(isinstance(v, str) for v in values):
        return "text"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "number"
    refuse_feature(spec, "its categories mix text and numbers")


@cache
def register(family: str) -> None:
    """Register onnxmltools' converter for the LightGBM or XGBoost wrappers with skl2onnx
    (once per process; classifiers declare the ZipMap option so it can be turned off)."""
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    imported("onnxmltools")
    framework = imported(family)
    if family == "lightgbm":
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm

        classifier, regressor, convert = "LGBMClassifier", "LGBMRegressor", convert_lightgbm
        prefix = "LightGbm"
    else:
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost

        classifier, regressor, convert = "XGBClassifier", "XGBRegressor", convert_xgboost
        prefix = "XGBoost"
    update_registered_converter(
        getattr(framework, classifier),
        f"{prefix}{classifier}",
        calculate_linear_classifier_output_shapes,
        convert,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
    )
    update_registered_converter(
        getattr(framework, regressor),
        f"{prefix}{regressor}",
        calculate_linear_regressor_output_shapes,
        convert,
        options={"split": None} if family == "lightgbm" else None,
    )


class _WholeNumbers:
    """A converter's container that writes booleans in integer lists as 0/1: skl2onnx 1.20's
    HistGradientBoosting converter mixes ``False`` into ``nodes_missing_value_tracks_true``,
    which the onnx package refuses ("Expected an int, got a boolean")."""

    def __init__(self, container: Any) -> None:
        self._container = container

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container, name)

    def add_node(self, *args: Any, **attributes: Any) -> Any:
        for key, value in attributes.items():
            if isinstance(value, list) and any(_is_bool(v) for v in value):
                attributes[key] = [int(v) if _is_bool(v) else v for v in value]
        return self._container.add_node(*args, **attributes)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or type(value).__name__ == "bool_"


@cache
def histogram_converters() -> dict[type, Any]:
    from skl2onnx.operator_converters.random_forest import (
        convert_sklearn_random_forest_classifier,
        convert_sklearn_random_forest_regressor_converter,
    )
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    def classifier(scope: Any, operator: Any, container: Any) -> Any:
        return convert_sklearn_random_forest_classifier(scope, operator, _WholeNumbers(container))

    def regressor(scope: Any, operator: Any, container: Any) -> Any:
        return convert_sklearn_random_forest_regressor_converter(
            scope, operator, _WholeNumbers(container)
        )

    return {HistGradientBoostingClassifier: classifier, HistGradientBoostingRegressor: regressor}


def lightgbm_categories(model: Any) -> list[list[Any]]:
    booster = getattr(model, "booster_", None)
    return list(getattr(booster, "pandas_categorical", None) or [])


def with_category_codes(graph: Any, model: Any, signature: Signature) -> Any:
    """``graph`` (taking a float matrix) behind a stage that takes one input per feature and
    maps each category label to LightGBM's code for it."""
    from onnx import TensorProto, compose, helper

    trained = lightgbm_categories(model)
    specs = [spec for spec in signature.inputs if spec.type == "category"]
    if len(trained) != len(specs):
        raise InvalidInput(
            "model",
            f"the LightGBM model knows {len(trained)} category columns but the signature has "
            f"{len(specs)}; register it again with its training frame",
        )
    codes = dict(zip((spec.name for spec in specs), trained, strict=True))
    inputs, nodes, columns = [], [], []
    for position, spec in enumerate(signature.inputs):
        if spec.type in NUMBERS:
            inputs.append(helper.make_tensor_value_info(spec.name, TensorProto.FLOAT, [None, 1]))
            columns.append(spec.name)
            continue
        if spec.type != "category":
            refuse_feature(spec, "LightGBM takes numbers and categories only")
        categories = codes[spec.name]
        positions = [float(i) for i in range(len(categories))]
        code = f"keel_code_{position}"
        keys: dict[str, Any]
        if category_kind(spec, categories) == "text":
            kind, keys = TensorProto.STRING, {"keys_strings": [str(c) for c in categories]}
        else:
            kind, keys = TensorProto.FLOAT, {"keys_floats": [float(c) for c in categories]}
        inputs.append(helper.make_tensor_value_info(spec.name, kind, [None, 1]))
        nodes.append(
            helper.make_node(
                "LabelEncoder",
                [spec.name],
                [code],
                domain="ai.onnx.ml",
                values_floats=positions,
                default_float=math.nan,
                **keys,
            )
        )
        columns.append(code)
    matrix = graph.graph.input[0].name
    nodes.append(helper.make_node("Concat", columns, [matrix], axis=1))
    output = helper.make_tensor_value_info(matrix, TensorProto.FLOAT, [None, len(columns)])
    stage = helper.make_model(
        helper.make_graph(nodes, "keel_category_codes", inputs, [output]),
        opset_imports=list(graph.opset_import),
    )
    stage.ir_version = graph.ir_version
    try:
        return compose.merge_models(stage, graph, io_map=[(matrix, matrix)])
    except Exception as exc:  # names that clash between the stage and the converted graph
        raise InvalidInput("model", f"cannot join the category stage: {cut(exc)}") from exc
