"""LightGBM: ``LGBMClassifier``, ``LGBMRegressor``, ``LGBMRanker`` and a bare ``Booster``, kept
in LightGBM's model text.

The text holds the trees and, for pandas ``category`` columns, the training categories (its
``pandas_categorical`` line), so LightGBM itself maps a category to the code it was trained with.
The scikit-learn wrapper's state (constructor arguments, class labels, objective) goes in the
artifact's description and is put back on a fresh wrapper, so ``predict`` returns the original
labels and ``predict_proba`` the same probabilities, and a retrain refits the same estimator.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from keel.errors import InvalidInput, UntrustedArtifact
from keel.registry.flavours import bundle
from keel.registry.flavours.base import Flavour, json_params, top_module
from keel.registry.flavours.booster_checks import lightgbm_problems

MEMBER = "model.txt"
BOOSTER = "Booster"
WRAPPERS = frozenset({"LGBMClassifier", "LGBMRegressor", "LGBMRanker", BOOSTER})


class LightGBMFlavour(Flavour):
    name = "lightgbm"
    format = "lightgbm"
    package = "lightgbm"
    extra = "lightgbm"
    suffixes = (".txt", ".lgb")

    def detects(self, model: Any) -> bool:
        return top_module(model) == "lightgbm" and type(model).__name__ in WRAPPERS

    def save(self, model: Any) -> bytes:
        lgb = self.framework()
        if isinstance(model, lgb.Booster):
            meta: dict[str, Any] = {"wrapper": BOOSTER}
            booster = model
        else:
            if not getattr(model, "fitted_", False):
                raise InvalidInput("model", f"the {type(model).__name__} is not fitted")
            booster = model.booster_
            meta = {
                "wrapper": type(model).__name__,
                "params": json_params(self.name, model.get_params()),
                "objective": model._objective if isinstance(model._objective, str) else None,
                "feature_names": bool(getattr(model, "_fitted_with_feature_names", True)),
            }
            if isinstance(model, lgb.LGBMClassifier):
                meta["classes"] = np.asarray(model.classes_).tolist()
        text = booster.model_to_string()
        return bundle.write(self.name, MEMBER, text.encode("utf-8"), meta)

    def check(self, data: bytes) -> None:
        meta, payload = bundle.read(data, self.name, MEMBER)
        bundle.wrapper_of(meta, WRAPPERS, self.name)
        _refuse_malformed(payload)

    def load(self, data: bytes) -> Any:
        meta, payload = bundle.read(data, self.name, MEMBER)
        wrapper = bundle.wrapper_of(meta, WRAPPERS, self.name)
        booster = self._booster(payload)
        if wrapper == BOOSTER:
            return booster
        lgb = self.framework()
        model = getattr(lgb, wrapper)(**bundle.params_of(meta, self.name))
        return _fitted(model, booster, meta)

    def read_file(self, data: bytes) -> Any:
        return self._booster(data)

    def unfitted(self, model: Any) -> Any:
        lgb = self.framework()
        if isinstance(model, lgb.Booster):
            raise self.cannot_refit(
                "a bare LightGBM Booster", "register the LGBMClassifier or LGBMRegressor"
            )
        return super().unfitted(model)

    def _booster(self, text: bytes) -> Any:
        lgb = self.framework()
        _refuse_malformed(text)
        try:
            return lgb.Booster(model_str=text.decode("utf-8"))
        except (UnicodeDecodeError, lgb.basic.LightGBMError) as exc:
            raise InvalidInput("model", f"not a LightGBM model text: {exc}") from exc


def _refuse_malformed(text: bytes) -> None:
    """UntrustedArtifact unless every tree of the model text is sound (``booster_checks``)."""
    try:
        problems = lightgbm_problems(text.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidInput("model", f"not a LightGBM model text: {exc}") from exc
    if problems:
        raise UntrustedArtifact(
            "",
            ["lightgbm.basic.Booster"],
            hint="the model's trees are malformed: " + "; ".join(problems[:3]),
        )


def _fitted(model: Any, booster: Any, meta: dict[str, Any]) -> Any:
    """Put the fitted state ``fit`` would have set back on a fresh wrapper."""
    from lightgbm.compat import _LGBMLabelEncoder  # where lightgbm.sklearn imports it from

    model._Booster = booster
    model._n_features = booster.num_feature()
    model._n_features_in = model._n_features
    model._fitted_with_feature_names = bool(meta.get("feature_names", True))
    model._best_iteration = booster.best_iteration
    model._best_score = {}
    model._evals_result = {}
    model._objective = meta.get("objective") or model.objective
    if "classes" in meta:
        classes = meta["classes"]
        if not isinstance(classes, list) or len(classes) < 2:
            raise InvalidInput("model", "the LightGBM classifier's classes are missing")
        encoder = _LGBMLabelEncoder().fit(np.asarray(classes))
        model._le = encoder
        model._class_map = dict(
            zip(encoder.classes_, encoder.transform(encoder.classes_), strict=True)
        )
        model._classes = encoder.classes_
        model._n_classes = len(encoder.classes_)
    model.fitted_ = True
    return model
