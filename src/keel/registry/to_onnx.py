"""Turning a scikit-learn, LightGBM or XGBoost model into an ONNX graph that answers like it.

skl2onnx converts scikit-learn objects; onnxmltools' LightGBM and XGBoost converters are
registered with it, so a bare ``LGBMClassifier`` and a Pipeline ending in one go the same way.
Every classifier is converted without ZipMap (probabilities come out as one tensor, columns in
``classes_`` order) and the class labels are kept in the ``OnnxModel``.

The graph's inputs follow the version's signature, so ``OnnxModel`` feeds it from the same typed
frame the original was given:

- features that are all numbers (int, float, bool): one float matrix in signature order;
- a model holding a ``ColumnTransformer``, or any text or category feature: one input per
  feature, under its name: text and text categories as strings, numbers and number categories as
  floats (a OneHotEncoder over them matches them as the numbers they are);
- a LightGBM estimator trained on pandas ``category`` columns: LightGBM splits on the category's
  *code* (its position in the training categories), and onnxmltools turns each such split into
  equality tests on that code; Keel puts a first stage in front that maps each category, given as
  its label, to LightGBM's code (anything else, missing included, to NaN, which LightGBM also
  treats as missing), so the graph takes the same per-feature inputs.

What is refused, with the reason (``InvalidInput``), rather than converted into a wrong model:

- XGBoost trained with ``enable_categorical`` on category columns: onnxmltools cannot read the
  categorical splits XGBoost writes (it stops with ``KeyError: 'split_condition'``);
- ``HistGradientBoosting*`` with categorical features: skl2onnx's converter ignores their
  category sets and would compute a different model;
- a LightGBM or XGBoost estimator on category columns inside a Pipeline (no code stage there);
- bare Boosters and rankers, CatBoost (it writes ONNX itself), ONNX already, custom Python;
- datetime and other features, which no ONNX input takes as they are.

Conversion computes in float32, so probabilities differ from the original's in about the 7th
digit; ``keel.registry.conversion`` measures the difference before anything is registered.
"""

from __future__ import annotations

import copy
import importlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from keel.domain.signature import FeatureSpec, Signature
from keel.errors import FrameworkMissing, InvalidInput
from keel.registry.flavours.base import top_module, type_name
from keel.registry.flavours.onnx import OnnxModel

__all__ = ["ML_OPSET", "OPSET", "Converted", "parts", "refuse_unsupported", "to_onnx"]

#: the ONNX operator set the graphs use (onnxruntime 1.12 and later run it)
OPSET = 17
#: the ai.onnx.ml operator set: the newest onnxmltools' LightGBM converter writes
ML_OPSET = 3
_NUMBERS = frozenset({"int", "float", "bool"})
_LIGHTGBM = frozenset({"LGBMClassifier", "LGBMRegressor"})
_XGBOOST = frozenset({"XGBClassifier", "XGBRegressor"})
#: characters of a converter's own message kept in ours (some quote whole trees)
_QUOTED = 300


@dataclass(frozen=True)
class Converted:
    """An ONNX model built from a native one: ``converter`` names the tools and versions,
    ``inputs`` is ``"matrix"`` or ``"per feature"``."""

    model: OnnxModel
    converter: str
    inputs: str


def parts(model: Any) -> Iterator[Any]:
    """``model`` and every estimator inside it (Pipeline steps, ColumnTransformer and
    FeatureUnion members), depth first."""
    yield model
    children: list[Any] = []
    for attribute, position in (("steps", 1), ("transformers_", 1), ("transformer_list", 1)):
        members = getattr(model, attribute, None)
        if isinstance(members, list):
            children.extend(m[position] for m in members if isinstance(m, tuple))
    for child in children:
        if not isinstance(child, str):  # "drop" and "passthrough"
            yield from parts(child)


def _family(model: Any) -> str:
    kind = type(model).__name__
    if top_module(model) == "lightgbm" and kind in _LIGHTGBM:
        return "lightgbm"
    if top_module(model) == "xgboost" and kind in _XGBOOST:
        return "xgboost"
    return "sklearn"


def refuse_unsupported(model: Any) -> None:
    """InvalidInput naming why ``model`` cannot be converted, before any converter runs."""
    name, module = type(model).__name__, top_module(model)
    if isinstance(model, OnnxModel) or (module == "onnx" and name == "ModelProto"):
        raise InvalidInput("model", "this version is already an ONNX model")
    if module == "lightgbm" and name not in _LIGHTGBM:
        raise InvalidInput(
            "model",
            f"a LightGBM {name} is not converted: only LGBMClassifier and LGBMRegressor are "
            "(register the scikit-learn wrapper rather than a bare Booster)",
        )
    if module == "xgboost" or name == "XGBoostBooster":
        if module != "xgboost" or name not in _XGBOOST:
            raise InvalidInput(
                "model",
                f"an XGBoost {name} is not converted: only XGBClassifier and XGBRegressor are "
                "(register the scikit-learn wrapper rather than a bare Booster)",
            )
    elif module == "catboost":
        raise InvalidInput(
            "model",
            "CatBoost models are not converted here; CatBoost writes ONNX itself "
            "(model.save_model('model.onnx', format='onnx')), which `keel models register` takes",
        )
    elif module not in ("sklearn", "lightgbm"):
        raise InvalidInput(
            "model",
            f"a {type_name(model)} cannot be converted to ONNX: converters exist for "
            "scikit-learn, LightGBM and XGBoost models only",
        )
    for part in parts(model):
        _refuse_part(part, nested=part is not model)


def _refuse_part(part: Any, *, nested: bool) -> None:
    name = type(part).__name__
    categorical = getattr(part, "is_categorical_", None)
    if name.startswith("HistGradientBoosting") and categorical is not None and any(categorical):
        raise InvalidInput(
            "model",
            f"a {name} with categorical features cannot be converted: skl2onnx's converter "
            "ignores their category sets and would compute a different model; one-hot or "
            "ordinal encode those columns in a Pipeline instead",
        )
    family = _family(part)
    if family == "xgboost" and "c" in (part.get_booster().feature_types or []):
        raise InvalidInput(
            "model",
            f"an {name} trained with enable_categorical on category columns cannot be "
            "converted: onnxmltools cannot read XGBoost's categorical splits; encode the "
            "categories in a scikit-learn Pipeline, or serve the XGBoost model itself",
        )
    if family == "lightgbm" and nested and _lightgbm_categories(part):
        raise InvalidInput(
            "model",
            f"an {name} on category columns inside a Pipeline cannot be converted; register "
            "the LightGBM estimator itself (its categories are then mapped in the graph)",
        )


def to_onnx(model: Any, signature: Signature | None) -> Converted:
    """The ONNX model that answers like ``model`` on frames of ``signature``."""
    if signature is None:
        raise InvalidInput(
            "signature",
            "the version has no signature, so the converter cannot know its features' types; "
            "register it with training data or a signature",
        )
    refuse_unsupported(model)
    _import("skl2onnx")
    families = {_family(p) for p in parts(model)} - {"sklearn"}
    for family in sorted(families):
        _register(family)
    prepared = _without_xgboost_names(model) if "xgboost" in families else model
    categories = [spec for spec in signature.inputs if spec.type == "category"]
    if _family(model) == "lightgbm" and categories:
        graph = _convert(prepared, _matrix(signature, check=False))
        graph = _with_codes(graph, model, signature)
        inputs = "per feature"
    elif _family(model) == "sklearn" and _per_feature(model, signature):
        graph = _convert(prepared, _features(signature))
        inputs = "per feature"
    else:
        graph = _convert(prepared, _matrix(signature, check=True))
        inputs = "matrix"
    classes = getattr(model, "classes_", None)
    labels = None if classes is None else [_plain(c) for c in classes]
    try:
        converted = OnnxModel(graph.SerializeToString(), labels)
    except Exception as exc:  # onnxruntime's own errors on a graph it cannot run
        raise InvalidInput(
            "model", f"onnxruntime cannot run the converted graph: {_cut(exc)}"
        ) from exc
    return Converted(converted, _versions(families), inputs)


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _cut(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _QUOTED else text[: _QUOTED - 3] + "..."


def _import(package: str) -> Any:
    try:
        return importlib.import_module(package)
    except ImportError as exc:
        raise FrameworkMissing("onnx", package, "onnx") from exc


def _versions(families: set[str]) -> str:
    names = ["skl2onnx", *(["onnxmltools"] if families else [])]
    return ", ".join(f"{n} {_import(n).__version__}" for n in names)


def _per_feature(model: Any, signature: Signature) -> bool:
    if any(type(p).__name__ == "ColumnTransformer" for p in parts(model)):
        return True
    return any(spec.type not in _NUMBERS for spec in signature.inputs)


def _free(name: str, signature: Signature) -> str:
    taken = set(signature.feature_names)
    candidate, n = name, 0
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    return candidate


def _matrix(signature: Signature, *, check: bool) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import FloatTensorType

    if check:
        for spec in signature.inputs:
            if spec.type not in _NUMBERS:
                _refuse_feature(spec, "this model takes numbers only")
    width = len(signature.inputs)
    return [(_free("input", signature), FloatTensorType([None, width]))]


def _features(signature: Signature) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    types: list[tuple[str, Any]] = []
    for spec in signature.inputs:
        if spec.type in _NUMBERS:
            types.append((spec.name, FloatTensorType([None, 1])))
        elif spec.type == "string":
            types.append((spec.name, StringTensorType([None, 1])))
        elif spec.type == "category":
            text = _category_kind(spec, spec.categories) == "text"
            kind = StringTensorType if text else FloatTensorType
            types.append((spec.name, kind([None, 1])))
        else:
            _refuse_feature(spec, "no ONNX input takes it as it is")
    return types


def _refuse_feature(spec: FeatureSpec, why: str) -> None:
    raise InvalidInput(
        f"signature.{spec.name}",
        f"a {spec.type} feature cannot be converted: {why}; encode it as numbers or categories",
    )


def _category_kind(spec: FeatureSpec, categories: Any) -> str:
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
    _refuse_feature(spec, "its categories mix text and numbers")
    raise AssertionError("unreachable")


def _convert(model: Any, initial_types: list[tuple[str, Any]]) -> Any:
    from skl2onnx import convert_sklearn

    classifier = getattr(model, "classes_", None) is not None
    try:
        return convert_sklearn(
            model,
            initial_types=initial_types,
            options={"zipmap": False} if classifier else None,
            target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
            custom_conversion_functions=_histogram_converters(),
        )
    except InvalidInput:
        raise
    except Exception as exc:  # the converters raise many kinds of error on what they lack
        raise InvalidInput(
            "model", f"skl2onnx cannot convert this {type_name(model)}: {_cut(exc)}"
        ) from exc


@cache
def _register(family: str) -> None:
    """Register onnxmltools' converter for the LightGBM or XGBoost wrappers with skl2onnx
    (once per process; classifiers declare the ZipMap option so it can be turned off)."""
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    _import("onnxmltools")
    framework = _import(family)
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
def _histogram_converters() -> dict[type, Any]:
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


def _without_xgboost_names(model: Any) -> Any:
    """A copy whose XGBoost boosters have no feature names: onnxmltools reads features only as
    ``f0, f1...`` (the graph's inputs are positional anyway)."""
    copied = copy.deepcopy(model)
    for part in parts(copied):
        if _family(part) == "xgboost":
            part.get_booster().feature_names = None
    return copied


def _lightgbm_categories(model: Any) -> list[list[Any]]:
    booster = getattr(model, "booster_", None)
    return list(getattr(booster, "pandas_categorical", None) or [])


def _with_codes(graph: Any, model: Any, signature: Signature) -> Any:
    """``graph`` (taking a float matrix) behind a stage that takes one input per feature and
    maps each category label to LightGBM's code for it."""
    from onnx import TensorProto, compose, helper

    trained = _lightgbm_categories(model)
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
        if spec.type in _NUMBERS:
            inputs.append(helper.make_tensor_value_info(spec.name, TensorProto.FLOAT, [None, 1]))
            columns.append(spec.name)
            continue
        if spec.type != "category":
            _refuse_feature(spec, "LightGBM takes numbers and categories only")
        categories = codes[spec.name]
        positions = [float(i) for i in range(len(categories))]
        code = f"keel_code_{position}"
        keys: dict[str, Any]
        if _category_kind(spec, categories) == "text":
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
        raise InvalidInput("model", f"cannot join the category stage: {_cut(exc)}") from exc
