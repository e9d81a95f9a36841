"""The last two links between history rows get foreign keys: a retrain to its deployment, a
version to the retrain that registered it.

- ``retrains.deployment_id`` -> ``deployments.id``: the rollout of the retrain's candidate;
- ``model_versions.retrain_id`` -> ``retrains.id``: the retrain whose pipeline registered the
  version (already unique since 0006: a retrain registers at most one).

Both columns exist and stay nullable; the constraints are ``ON DELETE RESTRICT``, as 0007's
version links are: Keel deletes no retrain and no deployment, and the store refuses to let one
vanish from under the rows that refer to it.

A row whose id names a retrain or deployment the store does not have gets NULL in the same
transaction, before the constraint is added (PostgreSQL would refuse the constraint otherwise,
and on SQLite ``run_migrations`` refuses to commit a reference left dangling). Keel itself never
writes such an id (both are written from the row just created or read in the same transaction),
so only rows written by hand or by other tools, or left behind by a partial restore, are
affected; how many were is logged as a warning on ``keel.store``, per column, so the loss is
never silent. A version keeps the readable copy of its retrain in its ``retrain`` tag.

On SQLite the tables are rebuilt (batch mode) with foreign keys unenforced, as for 0007.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: table, column, referred table: each new constraint
LINKS = [
    ("retrains", "deployment_id", "deployments"),
    ("model_versions", "retrain_id", "retrains"),
]

log = logging.getLogger("keel.store")


def _fk(table: str, column: str, referred: str) -> str:
    """The constraint's name under the schema's naming convention."""
    return f"fk_{table}_{column}_{referred}"


def _dangling(table: str, column: str, referred: str) -> str:
    """The condition that picks the rows whose ``column`` names no row of ``referred``."""
    return (
        f"{column} IS NOT NULL AND NOT EXISTS "
        f"(SELECT 1 FROM {referred} r WHERE r.id = {table}.{column})"
    )


def upgrade() -> None:
    conn = op.get_bind()
    for table, column, referred in LINKS:
        where = _dangling(table, column, referred)
        count = int(
            conn.execute(sa.text(f"SELECT COUNT(*) FROM {table} WHERE {where}")).scalar_one()
        )
        if count:
            conn.execute(sa.text(f"UPDATE {table} SET {column} = NULL WHERE {where}"))
            log.warning(
                "migration 0008: %d %s row(s) named a %s row the store does not have; "
                "their %s is now NULL",
                count,
                table,
                referred,
                column,
            )
    for table, column, referred in LINKS:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(
                _fk(table, column, referred), referred, [column], ["id"], ondelete="RESTRICT"
            )


def downgrade() -> None:
    for table, column, referred in reversed(LINKS):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(_fk(table, column, referred), type_="foreignkey")
