"""The autopilot's verdicts get a table: ``retrain_decisions``, one row per verdict of a pass
over a model with no retrain in flight (idle, hold, retrain, busy), with the trigger, the reason
and the trigger's numbers, so ``keel retrains MODEL --all-decisions`` can explain why a window
did not retrain as well as why one did.

A row is written when the verdict differs from the model's newest row, and for every retrain
started (``keel.controller.decision_log``); the table starts empty, since no earlier verdict was
kept. Its links (the champion judged, the retrain started) are ``ON DELETE RESTRICT``, as
0007's and 0008's are.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retrain_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("champion_version", sa.Integer(), nullable=True),
        sa.Column("champion_version_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("retrain_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["champion_version_id"],
            ["model_versions.id"],
            name=op.f("fk_retrain_decisions_champion_version_id_model_versions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["retrain_id"],
            ["retrains.id"],
            name=op.f("fk_retrain_decisions_retrain_id_retrains"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrain_decisions")),
    )
    op.create_index(
        "ix_retrain_decisions_model_id", "retrain_decisions", ["model", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_retrain_decisions_model_id", table_name="retrain_decisions")
    op.drop_table("retrain_decisions")
