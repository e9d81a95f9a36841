"""Model flavours: one module per framework, each saving its models in the framework's own format.

``detect`` picks the flavour of a model object (the first in ``FLAVOURS`` that claims it; custom
Python objects with ``predict`` come last), ``by_format`` the flavour of a stored version, and
``by_suffix`` the flavour of a file a person hands over. A new framework is one module with a
``Flavour`` subclass and one line here.

>>> from sklearn.linear_model import LogisticRegression
>>> detect(LogisticRegression()).name
'sklearn'
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from keel.errors import InvalidInput
from keel.registry.flavours.base import Flavour, type_name
from keel.registry.flavours.catboost import CatBoostFlavour
from keel.registry.flavours.lightgbm import LightGBMFlavour
from keel.registry.flavours.onnx import OnnxFlavour, OnnxModel
from keel.registry.flavours.python import PythonFlavour
from keel.registry.flavours.sklearn import SklearnFlavour
from keel.registry.flavours.xgboost import XGBoostBooster, XGBoostFlavour

__all__ = [
    "FLAVOURS",
    "Flavour",
    "OnnxModel",
    "XGBoostBooster",
    "by_format",
    "by_name",
    "by_suffix",
    "detect",
    "unfitted",
]

FLAVOURS: tuple[Flavour, ...] = (
    SklearnFlavour(),
    LightGBMFlavour(),
    XGBoostFlavour(),
    CatBoostFlavour(),
    OnnxFlavour(),
    PythonFlavour(),
)


def detect(model: Any) -> Flavour:
    """The flavour that saves ``model``; InvalidInput when none does (nothing to predict with)."""
    for flavour in FLAVOURS:
        if flavour.detects(model):
            return flavour
    raise InvalidInput(
        "model", f"{type_name(model)} has no predict method; Keel versions objects with predict"
    )


def by_format(format: str) -> Flavour:
    for flavour in FLAVOURS:
        if flavour.format == format:
            return flavour
    known = ", ".join(f.format for f in FLAVOURS)
    raise InvalidInput("format", f"unknown model format {format!r}; known: {known}")


def by_name(name: str) -> Flavour:
    for flavour in FLAVOURS:
        if name in (flavour.name, flavour.format):
            return flavour
    raise InvalidInput("flavour", f"unknown flavour {name!r}; known: {', '.join(names())}")


def names() -> list[str]:
    return [f.name for f in FLAVOURS]


def by_suffix(path: str) -> Flavour:
    suffix = PurePath(path).suffix.lower()
    for flavour in FLAVOURS:
        if suffix in flavour.suffixes:
            return flavour
    endings = sorted(s for f in FLAVOURS for s in f.suffixes)
    raise InvalidInput("path", f"{PurePath(path).name}: expected one of {', '.join(endings)}")


def unfitted(model: Any) -> Any:
    """An unfitted copy of ``model`` with the same hyper-parameters, for a retrain to fit."""
    return detect(model).unfitted(model)
