"""Recorded trust, one version per retrain, lease heartbeats.

- ``model_versions.trust``: the recorded decision (who, when, which types, code or not) that
  lets an artifact beyond the default trusted types be loaded;
- ``model_versions.retrain_id`` with a unique index: a retrain registers at most one version,
  enforced by the store rather than by a tag search;
- ``retrains.heartbeat_at``: renewed while a process drives the retrain, so a killed one is taken
  over after a short multiple of the heartbeat instead of the whole lease.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("trust", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("retrain_id", sa.Integer(), nullable=True))
    op.create_index("uq_model_versions_retrain_id", "model_versions", ["retrain_id"], unique=True)
    with op.batch_alter_table("retrains") as batch:
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("retrains") as batch:
        batch.drop_column("heartbeat_at")
    op.drop_index("uq_model_versions_retrain_id", table_name="model_versions")
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("retrain_id")
        batch.drop_column("trust")
