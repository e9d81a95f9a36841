"""Listings: every model with its aliases, and a model's versions as summaries, filtered
(``"metrics.auc > 0.8 and tags.team = 'risk'"``), ordered and paged, fast enough for tens of
thousands of versions; ``keel.registry.models.resolve`` reads one version in full."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel.domain.entities import Model, ModelVersion
from keel.domain.filters import Clause, parse_filter
from keel.domain.names import MAX_VERSION, validate_name
from keel.errors import InvalidInput
from keel.registry.models import model_id_of
from keel.store.database import Database
from keel.store.schema import aliases, model_versions, models, snapshots

__all__ = ["list_models", "list_versions"]


def list_models(db: Database) -> list[Model]:
    with db.read() as conn:
        rows = conn.execute(sa.select(models).order_by(models.c.name)).all()
        alias_rows = conn.execute(
            sa.select(aliases.c.model_id, aliases.c.alias, model_versions.c.version).join(
                model_versions, model_versions.c.id == aliases.c.version_id
            )
        ).all()
    by_model: dict[int, dict[str, int]] = {}
    for a in alias_rows:
        by_model.setdefault(a.model_id, {})[a.alias] = a.version
    return [
        Model(
            name=r.name,
            created_at=r.created_at,
            description=r.description,
            tags=r.tags,
            latest_version=r.latest_version or None,
            aliases=dict(sorted(by_model.get(r.id, {}).items())),
        )
        for r in rows
    ]


def _numeric_value(field: str, key: str, dialect: str) -> Any:
    """A JSON map's value as a number, or NULL where it holds something else (a parameter can be
    a number in one version and text in another; PostgreSQL would refuse to cast the text)."""
    element = model_versions.c[field][key]
    if dialect == "postgresql":
        is_number = sa.func.json_typeof(element) == "number"
    else:
        path = '$."' + key + '"'
        is_number = sa.func.json_type(model_versions.c[field], path).in_(["integer", "real"])
    return sa.case((is_number, element.as_float()), else_=None)


def _clause_condition(clause: Clause, dialect: str) -> sa.ColumnElement[bool]:
    column: Any
    if clause.key is None:
        column = model_versions.c[clause.field]
    elif isinstance(clause.value, float) and clause.field != "tags":
        column = _numeric_value(clause.field, clause.key, dialect)
    else:
        column = model_versions.c[clause.field][clause.key].as_string()
    value: Any = clause.value
    if clause.field == "tags" and isinstance(value, float):
        # tags are stored as text: "tags.n = 3" means the tag "3", on every back end alike
        value = str(int(value)) if value.is_integer() else repr(value)
    if clause.field == "version" and isinstance(value, float):
        if value.is_integer() and abs(value) <= MAX_VERSION:
            value = int(value)
        else:  # "version < 1.5" or "version < 1e30": compare numbers, never truncate the value
            column = sa.cast(column, sa.Float)
    operators = {
        "=": column.__eq__,
        "!=": column.__ne__,
        "<": column.__lt__,
        "<=": column.__le__,
        ">": column.__gt__,
        ">=": column.__ge__,
    }
    condition: sa.ColumnElement[bool] = operators[clause.op](value)
    return condition


def list_versions(
    db: Database,
    name: str,
    *,
    filter: str = "",
    status: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    newest_first: bool = True,
) -> list[ModelVersion]:
    """Summaries of a model's versions, fast enough for tens of thousands.

    Summaries leave out the detail fields (params, signature, environment, code version,
    description); ``resolve`` (``Client.get_version``) returns the full record.
    """
    validate_name(name, "model")
    if limit is not None and limit < 0:
        raise InvalidInput("limit", "limit must not be negative")
    if offset < 0:
        raise InvalidInput("offset", "offset must not be negative")
    with db.read() as conn:
        model_id = model_id_of(conn, name)
        query = sa.select(*_summary_columns()).where(model_versions.c.model_id == model_id)
        for clause in parse_filter(filter):
            query = query.where(_clause_condition(clause, db.dialect))
        if status:
            query = query.where(model_versions.c.status == status)
        order = model_versions.c.version.desc() if newest_first else model_versions.c.version
        query = query.order_by(order).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        rows = conn.execute(query).all()
        snapshot_refs = _snapshot_refs(conn, {r[-2] for r in rows if r[-2] is not None})
        numbers = {r[0]: r[2] for r in rows}
        missing = {r[-1] for r in rows if r[-1] is not None and r[-1] not in numbers}
        if missing:
            found = conn.execute(
                sa.select(model_versions.c.id, model_versions.c.version).where(
                    model_versions.c.id.in_(missing)
                )
            )
            numbers.update((row[0], row[1]) for row in found)
    return [
        ModelVersion.from_store(
            name=name,
            version=r[2],
            artifact_sha256=r[3],
            format=r[4],
            model_class=r[5],
            created_at=_timestamp(r[6]),
            author=r[7],
            status=r[1],
            size_bytes=r[8],
            description="",
            signature=None,
            params={},
            metrics=_json(r[9]),
            tags=_json(r[10]),
            training_snapshot=snapshot_refs.get(r[-2]),
            run_id=r[11],
            parent_version=numbers.get(r[-1]),
            code_version={},
            environment={},
            trust=None,
        )
        for r in rows
    ]


def _summary_columns() -> list[Any]:
    """The listing's columns; timestamps and JSON come back as the driver gives them (text on
    SQLite), converted by ``_timestamp`` and ``_json``, which are several times faster than the
    generic result processing on tens of thousands of rows."""
    raw = {"created_at": sa.String, "metrics": sa.String, "tags": sa.String}
    return [
        sa.type_coerce(model_versions.c[c], raw[c]).label(c) if c in raw else model_versions.c[c]
        for c in _SUMMARY_COLUMNS
    ]


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)  # SQLite keeps UTC without a zone


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


#: what a listing reads, in the order ``list_versions`` unpacks it (no joins: refs are mapped after)
_SUMMARY_COLUMNS = (
    "id",
    "status",
    "version",
    "artifact_sha256",
    "format",
    "model_class",
    "created_at",
    "author",
    "size_bytes",
    "metrics",
    "tags",
    "run_id",
    "training_snapshot_id",
    "parent_id",
)


def _snapshot_refs(conn: Connection, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = conn.execute(
        sa.select(snapshots.c.id, snapshots.c.name, snapshots.c.version).where(
            snapshots.c.id.in_(ids)
        )
    )
    return {row.id: f"{row.name}/{row.version}" for row in rows}
