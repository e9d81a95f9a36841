"""Turning models into bytes and back, loading nothing that nobody trusted.

scikit-learn objects are saved with skops. Its files name every type they rebuild, and skops can
list them without building anything; Keel loads a file only when each of those names is on an
exact list: skops' own safe types, the tree structures Keel has reviewed (``reviewed_types``,
checked node by node after loading), and the types a named person trusted for that version
(``keel.domain.trust``). A name is compared whole: ``sklearn.utils._testing.check_output`` is
not trusted because it starts with ``sklearn.``.

Anything else with ``predict`` is saved with cloudpickle, which runs code while it loads, so such
a version loads only when its code was trusted (``trust="code"``), a decision recorded with the
version and in the audit trail.
"""

from __future__ import annotations

import pickletools
from typing import Any

from keel.domain.trust import TrustRecord, TrustRequest
from keel.errors import InvalidInput, UntrustedArtifact
from keel.registry.reviewed_types import REVIEWED_TYPES, malformed_trees

SKOPS = "skops"
CLOUDPICKLE = "cloudpickle"
FORMATS = (SKOPS, CLOUDPICKLE)

#: formats whose loading runs arbitrary code, so only a trust in code lets them load
CODE_FORMATS = frozenset({CLOUDPICKLE})


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


def skops_types(data: bytes) -> list[str]:
    """The types a skops file would rebuild beyond skops' safe list, read without building any."""
    import skops.io

    try:
        return sorted(set(skops.io.get_untrusted_types(data=data)))
    except Exception as exc:  # a zip or schema that is not skops' own, in any of many ways
        raise InvalidInput("model", f"not a readable skops file: {exc}") from exc


def pickle_globals(data: bytes) -> list[str]:
    """The module attributes a pickle would import and may call, read without unpickling."""
    found: set[str] = set()
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(data):
            if opcode.name in {"GLOBAL", "INST"} and isinstance(arg, str):
                found.add(arg.replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.add(f"{strings[-2]}.{strings[-1]}")
            if isinstance(arg, str):
                strings.append(arg)
    except Exception:  # a truncated or foreign stream: what was read so far is still true
        found.add("<unreadable pickle>")
    return sorted(found)


def types_needing_trust(data: bytes, format: str) -> tuple[list[str], bool]:
    """What loading these bytes needs beyond the defaults: ``(types, code)``."""
    if format == SKOPS:
        return [t for t in skops_types(data) if t not in REVIEWED_TYPES], False
    if format in CODE_FORMATS:
        return pickle_globals(data), True
    raise InvalidInput("format", f"unknown model format {format!r} in the registry")


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
    types, code = types_needing_trust(data, format)
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
    check_trust(data, format, sha256=sha256, trust=trust, ref=ref)
    if format == SKOPS:
        import skops.io

        try:
            model = skops.io.loads(data, trusted=skops_types(data) or None)
        except Exception as exc:  # skops raises many kinds of error on a malformed file
            raise InvalidInput("model", f"the skops file cannot be loaded: {exc}") from exc
        problems = malformed_trees(model)
        if problems:
            raise UntrustedArtifact(
                sha256,
                sorted({p.split(":")[0] for p in problems}),
                hint="the file's tree structures are malformed: " + "; ".join(problems[:3]),
                code=False,
            )
    else:
        import pickle

        model = pickle.loads(data)
    check_model(model)
    return model
