"""Every model's policy as stored, read in one query for pages that list every model."""

from __future__ import annotations

import sqlalchemy as sa

from keel.domain.stored_policy import StoredPolicy
from keel.store.database import Database
from keel.store.schema import models

__all__ = ["stored_policies"]


def stored_policies(db: Database, names: list[str] | None = None) -> dict[str, StoredPolicy]:
    """Model name -> its stored policy; models without one (or not in ``names``) are left out."""
    query = sa.select(models.c.name, models.c.policy)
    if names is not None:
        query = query.where(models.c.name.in_(names))
    with db.read() as conn:
        return {
            row.name: StoredPolicy.of(row.name, row.policy)
            for row in conn.execute(query)
            if row.policy
        }
