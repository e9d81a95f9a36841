"""Deciding what trust to record for an artifact a person registers.

The rules of what an artifact needs live in ``serialization``; this module turns a person's
request into the ``TrustRecord`` kept with the version, so every later load honours that record
and nothing else. A later decision for a stored version is ``version_trust.trust_version``.
"""

from __future__ import annotations

from keel.domain.trust import TrustRecord, TrustRequest
from keel.errors import InvalidInput, UntrustedArtifact
from keel.registry import serialization
from keel.registry.clock import utcnow


def _now() -> str:
    return utcnow().isoformat(timespec="seconds")


def decide(
    data: bytes,
    format: str,
    *,
    sha256: str,
    trust: TrustRequest | TrustRecord | None,
    actor: str,
    reason: str = "",
) -> TrustRecord | None:
    """The record to keep for these bytes, or None when the defaults suffice.

    Raises UntrustedArtifact naming what ``trust`` leaves uncovered, with the way to trust it."""
    try:
        types, code = serialization.types_needing_trust(data, format)
    except UntrustedArtifact as refused:
        raise serialization.with_hash(refused, sha256) from None
    if not code and trust is not None and trust.code and not trust.types and types:
        raise InvalidInput(
            "trust",
            f"this model is saved with {format}, which runs no code; trust the types it "
            f"needs by name: {types}",
        )
    if code and (trust is None or not trust.code):
        raise serialization.refusal(sha256, format, types, True, None)
    missing = [] if code else sorted(set(types) - set(trust.types if trust else ()))
    if missing:
        raise serialization.refusal(sha256, format, missing, False, None)
    if not types and not code:
        return None
    chosen_types = tuple(types)
    if isinstance(trust, TrustRecord):
        return TrustRecord(
            chosen_types, code, trust.by, trust.at, trust.reason, trust.inherited_from
        )
    return TrustRecord(chosen_types, code, actor, _now(), reason)
