"""Turning models into bytes and back.

scikit-learn objects are saved with skops, whose loader refuses types it has not been told to trust;
anything else with ``predict`` is saved with cloudpickle, which can run code on load, so the
registry only unpickles bytes whose SHA-256 matches the one it recorded (checked by the artifact
store before these bytes reach ``load``).

Keel trusts scikit-learn's own classes on top of skops' defaults. skops leaves a few of them
untrusted (its Cython tree structures, which a hand-crafted file could use to crash ``predict``),
but an artifact reaches this loader only when its hash matches the registry's record, and whoever
can write that record can already register a cloudpickled object: trusting them adds no way in.
Types from any other package must still be named by the caller (``trusted=[...]``).
"""

from __future__ import annotations

import io
from typing import Any

from keel.errors import InvalidInput, UntrustedArtifact

#: scikit-learn's own classes (e.g. its Cython tree structures, which skops does not trust by
#: default) are trusted; any other type an artifact names must be listed by the caller
TRUSTED_PREFIXES = ("sklearn.",)

SKOPS = "skops"
CLOUDPICKLE = "cloudpickle"
FORMATS = (SKOPS, CLOUDPICKLE)


def model_class(model: Any) -> str:
    kind = type(model)
    return f"{kind.__module__}.{kind.__qualname__}"


def _is_sklearn(model: Any) -> bool:
    return type(model).__module__.split(".")[0] == "sklearn"


def check_model(model: Any) -> None:
    """A model is anything with a callable ``predict``."""
    if not callable(getattr(model, "predict", None)):
        raise InvalidInput(
            "model",
            f"{model_class(model)} has no predict method; Keel versions objects with predict",
        )


def dump(model: Any, format: str | None = None) -> tuple[bytes, str]:
    """Serialize ``model``; the format is skops for scikit-learn objects unless told otherwise."""
    check_model(model)
    chosen = format or (SKOPS if _is_sklearn(model) else CLOUDPICKLE)
    if chosen not in FORMATS:
        raise InvalidInput("format", f"{chosen!r} is not one of {', '.join(FORMATS)}")
    if chosen == SKOPS:
        import skops.io

        try:
            return skops.io.dumps(model), SKOPS
        except Exception as exc:  # skops cannot save every object (e.g. lambdas)
            if format == SKOPS:
                raise InvalidInput("format", f"skops cannot save this model: {exc}") from exc
    import cloudpickle

    return cloudpickle.dumps(model), CLOUDPICKLE


def load(data: bytes, format: str, *, sha256: str, trusted: list[str] | None = None) -> Any:
    """Rebuild a model from verified bytes."""
    if format == SKOPS:
        import skops.io

        untrusted = skops.io.get_untrusted_types(data=data)
        refused = sorted(
            t for t in set(untrusted) - set(trusted or ()) if not t.startswith(TRUSTED_PREFIXES)
        )
        if refused:
            raise UntrustedArtifact(sha256, refused)
        return skops.io.loads(data, trusted=untrusted or None)
    if format == CLOUDPICKLE:
        import pickle

        return pickle.load(io.BytesIO(data))
    raise InvalidInput("format", f"unknown model format {format!r} in the registry")
