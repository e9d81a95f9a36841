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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from keel.domain.signature import Signature
from keel.errors import InvalidInput
from keel.registry.flavours.base import top_module, type_name
from keel.registry.flavours.onnx import OnnxModel
from keel.registry.onnx_converters import (
    NUMBERS,
    category_kind,
    cut,
    histogram_converters,
    imported,
    lightgbm_categories,
    refuse_feature,
    register,
    with_category_codes,
)

__all__ = ["ML_OPSET", "OPSET", "Converted", "parts", "refuse_unsupported", "to_onnx"]

#: the ONNX operator set the graphs use (onnxruntime 1.12 and later run it)
OPSET = 17
#: the ai.onnx.ml operator set: the newest onnxmltools' LightGBM converter writes
ML_OPSET = 3
_LIGHTGBM = frozenset({"LGBMClassifier", "LGBMRegressor"})
_XGBOOST = frozenset({"XGBClassifier", "XGBRegressor"})


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
    if family == "lightgbm" and nested and lightgbm_categories(part):
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
    imported("skl2onnx")
    families = {_family(p) for p in parts(model)} - {"sklearn"}
    for family in sorted(families):
        register(family)
    prepared = _without_xgboost_names(model) if "xgboost" in families else model
    categories = [spec for spec in signature.inputs if spec.type == "category"]
    if _family(model) == "lightgbm" and categories:
        graph = _convert(prepared, _matrix(signature, check=False))
        graph = with_category_codes(graph, model, signature)
        inputs = "per feature"
    elif _family(model) == "sklearn" and _per_feature(model, signature):
        graph = _convert(prepared, _features(signature))
        inputs = "per feature"
    else:
        graph = _convert(prepared, _matrix(signature, check=True))
        inputs = "matrix"
    classes = getattr(model, "classes_", None)
    labels = None if classes is None else [_plain(c) for c in classes]
    if labels is not None and not callable(getattr(model, "predict_proba", None)):
        _drop_scores(graph)
    try:
        converted = OnnxModel(graph.SerializeToString(), labels)
    except Exception as exc:  # onnxruntime's own errors on a graph it cannot run
        raise InvalidInput(
            "model", f"onnxruntime cannot run the converted graph: {cut(exc)}"
        ) from exc
    return Converted(converted, _versions(families), inputs)


def _drop_scores(graph: Any) -> None:
    """Remove the score output of a classifier that has no probabilities (a LinearSVC's
    decision values), so the ONNX model has no ``predict_proba`` either."""
    for position in reversed(range(len(graph.graph.output))):
        if graph.graph.output[position].name in ("probabilities", "output_probability"):
            del graph.graph.output[position]


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _versions(families: set[str]) -> str:
    names = ["skl2onnx", *(["onnxmltools"] if families else [])]
    return " + ".join(f"{n} {imported(n).__version__}" for n in names)


def _per_feature(model: Any, signature: Signature) -> bool:
    if any(type(p).__name__ == "ColumnTransformer" for p in parts(model)):
        return True
    return any(spec.type not in NUMBERS for spec in signature.inputs)


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
            if spec.type not in NUMBERS:
                refuse_feature(spec, "this model takes numbers only")
    width = len(signature.inputs)
    return [(_free("input", signature), FloatTensorType([None, width]))]


def _features(signature: Signature) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    types: list[tuple[str, Any]] = []
    for spec in signature.inputs:
        if spec.type in NUMBERS:
            types.append((spec.name, FloatTensorType([None, 1])))
        elif spec.type == "string":
            types.append((spec.name, StringTensorType([None, 1])))
        elif spec.type == "category":
            text = category_kind(spec, spec.categories) == "text"
            kind = StringTensorType if text else FloatTensorType
            types.append((spec.name, kind([None, 1])))
        else:
            refuse_feature(spec, "no ONNX input takes it as it is")
    return types


def _convert(model: Any, initial_types: list[tuple[str, Any]]) -> Any:
    from skl2onnx import convert_sklearn

    try:
        return convert_sklearn(
            model,
            initial_types=initial_types,
            options=_without_zipmap(model) or None,
            target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
            custom_conversion_functions=histogram_converters(),
        )
    except InvalidInput:
        raise
    except Exception as exc:  # the converters raise many kinds of error on what they lack
        raise InvalidInput(
            "model", f"skl2onnx cannot convert this {type_name(model)}: {cut(exc)}"
        ) from exc


def _without_zipmap(model: Any) -> dict[int, dict[str, Any]]:
    """skl2onnx's options that turn ZipMap off for every classifier with probabilities (the
    others, a LinearSVC, have no ZipMap to turn off and refuse the option)."""
    return {
        id(part): {"zipmap": False}
        for part in parts(model)
        if getattr(part, "classes_", None) is not None
        and callable(getattr(part, "predict_proba", None))
        and not hasattr(part, "steps")
    }


def _without_xgboost_names(model: Any) -> Any:
    """A copy whose XGBoost boosters have no feature names: onnxmltools reads features only as
    ``f0, f1...`` (the graph's inputs are positional anyway)."""
    copied = copy.deepcopy(model)
    for part in parts(copied):
        if _family(part) == "xgboost":
            part.get_booster().feature_names = None
    return copied
