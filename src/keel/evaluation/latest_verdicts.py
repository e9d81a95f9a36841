"""Each version's newest gate verdict with its reasons, for a whole model in one query (a page
listing a model's versions must not ask once per version)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from keel.store.database import Database
from keel.store.schema import gate_results, model_versions, models

__all__ = ["LatestVerdict", "latest_verdicts"]


@dataclass(frozen=True)
class LatestVerdict:
    """The newest gate outcome of one version: ``blessed`` or ``rejected`` and why."""

    version: int
    verdict: str
    reasons: list[str]
    gated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "gated_at": self.gated_at.isoformat()}


def latest_verdicts(db: Database, model: str) -> dict[int, LatestVerdict]:
    """Version number -> its newest verdict; versions never gated are left out."""
    newest = (
        sa.select(sa.func.max(gate_results.c.id).label("id"))
        .join(model_versions, model_versions.c.id == gate_results.c.version_id)
        .join(models, models.c.id == model_versions.c.model_id)
        .where(models.c.name == model)
        .group_by(gate_results.c.version_id)
        .subquery()
    )
    query = (
        sa.select(
            model_versions.c.version,
            gate_results.c.verdict,
            gate_results.c.reasons,
            gate_results.c.created_at,
        )
        .join(model_versions, model_versions.c.id == gate_results.c.version_id)
        .where(gate_results.c.id.in_(sa.select(newest.c.id)))
    )
    with db.read() as conn:
        return {
            row.version: LatestVerdict(
                row.version, row.verdict, list(row.reasons or []), row.created_at
            )
            for row in conn.execute(query)
        }
