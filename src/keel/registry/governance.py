"""What a model must prove before promotion: its policy, evaluations, gate verdicts, approvals.

The registry stores these and enforces the policy when ``champion`` moves (see ``aliases``); the
evaluation layer computes them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel.domain.names import ModelRef, validate_name
from keel.domain.policy import Policy
from keel.errors import InvalidInput, NotFound
from keel.registry import audit
from keel.registry.clock import utcnow
from keel.registry.evaluation_records import (
    ApprovalRecord,
    EvaluationRecord,
    EvaluationSummary,
    GateRecord,
    ReusableEvaluation,
)
from keel.registry.models import model_id_of, resolve_in, version_id_of
from keel.store.database import Database
from keel.store.schema import approvals, evaluations, gate_results, model_versions, models


def set_policy(db: Database, actor: str, name: str, policy: Policy, source: str = "") -> None:
    """Record the policy in force for ``name``; audited only when it changes."""
    validate_name(name, "model")
    data = policy.to_dict()
    with db.write() as conn:
        model_id = model_id_of(conn, name)
        current = conn.execute(sa.select(models.c.policy).where(models.c.id == model_id)).scalar()
        if current == data:
            return
        conn.execute(models.update().where(models.c.id == model_id).values(policy=data))
        audit.append(
            conn,
            actor,
            "policy.set",
            f"model:{name}",
            {
                "risk_profile": policy.risk_profile,
                "source": source,
                "gates": data["gates"]["checks"],
            },
        )


def policy_in(conn: Connection, name: str) -> Policy | None:
    data = conn.execute(sa.select(models.c.policy).where(models.c.name == name)).scalar()
    return None if data is None else Policy.parse(data, f"stored policy of {name}")


def get_policy(db: Database, name: str) -> Policy | None:
    with db.read() as conn:
        model_id_of(conn, name)
        return policy_in(conn, name)


def record_evaluation(
    db: Database,
    actor: str,
    ref: ModelRef,
    suite: str,
    *,
    status: str,
    snapshots: list[dict[str, Any]],
    results: dict[str, Any],
    champion: ModelRef | None = None,
    error: str | None = None,
    report_sha256: str | None = None,
) -> int:
    with db.write() as conn:
        version = resolve_in(conn, ref)
        model_id = model_id_of(conn, version.name)
        version_id = version_id_of(conn, model_id, version.name, version.version)
        champion_id = None
        if champion is not None and champion.version is not None:
            champion_id = version_id_of(conn, model_id, champion.name, champion.version)
        evaluation_id = conn.execute(
            evaluations.insert()
            .values(
                version_id=version_id,
                suite=suite,
                status=status,
                snapshots=snapshots,
                champion_version_id=champion_id,
                results=results,
                error=error,
                report_sha256=report_sha256,
                author=actor,
                created_at=utcnow(),
            )
            .returning(evaluations.c.id)
        ).scalar_one()
        audit.append(
            conn,
            actor,
            "evaluation.record",
            f"model:{version.ref}",
            {
                "evaluation": evaluation_id,
                "suite": suite,
                "status": status,
                "snapshots": [s.get("ref") for s in snapshots],
                "champion": str(champion) if champion else None,
                "error": error,
            },
        )
        return int(evaluation_id)


def get_evaluation(db: Database, evaluation_id: int) -> EvaluationRecord:
    """A stored evaluation with its version ref, results and latest gate outcome (if gated)."""
    with db.read() as conn:
        row = conn.execute(_evaluation_query().where(evaluations.c.id == evaluation_id)).first()
        if row is None:
            hint = "list them with `keel evaluations list MODEL`"
            raise NotFound("evaluation", str(evaluation_id), hint=hint)
        gate = conn.execute(
            _gate_query()
            .where(gate_results.c.evaluation_id == evaluation_id)
            .order_by(gate_results.c.id.desc())
            .limit(1)
        ).first()
    return EvaluationRecord.of(row, None if gate is None else GateRecord.of(gate))


def list_evaluations(
    db: Database, name: str, version: int | None = None
) -> list[EvaluationSummary]:
    """Summaries of a model's evaluations (newest first), with the verdict when they were gated."""
    validate_name(name, "model")
    latest_gate = (
        sa.select(gate_results.c.evaluation_id, sa.func.max(gate_results.c.id).label("gate_id"))
        .group_by(gate_results.c.evaluation_id)
        .subquery()
    )
    query = (
        sa.select(
            evaluations.c.id,
            evaluations.c.suite,
            evaluations.c.status,
            evaluations.c.snapshots,
            evaluations.c.author,
            evaluations.c.created_at,
            model_versions.c.version,
            gate_results.c.verdict,
        )
        .join(model_versions, model_versions.c.id == evaluations.c.version_id)
        .join(models, models.c.id == model_versions.c.model_id)
        .outerjoin(latest_gate, latest_gate.c.evaluation_id == evaluations.c.id)
        .outerjoin(gate_results, gate_results.c.id == latest_gate.c.gate_id)
        .where(models.c.name == name)
        .order_by(evaluations.c.id.desc())
    )
    if version is not None:
        query = query.where(model_versions.c.version == version)
    with db.read() as conn:
        model_id_of(conn, name)
        return [EvaluationSummary.of(r) for r in conn.execute(query)]


def recent_evaluations(
    db: Database, ref: ModelRef, suite: str, since: datetime
) -> list[ReusableEvaluation]:
    """Finished evaluations of one version by ``suite`` made at or after ``since``, newest
    first, each with the number of the version it compared with."""
    compared = model_versions.alias("compared")
    with db.read() as conn:
        version = resolve_in(conn, ref)
        version_id = version_id_of(
            conn, model_id_of(conn, version.name), version.name, version.version
        )
        rows = conn.execute(
            sa.select(evaluations, compared.c.version.label("champion_version"))
            .select_from(evaluations)
            .outerjoin(compared, compared.c.id == evaluations.c.champion_version_id)
            .where(
                evaluations.c.version_id == version_id,
                evaluations.c.suite == suite,
                evaluations.c.status == "finished",
                evaluations.c.created_at >= since,
            )
            .order_by(evaluations.c.id.desc())
        ).all()
    return [ReusableEvaluation.of(r) for r in rows]


def _evaluation_query() -> sa.Select[Any]:
    return sa.select(
        evaluations, models.c.name.label("model"), model_versions.c.version.label("version")
    ).select_from(
        evaluations.join(model_versions, model_versions.c.id == evaluations.c.version_id).join(
            models, models.c.id == model_versions.c.model_id
        )
    )


def record_gate_result(
    db: Database,
    actor: str,
    ref: ModelRef,
    *,
    verdict: str,
    risk_profile: str,
    checks: list[dict[str, Any]],
    reasons: list[str],
    evaluation_id: int | None,
    cause: str = "",
) -> None:
    """Store a gate verdict; its audit entry names the champion the evaluation compared the
    version with, and ``cause`` says why the gates ran (e.g. the champion changed)."""
    if verdict not in ("blessed", "rejected"):
        raise InvalidInput("verdict", f"{verdict!r} is not 'blessed' or 'rejected'")
    with db.write() as conn:
        version = resolve_in(conn, ref)
        model_id = model_id_of(conn, version.name)
        conn.execute(
            gate_results.insert().values(
                version_id=version_id_of(conn, model_id, version.name, version.version),
                evaluation_id=evaluation_id,
                verdict=verdict,
                risk_profile=risk_profile,
                checks=checks,
                reasons=reasons,
                author=actor,
                created_at=utcnow(),
            )
        )
        audit.append(
            conn,
            actor,
            f"gate.{verdict}",
            f"model:{version.ref}",
            {
                "risk_profile": risk_profile,
                "reasons": reasons,
                "evaluation": evaluation_id,
                "champion": _compared_in(conn, evaluation_id),
                "checks": len(checks),
                "failed": sum(1 for c in checks if not c.get("passed")),
                **({"cause": cause} if cause else {}),
            },
        )


def _compared_in(conn: Connection, evaluation_id: int | None) -> str | None:
    """``NAME/VERSION`` of the champion an evaluation compared with, or None."""
    if evaluation_id is None:
        return None
    row = conn.execute(
        sa.select(models.c.name, model_versions.c.version)
        .select_from(evaluations)
        .join(model_versions, model_versions.c.id == evaluations.c.champion_version_id)
        .join(models, models.c.id == model_versions.c.model_id)
        .where(evaluations.c.id == evaluation_id)
    ).first()
    return None if row is None else f"{row.name}/{row.version}"


def _gate_query() -> sa.Select[Any]:
    """Gate results with ``champion_version``: the number of the version their evaluation
    compared the candidate with (None: no champion existed, or no evaluation is linked)."""
    compared = model_versions.alias("compared")
    return (
        sa.select(gate_results, compared.c.version.label("champion_version"))
        .select_from(gate_results)
        .outerjoin(evaluations, evaluations.c.id == gate_results.c.evaluation_id)
        .outerjoin(compared, compared.c.id == evaluations.c.champion_version_id)
    )


def latest_gate_in(conn: Connection, version_id: int) -> GateRecord | None:
    """The version's newest gate result, with the champion it was compared with."""
    row = conn.execute(
        _gate_query()
        .where(gate_results.c.version_id == version_id)
        .order_by(gate_results.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else GateRecord.of(row)


def gate_history(db: Database, ref: ModelRef) -> list[GateRecord]:
    """The version's gate verdicts, oldest first."""
    with db.read() as conn:
        version = resolve_in(conn, ref)
        version_id = version_id_of(
            conn, model_id_of(conn, version.name), version.name, version.version
        )
        rows = conn.execute(
            _gate_query().where(gate_results.c.version_id == version_id).order_by(gate_results.c.id)
        ).all()
    return [GateRecord.of(r) for r in rows]


def approve(db: Database, actor: str, ref: ModelRef, reason: str) -> None:
    """A person's recorded approval of a version for promotion (the high profile may require it)."""
    if not reason or not reason.strip():
        raise InvalidInput("reason", "an approval needs a reason")
    with db.write() as conn:
        version = resolve_in(conn, ref)
        version_id = version_id_of(
            conn, model_id_of(conn, version.name), version.name, version.version
        )
        conn.execute(
            approvals.insert().values(
                version_id=version_id, approver=actor, reason=reason, created_at=utcnow()
            )
        )
        audit.append(conn, actor, "version.approve", f"model:{version.ref}", {"reason": reason})


def approvals_in(conn: Connection, version_id: int) -> list[ApprovalRecord]:
    """The approvals recorded for a version, oldest first."""
    rows = conn.execute(
        sa.select(approvals).where(approvals.c.version_id == version_id).order_by(approvals.c.id)
    ).all()
    return [ApprovalRecord.of(r) for r in rows]
