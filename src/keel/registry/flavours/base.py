"""What a flavour is: one framework's way to save, check, load and refit its models.

A flavour saves a model in its framework's own format (LightGBM's model text, XGBoost's UBJSON,
CatBoost's ``.cbm``, ONNX, skops for scikit-learn), so what the registry keeps is readable by the
framework alone and loading it builds only that framework's model, never arbitrary Python
objects. The framework is imported when a model of it is first saved or loaded; when it is not
installed, ``FrameworkMissing`` names the extra to install.

Adding a flavour means one module with a ``Flavour`` subclass and one line in
``keel.registry.flavours.FLAVOURS``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
from abc import ABC, abstractmethod
from types import ModuleType
from typing import Any, ClassVar

from keel.domain.signature import Signature
from keel.errors import FrameworkMissing, InvalidInput


def type_name(model: Any) -> str:
    kind = type(model)
    return f"{kind.__module__}.{kind.__qualname__}"


def top_module(model: Any) -> str:
    return type(model).__module__.split(".")[0]


class Flavour(ABC):
    """One framework. Subclasses set the class attributes and implement ``save`` and ``load``."""

    #: the name users see ("lightgbm")
    name: ClassVar[str]
    #: what ``model_versions.format`` holds for versions of this flavour
    format: ClassVar[str]
    #: the module that must import for this flavour to work
    package: ClassVar[str]
    #: the ``mlkeel`` extra that installs it
    extra: ClassVar[str]
    #: loading runs code (cloudpickle): only a recorded trust in code lets such a version load
    runs_code: ClassVar[bool] = False
    #: file endings ``keel models register NAME PATH`` reads as this flavour
    suffixes: ClassVar[tuple[str, ...]] = ()

    def framework(self) -> ModuleType:
        """The framework's module, or FrameworkMissing naming what to install."""
        try:
            return importlib.import_module(self.package)
        except ImportError as exc:
            raise FrameworkMissing(self.name, self.package, self.extra) from exc

    @abstractmethod
    def detects(self, model: Any) -> bool:
        """Whether ``model`` is one this flavour saves (checked without importing frameworks)."""

    @abstractmethod
    def save(self, model: Any) -> bytes:
        """``model`` as bytes in the framework's own format."""

    def needs_trust(self, data: bytes) -> list[str]:
        """Types loading ``data`` would build beyond what Keel trusts by default. A native
        format builds only its framework's model, so it needs none; it is checked instead."""
        self.check(data)
        return []

    def check(self, data: bytes) -> None:
        """Refuse (UntrustedArtifact or InvalidInput) bytes that are not a well-formed file of
        this flavour, before anything is built from them. A flavour whose loader is its own
        check (skops reviews every type it builds; cloudpickle needs a recorded trust) keeps
        this default."""
        return None

    @abstractmethod
    def load(self, data: bytes) -> Any:
        """The model saved in ``data`` (checked first by ``check``)."""

    def read_file(self, data: bytes) -> Any:
        """A model from a file in the framework's own format (as its users save them)."""
        return self.load(data)

    def outputs(self, model: Any) -> dict[str, Any]:
        """What the model answers, kept in its signature: the flavour, whether it gives
        probabilities and, for a classifier, its class labels in the order of its columns."""
        described: dict[str, Any] = {
            "flavour": self.name,
            "probabilities": callable(getattr(model, "predict_proba", None)),
        }
        classes = getattr(model, "classes_", None)
        if classes is not None:
            with contextlib.suppress(InvalidInput, TypeError):  # labels JSON cannot hold
                described["classes"] = json_params(self.name, {"classes": list(classes)})["classes"]
        return described

    def input_signature(self, signature: Signature) -> Signature:
        """The types rows are rebuilt as for this framework (``keel.registry.frames``); the
        training types themselves unless the framework takes a column better another way."""
        return signature

    def unfitted(self, model: Any) -> Any:
        """A copy of ``model`` with its hyper-parameters and no learned state, to refit."""
        from sklearn.base import clone

        return clone(model)

    def cannot_refit(self, what: str, instead: str) -> InvalidInput:
        """Why a retrain cannot refit ``what`` by itself, and what to register or set instead."""
        return InvalidInput(
            "model",
            f"{what} has no estimator to refit; {instead}, or set retraining.trainer in the "
            "policy to a function that trains and returns a new model",
        )


def json_params(flavour: str, params: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments as JSON values; a value JSON cannot hold (a Python callable as
    objective, say) cannot live in a native format either, so it is refused by name."""
    clean: dict[str, Any] = {}
    for key, value in params.items():
        clean[key] = _json_value(flavour, key, value)
    return clean


def _json_value(flavour: str, key: str, value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return value
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", None) == 0:
        return _json_value(flavour, key, item())
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return _json_value(flavour, key, tolist())
    if isinstance(value, list | tuple):
        return [_json_value(flavour, key, v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _json_value(flavour, key, v) for k, v in value.items()}
    raise InvalidInput(
        f"params.{key}",
        f"a {type(value).__name__} cannot be kept in the {flavour} format; set it to a plain "
        "value, or register the model with format='cloudpickle' and trust='code'",
    )


def dumps_json(document: dict[str, Any]) -> bytes:
    """JSON that keeps NaN and infinities (XGBoost's ``missing=nan`` is a parameter)."""
    return json.dumps(document, sort_keys=True, allow_nan=True).encode()


def loads_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        document = json.loads(data.decode("utf-8"), parse_constant=_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput("model", f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidInput("model", f"{what} must be a JSON object")
    return document


def _constant(name: str) -> float:
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]
