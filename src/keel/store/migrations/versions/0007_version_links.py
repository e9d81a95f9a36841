"""Windows, alerts, deployments and retrains link the versions they are about by foreign key.

Each of these rows names its version by model name and number; those columns stay, unchanged, as
the readable copy every reader uses. Beside them come links to ``model_versions.id`` (nullable,
``ON DELETE RESTRICT``):

- ``monitor_windows.version_id``: the version the window scored;
- ``alerts.version_id``: the version of a rollout alert (rule ``rollout of {model}/{version}``);
  a policy rule's alert is about its model and links none;
- ``deployments.stable_version_id`` and ``deployments.candidate_version_id``;
- ``retrains.champion_version_id`` (read from ``details["champion"]``, recorded when the retrain
  was triggered or, for a manual one, when it started training) and
  ``retrains.candidate_version_id``.

Every existing row gets its links from its name and number, in the same transaction as the new
columns. A row whose version the store does not have keeps NULL. A store written only by Keel has
none: Keel never deletes a model or a version (archiving keeps the row), and every writer of these
rows resolved its version first (a window is measured against its version's reference, a
deployment resolves its candidate and reads its stable version from the champion alias, a
retrain's champion comes from that alias and its candidate from the version its pipeline
registered, a rollout alert names the deployment's candidate). So only rows written by hand or by
other tools, or left behind by a partial restore, can stay NULL; the readable copy keeps what they
said. NULL is also what is right where there is nothing to link: a deployment with no stable
version, a retrain not yet started or without a candidate, a policy rule's alert.

On SQLite the tables are rebuilt (batch mode) to add the constraints; ``keel.store.database``
runs migrations with foreign keys unenforced and checks them before committing, because SQLite
refuses to drop a table that other rows refer to (``alerts.window_id`` refers to windows,
``notifications.alert_id`` to alerts) while they are enforced.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _fk(table: str, column: str) -> str:
    """The constraint's name under the schema's naming convention."""
    return f"fk_{table}_{column}_model_versions"


def _links() -> dict[str, dict[str, str]]:
    """Table -> its new link columns, each with the condition that picks the row's version ``v``
    among the versions of its model ``m``."""
    if op.get_bind().dialect.name == "postgresql":
        champion = "CAST(v.version AS TEXT) = retrains.details ->> 'champion'"
    else:
        champion = "v.version = json_extract(retrains.details, '$.champion')"
    return {
        "monitor_windows": {"version_id": "v.version = monitor_windows.version"},
        "alerts": {
            "version_id": "alerts.rule = 'rollout of ' || m.name || '/' || CAST(v.version AS TEXT)"
        },
        "deployments": {
            "stable_version_id": "v.version = deployments.stable_version",
            "candidate_version_id": "v.version = deployments.candidate_version",
        },
        "retrains": {
            "champion_version_id": champion,
            "candidate_version_id": "v.version = retrains.candidate_version",
        },
    }


def upgrade() -> None:
    links_of = _links()
    for table, links in links_of.items():
        with op.batch_alter_table(table) as batch:
            for column in links:
                batch.add_column(sa.Column(column, sa.Integer(), nullable=True))
                batch.create_foreign_key(
                    _fk(table, column), "model_versions", [column], ["id"], ondelete="RESTRICT"
                )
    for table, links in links_of.items():
        for column, match in links.items():
            only = " WHERE alerts.rule LIKE 'rollout of %'" if table == "alerts" else ""
            op.execute(
                f"UPDATE {table} SET {column} = (SELECT v.id FROM model_versions v "
                f"JOIN models m ON m.id = v.model_id WHERE m.name = {table}.model AND {match})"
                + only
            )


def downgrade() -> None:
    for table, links in reversed(_links().items()):
        with op.batch_alter_table(table) as batch:
            for column in reversed(links):
                batch.drop_constraint(_fk(table, column), type_="foreignkey")
                batch.drop_column(column)
