"""Every model's policy as stored (the mapping its policy file or ``set_policy`` gave, as
recorded), read in one query for pages that list every model."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from keel.store.database import Database
from keel.store.schema import models

__all__ = ["stored_policies"]


def stored_policies(db: Database, names: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Model name -> its stored policy; models without one (or not in ``names``) are left out."""
    query = sa.select(models.c.name, models.c.policy)
    if names is not None:
        query = query.where(models.c.name.in_(names))
    with db.read() as conn:
        return {row.name: row.policy for row in conn.execute(query) if row.policy}
