"""Aliases (``champion``, ``challenger``, any name) and their history.

Moving an alias is one transaction that updates the alias, appends a history row and an audit
entry, so "which version was champion, from when to when, moved by whom and why" is answered by
the history alone.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel.domain.entities import AliasMove, AliasPeriod, ModelVersion
from keel.domain.names import CHAMPION, ModelRef, validate_alias, validate_name, validate_version
from keel.errors import Conflict, GateFailed, InvalidInput, NotFound
from keel.registry import audit
from keel.registry.clock import utcnow
from keel.registry.models import model_id_of, resolve_in, version_id_of
from keel.registry.promotion import promotion_check_in
from keel.registry.retry import retry_on_conflict
from keel.store.database import Database
from keel.store.schema import alias_history, aliases, model_versions, models

#: the alias whose moves the model's policy guards


def set_alias(
    db: Database,
    actor: str,
    name: str,
    alias: str,
    version: int,
    reason: str = "",
    *,
    force: bool = False,
) -> ModelVersion:
    """Point ``alias`` at ``version``; a no-op (and no history row) when it already does.

    Moving ``champion`` under a policy that requires blessing fails with GateFailed unless the
    version's latest gate verdict is "blessed" (and, if required, it has an approval), or
    ``force`` is given with a reason; a forced move is audited as an override.
    """
    validate_name(name, "model")
    validate_alias(alias)
    number = validate_version(version)

    def move() -> ModelVersion:
        with db.write() as conn:
            model_id = model_id_of(conn, name)
            target = resolve_in(conn, ModelRef(name, version=number))
            if target.status != "ready":
                raise Conflict(
                    f"{target.ref} is {target.status} and cannot take an alias",
                    status=target.status,
                )
            target_id = version_id_of(conn, model_id, name, number)
            current = conn.execute(
                sa.select(aliases.c.version_id)
                .where(aliases.c.model_id == model_id, aliases.c.alias == alias)
                .with_for_update()
            ).scalar()
            if current == target_id:
                return target
            overridden = _check_promotion(conn, name, alias, number, force, reason)
            if overridden:
                audit.append(
                    conn,
                    actor,
                    "gate.override",
                    f"model:{name}/{number}",
                    {"alias": alias, "problems": overridden, "reason": reason},
                )
            now = utcnow()
            if current is None:
                conn.execute(
                    aliases.insert().values(
                        model_id=model_id, alias=alias, version_id=target_id, updated_at=now
                    )
                )
            else:
                conn.execute(
                    aliases.update()
                    .where(aliases.c.model_id == model_id, aliases.c.alias == alias)
                    .values(version_id=target_id, updated_at=now)
                )
            _record(conn, model_id, alias, target_id, current, actor, reason)
            previous = _number_of(conn, current)
            audit.append(
                conn,
                actor,
                "alias.set",
                f"model:{name}",
                {
                    "alias": alias,
                    "version": number,
                    "previous": previous,
                    "reason": reason,
                    "forced": bool(overridden),
                },
            )
            return target

    return retry_on_conflict(move)


def _check_promotion(
    conn: Connection,
    name: str,
    alias: str,
    number: int,
    force: bool,
    reason: str,
) -> list[str]:
    """Why the policy forbids this move (empty: it allows it); raises unless forced.

    The rule is ``keel.registry.promotion``'s, shared with the rollout's up-front check; a
    blessing earned against another champion is refused here with the ``keel gate`` command
    (moving an alias never loads a model; ``keel deploy`` runs the gates again itself)."""
    if alias != CHAMPION:
        return []
    check = promotion_check_in(conn, name, number)
    problems = list(check.problems)
    if not problems:
        return []
    if not force:
        raise GateFailed(
            f"{name}/{number} cannot become {alias} under the {check.risk_profile} risk profile: "
            f"{'; '.join(problems)}. Run `{check.gate_command}`, or force it with a reason",
            model=name,
            version=number,
            risk_profile=check.risk_profile,
            problems=problems,
        )
    if not reason or not reason.strip():
        raise InvalidInput("reason", "forcing a promotion past the policy needs a reason")
    return problems


def delete_alias(db: Database, actor: str, name: str, alias: str, reason: str = "") -> None:
    validate_name(name, "model")
    validate_alias(alias)
    with db.write() as conn:
        model_id = model_id_of(conn, name)
        current = conn.execute(
            sa.select(aliases.c.version_id).where(
                aliases.c.model_id == model_id, aliases.c.alias == alias
            )
        ).scalar()
        if current is None:
            raise NotFound("alias", f"{name}@{alias}")
        conn.execute(
            aliases.delete().where(aliases.c.model_id == model_id, aliases.c.alias == alias)
        )
        _record(conn, model_id, alias, None, current, actor, reason)
        audit.append(
            conn,
            actor,
            "alias.delete",
            f"model:{name}",
            {"alias": alias, "previous": _number_of(conn, current), "reason": reason},
        )


def _record(
    conn: Connection,
    model_id: int,
    alias: str,
    version_id: int | None,
    previous_id: int | None,
    actor: str,
    reason: str,
) -> None:
    conn.execute(
        alias_history.insert().values(
            model_id=model_id,
            alias=alias,
            version_id=version_id,
            previous_version_id=previous_id,
            moved_at=utcnow(),
            moved_by=actor,
            reason=reason or "",
        )
    )


def _number_of(conn: Connection, version_id: int | None) -> int | None:
    if version_id is None:
        return None
    found = conn.execute(
        sa.select(model_versions.c.version).where(model_versions.c.id == version_id)
    ).scalar()
    return None if found is None else int(found)


def history(db: Database, name: str, alias: str | None = None) -> list[AliasMove]:
    """Every move of the model's aliases, oldest first."""
    validate_name(name, "model")
    new = model_versions.alias("new")
    old = model_versions.alias("old")
    query = (
        sa.select(
            alias_history.c.alias,
            new.c.version.label("version"),
            old.c.version.label("previous"),
            alias_history.c.moved_at,
            alias_history.c.moved_by,
            alias_history.c.reason,
        )
        .join(models, models.c.id == alias_history.c.model_id)
        .outerjoin(new, new.c.id == alias_history.c.version_id)
        .outerjoin(old, old.c.id == alias_history.c.previous_version_id)
        .where(models.c.name == name)
        .order_by(alias_history.c.id)
    )
    if alias is not None:
        query = query.where(alias_history.c.alias == validate_alias(alias))
    with db.read() as conn:
        rows = conn.execute(query).all()
        if not rows:
            model_id_of(conn, name)
    return [
        AliasMove(name, r.alias, r.version, r.previous, r.moved_at, r.moved_by, r.reason)
        for r in rows
    ]


def periods(moves: list[AliasMove]) -> list[AliasPeriod]:
    """Turn moves (oldest first) into the periods during which each alias held a version."""
    out: list[AliasPeriod] = []
    open_periods: dict[str, AliasMove] = {}
    for move in moves:
        started = open_periods.pop(move.alias, None)
        if started is not None and started.version is not None:
            out.append(_period(started, move.moved_at))
        if move.version is not None:
            open_periods[move.alias] = move
    out.extend(_period(m, None) for m in open_periods.values() if m.version is not None)
    out.sort(key=lambda p: (p.start, p.alias))
    return out


def _period(move: AliasMove, end: Any) -> AliasPeriod:
    assert move.version is not None
    return AliasPeriod(move.alias, move.version, move.moved_at, end, move.moved_by, move.reason)
