"""API tokens: who may predict, deploy or administer, once any token exists.

A token is shown once, when created (``keel_<prefix>_<secret>``); the store keeps only its
SHA-256, so a leaked database does not leak working tokens. Roles are ordered: ``admin`` may do
what ``deploy`` may, which may do what ``predict`` may.

>>> allows("deploy", "predict"), allows("predict", "deploy")
(True, False)
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from keel.errors import InvalidInput, NotFound
from keel.registry import audit
from keel.registry.clock import utcnow
from keel.store.database import Database
from keel.store.schema import api_tokens

ROLES = ("predict", "deploy", "admin")


def allows(held: str, needed: str) -> bool:
    """Whether a token of role ``held`` may act where ``needed`` is required."""
    return ROLES.index(held) >= ROLES.index(needed)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_fingerprint(stored_hash: str) -> str:
    """What ``token.create`` records of a token's stored hash: enough for ``keel audit verify``
    to tell a hash swapped for another token's, without publishing the lookup key itself."""
    return hashlib.sha256(f"keel-token:{stored_hash}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class TokenRecord:
    id: int
    name: str
    role: str
    prefix: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "prefix": self.prefix,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def _record(row: Any) -> TokenRecord:
    return TokenRecord(
        row.id, row.name, row.role, row.prefix, row.created_by, row.created_at, row.revoked_at
    )


def create(db: Database, actor: str, role: str, name: str = "") -> tuple[str, TokenRecord]:
    """A new token of ``role``; returns the token itself (shown once) and its record."""
    if role not in ROLES:
        raise InvalidInput("role", f"{role!r} is not one of {', '.join(ROLES)}")
    if len(name) > 128:
        raise InvalidInput("name", "at most 128 characters")
    prefix = secrets.token_hex(4)
    token = f"keel_{prefix}_{secrets.token_urlsafe(32)}"
    with db.write() as conn:
        new_id = conn.execute(
            api_tokens.insert().values(
                name=name or f"{role}-{prefix}",
                role=role,
                prefix=prefix,
                token_hash=token_hash(token),
                created_by=actor,
                created_at=utcnow(),
            )
        ).inserted_primary_key
        assert new_id is not None
        audit.append(
            conn,
            actor,
            "token.create",
            f"token:{prefix}",
            # the fingerprint lets `keel audit verify` tell a stored hash swapped for another
            {"role": role, "name": name, "fingerprint": token_fingerprint(token_hash(token))},
        )
        row = conn.execute(sa.select(api_tokens).where(api_tokens.c.id == new_id[0])).one()
    return token, _record(row)


def verify(db: Database, token: str) -> TokenRecord | None:
    """The live record of ``token``, or None when it is unknown or revoked."""
    if not token:
        return None
    with db.read() as conn:
        row = conn.execute(
            sa.select(api_tokens).where(
                api_tokens.c.token_hash == token_hash(token), api_tokens.c.revoked_at.is_(None)
            )
        ).first()
    return None if row is None else _record(row)


def configured(db: Database) -> bool:
    """Whether any live token exists (access control applies only then)."""
    with db.read() as conn:
        return (
            conn.execute(
                sa.select(api_tokens.c.id).where(api_tokens.c.revoked_at.is_(None)).limit(1)
            ).first()
            is not None
        )


def list_all(db: Database) -> list[TokenRecord]:
    with db.read() as conn:
        rows = conn.execute(sa.select(api_tokens).order_by(api_tokens.c.id)).all()
    return [_record(r) for r in rows]


def revoke(db: Database, actor: str, prefix: str) -> TokenRecord:
    with db.write() as conn:
        row = conn.execute(
            sa.select(api_tokens).where(api_tokens.c.prefix == prefix).with_for_update()
        ).first()
        if row is None:
            raise NotFound("token", prefix, hint="list them with `keel token list`")
        if row.revoked_at is None:
            conn.execute(
                api_tokens.update().where(api_tokens.c.id == row.id).values(revoked_at=utcnow())
            )
            audit.append(conn, actor, "token.revoke", f"token:{prefix}", {"role": row.role})
        row = conn.execute(sa.select(api_tokens).where(api_tokens.c.id == row.id)).one()
    return _record(row)
