"""XGBoost: the scikit-learn wrappers and a bare ``Booster``, kept in XGBoost's UBJSON.

The booster's UBJSON holds the trees and, for models trained with ``enable_categorical`` on
pandas ``category`` columns, the categories, so XGBoost maps them itself. The wrapper's
constructor arguments go in the artifact's description and are set on a fresh wrapper before the
booster is loaded into it, so a retrain refits the same estimator. A bare ``Booster`` is served
through ``XGBoostBooster``, which hands it a DataFrame as ``inplace_predict`` takes one.
"""

from __future__ import annotations

from typing import Any

from keel.errors import InvalidInput, UntrustedArtifact
from keel.registry.flavours import bundle
from keel.registry.flavours.base import Flavour, json_params, loads_json, top_module
from keel.registry.flavours.booster_checks import xgboost_problems

MEMBER = "model.ubj"
BOOSTER = "Booster"
WRAPPERS = frozenset(
    {"XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor", BOOSTER}
)


class XGBoostBooster:
    """A bare XGBoost ``Booster`` with the ``predict`` Keel calls (``.booster`` is the native)."""

    def __init__(self, booster: Any) -> None:
        self.booster = booster

    def predict(self, frame: Any) -> Any:
        return self.booster.inplace_predict(frame)

    def __repr__(self) -> str:
        return f"XGBoostBooster({self.booster.num_features()} features)"


class XGBoostFlavour(Flavour):
    name = "xgboost"
    format = "xgboost"
    package = "xgboost"
    extra = "xgboost"
    suffixes = (".ubj", ".xgb")

    def detects(self, model: Any) -> bool:
        if isinstance(model, XGBoostBooster):
            return True
        return top_module(model) == "xgboost" and type(model).__name__ in WRAPPERS

    def save(self, model: Any) -> bytes:
        xgb = self.framework()
        if isinstance(model, XGBoostBooster):
            model = model.booster
        if isinstance(model, xgb.Booster):
            meta: dict[str, Any] = {"wrapper": BOOSTER}
            booster = model
        else:
            try:
                booster = model.get_booster()
            except xgb.core.XGBoostError as exc:
                raise InvalidInput("model", f"the {type(model).__name__} is not fitted") from exc
            meta = {
                "wrapper": type(model).__name__,
                "params": json_params(self.name, model.get_params()),
            }
        return bundle.write(self.name, MEMBER, bytes(booster.save_raw("ubj")), meta)

    def check(self, data: bytes) -> None:
        meta, _ = bundle.read(data, self.name, MEMBER)
        bundle.wrapper_of(meta, WRAPPERS, self.name)

    def load(self, data: bytes) -> Any:
        xgb = self.framework()
        meta, payload = bundle.read(data, self.name, MEMBER)
        wrapper = bundle.wrapper_of(meta, WRAPPERS, self.name)
        if wrapper == BOOSTER:
            return XGBoostBooster(self._booster(payload))
        model = getattr(xgb, wrapper)(**bundle.params_of(meta, self.name))
        self._into(model, payload)
        return model

    def read_file(self, data: bytes) -> Any:
        """A file from ``save_model``: a wrapper's file says which one it was."""
        xgb = self.framework()
        booster = self._booster(data)
        described = booster.attr("scikit_learn")
        if described:
            kind = str(
                loads_json(described.encode(), "the file's scikit_learn attribute").get(
                    "_estimator_type"
                )
            )
            wrapper = {"classifier": xgb.XGBClassifier, "regressor": xgb.XGBRegressor}.get(kind)
            if wrapper is not None:
                model = wrapper()
                self._into(model, data)
                return model
        return XGBoostBooster(booster)

    def unfitted(self, model: Any) -> Any:
        if isinstance(model, XGBoostBooster):
            raise self.cannot_refit(
                "a bare XGBoost Booster", "register the XGBClassifier or XGBRegressor"
            )
        return super().unfitted(model)

    def _booster(self, data: bytes) -> Any:
        xgb = self.framework()
        booster = xgb.Booster()
        try:
            booster.load_model(bytearray(data))
        except xgb.core.XGBoostError as exc:
            raise InvalidInput("model", f"not an XGBoost model: {exc}") from exc
        refuse_malformed(booster)
        return booster

    def _into(self, model: Any, data: bytes) -> None:
        xgb = self.framework()
        try:
            model.load_model(bytearray(data))
        except xgb.core.XGBoostError as exc:
            raise InvalidInput("model", f"not an XGBoost model: {exc}") from exc
        refuse_malformed(model.get_booster())


def refuse_malformed(booster: Any) -> None:
    """UntrustedArtifact unless every tree of a loaded booster is sound (XGBoost loads a file
    without checking its node indices; ``predict`` would follow them)."""
    problems = malformed_booster(booster)
    if problems:
        raise UntrustedArtifact(
            "",
            ["xgboost.core.Booster"],
            hint="the model's trees are malformed: " + "; ".join(problems[:3]),
        )


def malformed_booster(booster: Any) -> list[str]:
    """The problems ``booster_checks`` finds in a loaded booster's trees."""
    import json

    try:
        document = json.loads(bytes(booster.save_raw("json")))
    except ValueError:  # a linear booster's JSON, say: no trees to follow
        return []
    return xgboost_problems(document)
