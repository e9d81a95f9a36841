"""CatBoost: ``CatBoostClassifier``, ``CatBoostRegressor``, ``CatBoostRanker``, kept in ``.cbm``.

A ``.cbm`` file holds the trees, the categorical features' hashing and the class names, so a
loaded model predicts the original labels. Constructor arguments (``cat_features`` among them)
go in the artifact's description and are given to the fresh wrapper the file is loaded into, so
a retrain fits the same estimator (scikit-learn's ``clone`` refuses CatBoost's constructor, so
the refit copy is built from ``get_params`` instead).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from typing import Any

from keel.domain.signature import Signature
from keel.errors import InvalidInput
from keel.registry.flavours import bundle
from keel.registry.flavours.base import Flavour, json_params, top_module

MEMBER = "model.cbm"
WRAPPERS = frozenset({"CatBoostClassifier", "CatBoostRegressor", "CatBoostRanker"})
#: loss functions of a classifier, to load a bare ``.cbm`` file into the right wrapper
_CLASSIFYING = frozenset({"Logloss", "CrossEntropy", "MultiClass", "MultiClassOneVsAll"})


class CatBoostFlavour(Flavour):
    name = "catboost"
    format = "catboost"
    package = "catboost"
    extra = "catboost"
    suffixes = (".cbm",)

    def detects(self, model: Any) -> bool:
        return top_module(model) == "catboost" and type(model).__name__ in WRAPPERS

    def save(self, model: Any) -> bytes:
        if not model.is_fitted():
            raise InvalidInput("model", f"the {type(model).__name__} is not fitted")
        with tempfile.TemporaryDirectory(prefix="keel-catboost-") as folder:
            path = os.path.join(folder, MEMBER)
            model.save_model(path, format="cbm")
            with open(path, "rb") as file:
                payload = file.read()
        meta = {
            "wrapper": type(model).__name__,
            "params": json_params(self.name, model.get_params()),
        }
        return bundle.write(self.name, MEMBER, payload, meta)

    def check(self, data: bytes) -> None:
        meta, _ = bundle.read(data, self.name, MEMBER)
        bundle.wrapper_of(meta, WRAPPERS, self.name)

    def load(self, data: bytes) -> Any:
        catboost = self.framework()
        meta, payload = bundle.read(data, self.name, MEMBER)
        wrapper = bundle.wrapper_of(meta, WRAPPERS, self.name)
        model = getattr(catboost, wrapper)(**bundle.params_of(meta, self.name))
        return self._into(model, payload)

    def read_file(self, data: bytes) -> Any:
        catboost = self.framework()
        probe = self._into(catboost.CatBoost(), data)
        loss = str(probe.get_all_params().get("loss_function", ""))
        wrapper = (
            catboost.CatBoostClassifier if loss in _CLASSIFYING else catboost.CatBoostRegressor
        )
        return self._into(wrapper(), data)

    def input_signature(self, signature: Signature) -> Signature:
        """Category features as their labels: CatBoost hashes a category's text, so a value
        never seen in training is just another label to it, while a pandas categorical would
        turn it into a missing value, which CatBoost refuses in a categorical feature."""
        inputs = tuple(
            replace(spec, type="string", dtype="object", categories=None, ordered=False)
            if spec.type == "category"
            else spec
            for spec in signature.inputs
        )
        return replace(signature, inputs=inputs)

    def unfitted(self, model: Any) -> Any:
        """A copy to refit; it writes no ``catboost_info`` folder (nor any other file) into
        the server's working directory."""
        params = model.get_params()
        params["allow_writing_files"] = False
        return type(model)(**params)

    def _into(self, model: Any, payload: bytes) -> Any:
        catboost = self.framework()
        try:
            return model.load_model(blob=payload)
        except catboost.CatBoostError as exc:
            raise InvalidInput("model", f"not a CatBoost model: {exc}") from exc
