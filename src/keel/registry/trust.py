"""Recording trust: at registration, and later for a version already stored.

The rules of what an artifact needs live in ``serialization``; this module turns a person's
request into a ``TrustRecord`` kept with the version, so every later load honours that record
and nothing else. A later decision (``trust_version``) replaces the record and is audited as
``version.trust``; a version is never loaded on a trust given only to one call.
"""

from __future__ import annotations

from keel.domain.names import ModelRef
from keel.domain.trust import TrustRecord, TrustRequest, parse_trust
from keel.errors import InvalidInput
from keel.registry import audit, serialization
from keel.registry.clock import utcnow
from keel.store.artifacts import ArtifactStore
from keel.store.database import Database
from keel.store.schema import model_versions


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
    types, code = serialization.types_needing_trust(data, format)
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


def trust_version(
    db: Database,
    artifacts: ArtifactStore,
    actor: str,
    ref: ModelRef,
    *,
    types: list[str] | None = None,
    code: bool = False,
    reason: str,
) -> TrustRecord | None:
    """Record that ``actor`` trusts a stored version's types (or code), replacing its record.

    Only what the artifact needs is recorded; the request must cover all of it. Nothing is
    deserialized here: the types are read from the file's schema (or the pickle's opcodes)."""
    from keel.registry import models

    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("reason", "say why you trust this version; it is audited")
    request = parse_trust("code" if code else list(types or []), "types")
    if request.empty:
        raise InvalidInput("types", "name the types to trust, or trust the code")
    version = models.resolve(db, ref)
    data = artifacts.get(version.artifact_sha256)  # verified against its hash
    record = decide(
        data,
        version.format,
        sha256=version.artifact_sha256,
        trust=request,
        actor=actor,
        reason=reason.strip(),
    )
    stored = record.to_dict() if record is not None else None
    with db.write() as conn:
        model_id = models.model_id_of(conn, version.name)
        conn.execute(
            model_versions.update()
            .where(
                model_versions.c.model_id == model_id,
                model_versions.c.version == version.version,
            )
            .values(trust=stored)
        )
        audit.append(conn, actor, "version.trust", f"model:{version.ref}", {"trust": stored})
    return record
