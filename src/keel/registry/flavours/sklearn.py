"""scikit-learn: estimators, Pipelines and ColumnTransformers, kept with skops.

A skops file names every type it would rebuild, and skops lists them without building any, so a
file loads only when each name is, whole, on an exact list: skops' own safe types, the types Keel
reviewed (``keel.registry.reviewed_types``: scikit-learn's tree structures, and the LightGBM and
XGBoost estimators a Pipeline may end in, each checked after loading), and the types a named
person trusted for that version. ``sklearn.utils._testing.check_output`` is not trusted because
it starts with ``sklearn.``.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from keel.errors import InvalidInput, UntrustedArtifact
from keel.registry.flavours.base import Flavour, top_module
from keel.registry.flavours.booster_checks import lightgbm_problems
from keel.registry.reviewed_types import LIGHTGBM_BOOSTER, REVIEWED_TYPES, malformed_trees


def skops_types(data: bytes) -> list[str]:
    """The types a skops file would rebuild beyond skops' safe list, read without building any."""
    import skops.io

    try:
        return sorted(set(skops.io.get_untrusted_types(data=data)))
    except Exception as exc:  # a zip or schema that is not skops' own, in any of many ways
        raise InvalidInput("model", f"not a readable skops file: {exc}") from exc


def _refuse_malformed_lightgbm(data: bytes) -> None:
    """LightGBM parses a booster's model text while skops rebuilds it, and aborts the process
    on some malformed texts; so each text is read out of the file's schema and checked first."""
    problems = [p for text in _lightgbm_texts(data) for p in lightgbm_problems(text)]
    if problems:
        raise UntrustedArtifact(
            "",
            [LIGHTGBM_BOOSTER],
            hint="the file's LightGBM trees are malformed: " + "; ".join(problems[:3]),
        )


def _lightgbm_texts(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        schema = json.loads(archive.read("schema.json"))
    texts: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if f"{node.get('__module__')}.{node.get('__class__')}" == LIGHTGBM_BOOSTER:
                state = (node.get("content") or {}).get("content") or {}
                for key in ("_handle", "handle"):
                    text = (state.get(key) or {}).get("content")
                    if isinstance(text, str):
                        value = json.loads(text)
                        if isinstance(value, str):
                            texts.append(value)
            for child in node.values():
                visit(child)
        elif isinstance(node, list):
            for child in node:
                visit(child)

    visit(schema)
    return texts


class SklearnFlavour(Flavour):
    name = "sklearn"
    format = "skops"
    package = "skops"
    extra = "sklearn"
    suffixes = (".skops",)

    def detects(self, model: Any) -> bool:
        return top_module(model) == "sklearn"

    def save(self, model: Any) -> bytes:
        import skops.io

        try:
            return bytes(skops.io.dumps(model))
        except Exception as exc:  # skops cannot save every object (e.g. lambdas)
            raise InvalidInput("format", f"skops cannot save this model: {exc}") from exc

    def needs_trust(self, data: bytes) -> list[str]:
        return [t for t in skops_types(data) if t not in REVIEWED_TYPES]

    def load(self, data: bytes) -> Any:
        import skops.io

        types = skops_types(data)
        if LIGHTGBM_BOOSTER in types:
            _refuse_malformed_lightgbm(data)
        try:
            model = skops.io.loads(data, trusted=types or None)
        except Exception as exc:  # skops raises many kinds of error on a malformed file
            raise InvalidInput("model", f"the skops file cannot be loaded: {exc}") from exc
        problems = malformed_trees(model)
        if problems:
            raise UntrustedArtifact(
                "",
                sorted({p.split(":")[0] for p in problems}),
                hint="the file's tree structures are malformed: " + "; ".join(problems[:3]),
                code=False,
            )
        return model
