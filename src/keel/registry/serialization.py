"""Turning models into bytes and back, loading nothing that nobody trusted.

Each framework is a flavour (``keel.registry.flavours``) that saves its models in its own format:
skops for scikit-learn, LightGBM's model text, XGBoost's UBJSON, CatBoost's ``.cbm``, ONNX. A
native format builds only its framework's model, so it needs no trust beyond the checks its
flavour makes; a skops file loads only when each type it names is on an exact list (skops' safe
types, the types Keel reviewed, and the types a named person trusted for that version; see
``keel.domain.trust``). Anything else with ``predict`` is saved with cloudpickle, which runs code
while it loads, so such a version loads only when its code was trusted (``trust="code"``), a
decision recorded with the version and in the audit trail.
"""

from __future__ import annotations

from typing import Any

from keel.domain.trust import TrustRecord, TrustRequest
from keel.errors import InvalidInput, UntrustedArtifact
from keel.registry import flavours
from keel.registry.flavours.base import type_name
from keel.registry.flavours.python import pickle_globals
from keel.registry.flavours.sklearn import skops_types

SKOPS = "skops"
CLOUDPICKLE = "cloudpickle"
FORMATS = tuple(f.format for f in flavours.FLAVOURS)

#: formats whose loading runs arbitrary code, so only a trust in code lets them load
CODE_FORMATS = frozenset(f.format for f in flavours.FLAVOURS if f.runs_code)

__all__ = [
    "CLOUDPICKLE",
    "CODE_FORMATS",
    "FORMATS",
    "SKOPS",
    "check_model",
    "check_trust",
    "dump",
    "flavour_of",
    "load",
    "model_class",
    "pickle_globals",
    "refusal",
    "skops_types",
    "types_needing_trust",
    "with_hash",
]


def model_class(model: Any) -> str:
    """The class a version records: the framework's own, also for Keel's thin adapters."""
    native = getattr(model, "booster", None) if isinstance(model, flavours.XGBoostBooster) else None
    return type_name(native if native is not None else model)


def check_model(model: Any) -> None:
    """A model is anything a flavour saves: a framework's estimator, an ONNX graph, or any
    object with a callable ``predict``."""
    flavours.detect(model)


def flavour_of(model: Any, format: str | None = None) -> flavours.Flavour:
    """The flavour ``format`` names, else the one that detects ``model``."""
    if not format:
        return flavours.detect(model)
    flavour = flavours.by_format(format)
    if not flavour.detects(model):
        raise InvalidInput(
            "format", f"a {type_name(model)} cannot be saved as {format} ({flavour.name} models)"
        )
    return flavour


def dump(model: Any, format: str | None = None) -> tuple[bytes, str]:
    """Serialize ``model`` in its flavour's format (or the one ``format`` names). A scikit-learn
    object skops cannot save (a lambda inside, say) falls back to cloudpickle unless skops was
    asked for."""
    flavour = flavour_of(model, format)
    try:
        return flavour.save(model), flavour.format
    except InvalidInput:
        if format is not None or flavour.format != SKOPS:
            raise
    fallback = flavours.by_format(CLOUDPICKLE)
    return fallback.save(model), fallback.format


def types_needing_trust(data: bytes, format: str) -> tuple[list[str], bool]:
    """What loading these bytes needs beyond the defaults: ``(types, code)``."""
    flavour = flavours.by_format(format)
    return flavour.needs_trust(data), flavour.runs_code


def refusal(sha256: str, format: str, types: list[str], code: bool, ref: str | None) -> Exception:
    """The UntrustedArtifact that says what is missing and the exact way to trust it: for a
    stored version (``ref``) the command that records trust, otherwise how to register it."""
    if code:
        what = f"it was saved with {format}, which runs code while loading; if you trust its code"
        if ref is None:
            how = f"{what}, register it with trust='code' (CLI: --trust-code)"
        else:
            how = (
                f"{what}, record that with `keel models trust {ref} --code --reason ...` "
                f"(SDK: client.trust_version({ref!r}, code=True, reason=...))"
            )
    elif ref is None:
        flags = " ".join(f"--trust {t}" for t in types)
        how = f"if you trust these types, register it with trust=[...] naming them (CLI: {flags})"
    else:
        flags = " ".join(f"--type {t}" for t in types)
        how = (
            f"if you trust these types, record that with `keel models trust {ref} {flags} "
            f"--reason ...` (SDK: client.trust_version({ref!r}, types=[...], reason=...))"
        )
    return UntrustedArtifact(sha256, types, hint=how, code=code)


def check_trust(
    data: bytes,
    format: str,
    *,
    sha256: str,
    trust: TrustRecord | TrustRequest | None,
    ref: str | None = None,
) -> list[str]:
    """Raise UntrustedArtifact unless ``trust`` covers what the bytes need; return the types."""
    try:
        types, code = types_needing_trust(data, format)
    except UntrustedArtifact as refused:
        raise with_hash(refused, sha256) from None
    if code:
        if trust is None or not trust.code:
            raise refusal(sha256, format, types, True, ref)
        return types
    granted = set(trust.types) if trust is not None else set()
    missing = sorted(set(types) - granted)
    if missing:
        raise refusal(sha256, format, missing, False, ref)
    return types


def load(
    data: bytes,
    format: str,
    *,
    sha256: str,
    trust: TrustRecord | TrustRequest | None = None,
    ref: str | None = None,
) -> Any:
    """Rebuild a model from verified bytes, refusing anything ``trust`` does not cover."""
    flavour = flavours.by_format(format)
    try:
        check_trust(data, format, sha256=sha256, trust=trust, ref=ref)
        model = flavour.load(data)
    except UntrustedArtifact as refused:
        raise with_hash(refused, sha256) from None
    check_model(model)
    return model


def with_hash(refused: UntrustedArtifact, sha256: str) -> UntrustedArtifact:
    """A flavour's refusal, which cannot know the artifact's hash, naming it."""
    if refused.fields.get("sha256"):
        return refused
    fields = refused.fields
    return UntrustedArtifact(
        sha256, list(fields["types"]), hint=fields["hint"], code=bool(fields["runs_code"])
    )
