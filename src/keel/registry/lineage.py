"""Lineage of one version: data snapshots -> training run -> version -> parents, children, aliases.

Answers "which model served, trained on which data by which code, and why was it promoted" from
the store alone.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from keel.domain.entities import Lineage, LineageApproval, LineageGate, ModelVersion
from keel.domain.names import ModelRef
from keel.registry import aliases as alias_store
from keel.registry import governance
from keel.registry import runs as run_store
from keel.registry.models import (
    model_id_of,
    resolve_in,
    row_to_version,
    version_id_of,
    version_query,
)
from keel.store.database import Database
from keel.store.schema import model_versions, models, snapshots

_MAX_ANCESTORS = 1000


def lineage(db: Database, ref: ModelRef, *, max_ancestors: int = _MAX_ANCESTORS) -> Lineage:
    """Everything that led to ``ref``; ``parents`` holds at most ``max_ancestors`` ancestors,
    nearest first (a page that shows the parent needs one, not the whole chain)."""
    with db.read() as conn:
        version = resolve_in(conn, ref)
        run = run_store.get_in(conn, version.run_id) if version.run_id else None
        found: dict[tuple[str, str], dict[str, Any]] = {}
        if version.training_snapshot:
            name, _, number = version.training_snapshot.partition("/")
            row = conn.execute(
                sa.select(snapshots).where(
                    snapshots.c.name == name, snapshots.c.version == int(number)
                )
            ).one()
            found[(version.training_snapshot, "train")] = _snapshot_node(row, "train")
        for item in run.inputs if run else []:
            key = (item["snapshot"], item["role"])
            if key not in found:
                name, _, number = item["snapshot"].partition("/")
                row = conn.execute(
                    sa.select(snapshots).where(
                        snapshots.c.name == name, snapshots.c.version == int(number)
                    )
                ).one()
                found[key] = _snapshot_node(row, item["role"])
        parents: list[ModelVersion] = []
        current = version
        while current.parent_version is not None and len(parents) < max_ancestors:
            current = resolve_in(conn, ModelRef(current.name, version=current.parent_version))
            parents.append(current)
        parent_ids = (
            sa.select(model_versions.c.id)
            .join(models)
            .where(models.c.name == version.name, model_versions.c.version == version.version)
        )
        children = [
            row_to_version(r).version
            for r in conn.execute(
                version_query(detail=False)
                .where(model_versions.c.parent_id.in_(parent_ids))
                .order_by(model_versions.c.version)
            )
        ]
    moves = alias_store.history(db, version.name)
    alias_periods = [p for p in alias_store.periods(moves) if p.version == version.version]
    exact = ModelRef(version.name, version=version.version)
    gates = [
        LineageGate(
            verdict=g.verdict,
            risk_profile=g.risk_profile,
            reasons=g.reasons,
            created_at=g.created_at,
            author=g.author,
        )
        for g in governance.gate_history(db, exact)
    ]
    with db.read() as conn:
        model_id = model_id_of(conn, version.name)
        approvals = governance.approvals_in(
            conn, version_id_of(conn, model_id, version.name, version.version)
        )
    return Lineage(
        version=version,
        run=run,
        snapshots=list(found.values()),
        parents=parents,
        children=children,
        alias_periods=alias_periods,
        gates=gates,
        approvals=[
            LineageApproval(approver=a.approver, reason=a.reason, created_at=a.created_at)
            for a in approvals
        ],
        reproduction=_newest_reproduction(db, exact),
    )


def _newest_reproduction(db: Database, ref: ModelRef) -> dict[str, Any] | None:
    """The newest recreation of the version and its verdict, as the audit trail recorded it."""
    from keel.domain.reproduction import REPRODUCE_ACTION
    from keel.registry import audit

    found = audit.entries(db, subject=f"model:{ref}", action=REPRODUCE_ACTION, limit=1)
    if not found:
        return None
    entry = found[0]
    return {**entry.details, "at": entry.at, "actor": entry.actor, "seq": entry.seq}


def _snapshot_node(row: Any, role: str) -> dict[str, Any]:
    return {
        "ref": f"{row.name}/{row.version}",
        "role": role,
        "sha256": row.sha256,
        "rows": row.rows,
        "columns": row.columns,
        "source": row.source,
        "created_at": row.created_at.isoformat(),
    }
