"""A model loaded from the registry, ready to predict, that knows which version it is."""

from __future__ import annotations

from typing import Any

import pandas as pd

from keel.domain.entities import ModelVersion
from keel.domain.signature import Signature
from keel.errors import InvalidInput, SignatureMismatch
from keel.registry.frames import restore_types
from keel.registry.signatures import check_frame


class LoadedModel:
    """Wraps the native model: ``predict`` checks input against the signature first, then gives
    the model its training types back (categories, ints, booleans, timestamps), so plain rows
    (text categories, numbers from JSON) work for a model trained on a typed frame.

    The native object is ``.model``; ``.version`` is the registry record it came from.
    """

    def __init__(self, model: Any, version: ModelVersion) -> None:
        self.model = model
        self.version = version
        self.signature = version.signature
        #: what rows are rebuilt as for this framework (CatBoost takes categories as labels)
        self.input_signature = (
            _flavour_input(version.format, self.signature) if self.signature else None
        )

    def __repr__(self) -> str:
        return f"LoadedModel({self.version.ref}, {self.version.model_class})"

    def check(self, frame: pd.DataFrame, *, check_ranges: bool = False) -> pd.DataFrame:
        """Raise SignatureMismatch listing every problem; return the signature's columns in
        training order, with their training dtypes."""
        if self.signature is None:
            return frame
        problems = check_frame(self.signature, frame, check_ranges=check_ranges)
        if problems:
            raise SignatureMismatch(problems, model=self.version.ref)
        return restore_types(self.input_signature or self.signature, frame)

    def typed(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with the training dtypes, unchecked (values that cannot be converted become
        missing). A frame that lacks a feature is handed on as it is: unchecked means the native
        model says what it lacks."""
        if self.signature is None or not isinstance(frame, pd.DataFrame):
            return frame
        if any(name not in frame.columns for name in self.signature.feature_names):
            return frame
        return restore_types(self.input_signature or self.signature, frame)

    def _input(self, frame: pd.DataFrame, validate: bool) -> pd.DataFrame:
        return self.check(frame) if validate else self.typed(frame)

    def predict(self, frame: pd.DataFrame, *, validate: bool = True) -> Any:
        return self.model.predict(self._input(frame, validate))

    def predict_proba(self, frame: pd.DataFrame, *, validate: bool = True) -> Any:
        method = getattr(self.model, "predict_proba", None)
        if method is None:
            raise AttributeError(f"{self.version.model_class} has no predict_proba")
        return method(self._input(frame, validate))

    @property
    def classes_(self) -> Any:
        return getattr(self.model, "classes_", None)


def _flavour_input(format: str, signature: Signature) -> Signature:
    from keel.registry import flavours

    try:
        return flavours.by_format(format).input_signature(signature)
    except InvalidInput:  # a format this Keel does not know: it cannot load it anyway
        return signature
