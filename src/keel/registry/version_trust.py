"""Trusting a version already stored: the decision replaces its record and is audited.

A version is never loaded on a trust given only to one call; this is the one way to trust more
after registration (``client.trust_version``, ``keel models trust``), and ``version.trust`` in the
audit trail is what ``keel audit verify`` holds the version's record to.
"""

from __future__ import annotations

from keel.domain.names import ModelRef
from keel.domain.trust import TrustRecord, parse_trust
from keel.errors import InvalidInput
from keel.registry import audit, models
from keel.registry.trust import decide
from keel.store.artifacts import ArtifactStore
from keel.store.database import Database
from keel.store.schema import model_versions


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
