"""Which stored evaluation of a version is the newest: what a page summarising the version's
last evaluation reads, without listing every evaluation first."""

from __future__ import annotations

import sqlalchemy as sa

from keel.store.database import Database
from keel.store.schema import evaluations, model_versions, models

__all__ = ["newest_evaluation_id"]


def newest_evaluation_id(db: Database, model: str, version: int) -> int | None:
    """The id of ``model``/``version``'s newest evaluation, or None when it has none."""
    query = (
        sa.select(evaluations.c.id)
        .join(model_versions, model_versions.c.id == evaluations.c.version_id)
        .join(models, models.c.id == model_versions.c.model_id)
        .where(models.c.name == model, model_versions.c.version == version)
        .order_by(evaluations.c.id.desc())
        .limit(1)
    )
    with db.read() as conn:
        found = conn.execute(query).scalar()
    return int(found) if found is not None else None
