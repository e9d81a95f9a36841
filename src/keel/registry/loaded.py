"""A model loaded from the registry, ready to predict, that knows which version it is."""

from __future__ import annotations

from typing import Any

import pandas as pd

from keel.domain.entities import ModelVersion
from keel.domain.signature import Signature
from keel.errors import SignatureMismatch
from keel.registry.signatures import check_frame


class LoadedModel:
    """Wraps the native model: ``predict`` checks input against the signature first.

    The native object is ``.model``; ``.version`` is the registry record it came from.
    """

    def __init__(self, model: Any, version: ModelVersion) -> None:
        self.model = model
        self.version = version
        self.signature = Signature.from_dict(version.signature) if version.signature else None

    def __repr__(self) -> str:
        return f"LoadedModel({self.version.ref}, {self.version.model_class})"

    def check(self, frame: pd.DataFrame, *, check_ranges: bool = False) -> pd.DataFrame:
        """Raise SignatureMismatch listing every problem; return the columns in training order."""
        if self.signature is None:
            return frame
        problems = check_frame(self.signature, frame, check_ranges=check_ranges)
        if problems:
            raise SignatureMismatch(problems, model=self.version.ref)
        return frame[self.signature.feature_names]

    def predict(self, frame: pd.DataFrame, *, validate: bool = True) -> Any:
        return self.model.predict(self.check(frame) if validate else frame)

    def predict_proba(self, frame: pd.DataFrame, *, validate: bool = True) -> Any:
        method = getattr(self.model, "predict_proba", None)
        if method is None:
            raise AttributeError(f"{self.version.model_class} has no predict_proba")
        return method(self.check(frame) if validate else frame)

    @property
    def classes_(self) -> Any:
        return getattr(self.model, "classes_", None)
