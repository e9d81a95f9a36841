"""One model by name, with its description, tags, newest version number and aliases."""

from __future__ import annotations

import sqlalchemy as sa

from keel.domain.entities import Model
from keel.errors import NotFound
from keel.store.database import Database
from keel.store.schema import aliases, model_versions, models

__all__ = ["get_model"]


def get_model(db: Database, name: str) -> Model:
    """The model ``name``; NotFound when none is registered under it."""
    with db.read() as conn:
        row = conn.execute(sa.select(models).where(models.c.name == name)).first()
        if row is None:
            raise NotFound("model", name, hint="`keel models list` shows them")
        held = conn.execute(
            sa.select(aliases.c.alias, model_versions.c.version)
            .join(model_versions, model_versions.c.id == aliases.c.version_id)
            .where(aliases.c.model_id == row.id)
        ).all()
    return Model(
        name=row.name,
        created_at=row.created_at,
        description=row.description,
        tags=row.tags,
        latest_version=row.latest_version or None,
        aliases=dict(sorted((a.alias, a.version) for a in held)),
    )
