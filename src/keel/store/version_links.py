"""Links from history rows to the versions they are about.

Monitor windows, alerts, deployments and retrains name a version by model name and number: the
readable copy every reader uses. Beside it they keep the version's ``model_versions.id`` under a
foreign key (the ``*version_id`` columns in ``keel.store.schema``), so the store itself holds the
link. Their writers resolve it with :func:`version_id` inside the transaction that writes the
row; migration 0007 filled the rows written before it the same way.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel.errors import NotFound
from keel.store.schema import model_versions, models

__all__ = ["version_id"]


def version_id(conn: Connection, model: str, version: int | None) -> int | None:
    """``model_versions.id`` of version number ``version`` of ``model``, read in ``conn``'s
    transaction; None when ``version`` is None (a link with nothing to point at, such as a
    deployment's stable version when the model had no champion).

    NotFound when the store has no such version: every writer resolved the version it names
    before writing (see migration 0007), so a missing one is a bug to surface, not a link to
    leave empty.
    """
    if version is None:
        return None
    found = conn.execute(
        sa.select(model_versions.c.id)
        .join(models, models.c.id == model_versions.c.model_id)
        .where(models.c.name == model, model_versions.c.version == int(version))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("version", f"{model}/{version}")
    return int(found)
