"""scikit-learn: estimators, Pipelines and ColumnTransformers, kept with skops.

A skops file names every type it would rebuild, and skops lists them without building any, so a
file loads only when each name is, whole, on an exact list: skops' own safe types, the types Keel
reviewed (``keel.registry.reviewed_types``: scikit-learn's tree structures, and the LightGBM and
XGBoost estimators a Pipeline may end in, each checked after loading), and the types a named
person trusted for that version. ``sklearn.utils._testing.check_output`` is not trusted because
it starts with ``sklearn.``.
"""

from __future__ import annotations

from typing import Any

from keel.errors import InvalidInput, UntrustedArtifact
from keel.registry.flavours.base import Flavour, top_module
from keel.registry.reviewed_types import REVIEWED_TYPES, malformed_trees


def skops_types(data: bytes) -> list[str]:
    """The types a skops file would rebuild beyond skops' safe list, read without building any."""
    import skops.io

    try:
        return sorted(set(skops.io.get_untrusted_types(data=data)))
    except Exception as exc:  # a zip or schema that is not skops' own, in any of many ways
        raise InvalidInput("model", f"not a readable skops file: {exc}") from exc


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

        try:
            model = skops.io.loads(data, trusted=skops_types(data) or None)
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
