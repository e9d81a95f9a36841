"""Data snapshots: a DataFrame, Parquet or CSV stored once and named by its content.

The identity of a snapshot is the SHA-256 over its column names, dtypes and values (not over the
Parquet bytes, which depend on the writer's version), so the same data registered twice under one
name is the same snapshot. The row index is not part of the data.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from keel.domain.audit import canonical_json
from keel.domain.entities import Snapshot
from keel.domain.names import parse_snapshot_ref, validate_name
from keel.errors import InvalidInput, NotFound
from keel.registry import audit
from keel.registry.clock import utcnow
from keel.registry.profiling import profile_frame, schema_of
from keel.registry.retry import retry_on_conflict
from keel.registry.values import clean_tags
from keel.store.artifacts import ArtifactStore
from keel.store.database import Database
from keel.store.schema import snapshots

DataLike = pd.DataFrame | str | Path


def read_data(data: DataLike, field: str = "data") -> tuple[pd.DataFrame, str]:
    """A DataFrame and a description of where it came from."""
    if isinstance(data, pd.DataFrame):
        return data, "dataframe"
    if not isinstance(data, str | Path):
        raise InvalidInput(
            field, f"expected a DataFrame or a .parquet/.csv path, got {type(data).__name__}"
        )
    text = str(data)
    suffix = text.lower().rsplit(".", 1)[-1] if "." in text else ""
    try:
        if suffix in ("parquet", "pq"):
            return pd.read_parquet(text), text
        if suffix == "csv" or text.lower().endswith((".csv.gz", ".csv.zip")):
            return pd.read_csv(text), text
    except FileNotFoundError as exc:
        raise NotFound("file", text) from exc
    except (ValueError, OSError) as exc:
        raise InvalidInput(field, f"cannot read {text}: {exc}") from exc
    raise InvalidInput(field, f"{text}: only .parquet and .csv files can be registered")


def _prepare(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.columns.duplicated().any():
        dupes = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise InvalidInput("data", f"duplicate column names: {', '.join(dupes)}")
    if len(frame.columns) == 0:
        raise InvalidInput("data", "the data has no columns")
    out = frame.reset_index(drop=True)
    out.columns = [str(c) for c in out.columns]
    return out


def content_hash(frame: pd.DataFrame) -> str:
    """SHA-256 over the schema and the values of every column, in order."""
    digest = hashlib.sha256(canonical_json(schema_of(frame)).encode())
    digest.update(len(frame).to_bytes(8, "little"))
    for name in frame.columns:
        try:
            hashed = pd.util.hash_pandas_object(frame[name], index=False, categorize=True)
        except TypeError as exc:
            raise InvalidInput(f"data.{name}", f"values cannot be stored: {exc}") from exc
        digest.update(hashed.to_numpy().tobytes())
    return digest.hexdigest()


def _to_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    try:
        frame.to_parquet(buffer, index=False)
    except (ValueError, TypeError, ImportError) as exc:
        raise InvalidInput("data", f"cannot be stored as Parquet: {exc}") from exc
    return buffer.getvalue()


def register(
    db: Database,
    artifacts: ArtifactStore,
    actor: str,
    data: DataLike,
    name: str,
    *,
    description: str = "",
    tags: dict[str, str] | None = None,
) -> Snapshot:
    validate_name(name)
    clean = clean_tags(tags)
    raw, source = read_data(data)
    frame = _prepare(raw)
    sha = content_hash(frame)
    existing = _find(db, name, sha)
    if existing is not None:
        return existing
    artifact_sha = artifacts.put(_to_parquet(frame))
    profile = profile_frame(frame)
    schema = schema_of(frame)

    def insert() -> Snapshot:
        with db.write() as conn:
            row = conn.execute(
                sa.select(snapshots).where(snapshots.c.name == name, snapshots.c.sha256 == sha)
            ).first()
            if row is not None:
                return _to_snapshot(row)
            version = (
                conn.execute(
                    sa.select(sa.func.max(snapshots.c.version)).where(snapshots.c.name == name)
                ).scalar()
                or 0
            ) + 1
            values: dict[str, Any] = dict(
                name=name,
                version=version,
                sha256=sha,
                artifact_sha256=artifact_sha,
                rows=len(frame),
                columns=len(frame.columns),
                schema=schema,
                profile=profile,
                source=source,
                description=description,
                tags=clean,
                author=actor,
                created_at=utcnow(),
            )
            conn.execute(snapshots.insert().values(**values))
            audit.append(
                conn,
                actor,
                "snapshot.register",
                f"dataset:{name}/{version}",
                {
                    "sha256": sha,
                    "rows": len(frame),
                    "columns": len(frame.columns),
                    "source": source,
                },
            )
            return Snapshot(**values)

    return retry_on_conflict(insert)


def _find(db: Database, name: str, sha: str) -> Snapshot | None:
    with db.read() as conn:
        row = conn.execute(
            sa.select(snapshots).where(snapshots.c.name == name, snapshots.c.sha256 == sha)
        ).first()
    return None if row is None else _to_snapshot(row)


def _to_snapshot(row: Any) -> Snapshot:
    data = dict(row._mapping)
    data.pop("id")
    return Snapshot(**data)


def get(db: Database, ref: str) -> Snapshot:
    parsed = parse_snapshot_ref(ref)
    query = sa.select(snapshots)
    if parsed.sha256_prefix:
        query = query.where(snapshots.c.sha256.startswith(parsed.sha256_prefix))
    else:
        query = query.where(snapshots.c.name == parsed.name)
        if parsed.version is not None:
            query = query.where(snapshots.c.version == parsed.version)
    query = query.order_by(snapshots.c.id.desc()).limit(2)
    with db.read() as conn:
        rows = conn.execute(query).all()
    if not rows:
        raise NotFound("snapshot", ref, hint="list snapshots with `keel datasets list`")
    if parsed.sha256_prefix and len(rows) > 1 and rows[0].sha256 != rows[1].sha256:
        raise InvalidInput("snapshot", f"{ref!r} matches several snapshots; give more hex digits")
    return _to_snapshot(rows[0])


def get_by_id(conn: Any, snapshot_id: int) -> Snapshot:
    row = conn.execute(sa.select(snapshots).where(snapshots.c.id == snapshot_id)).one()
    return _to_snapshot(row)


def id_of(conn: Any, snapshot: Snapshot) -> int:
    found = conn.execute(
        sa.select(snapshots.c.id).where(
            snapshots.c.name == snapshot.name, snapshots.c.version == snapshot.version
        )
    ).scalar()
    if found is None:
        raise NotFound("snapshot", snapshot.ref)
    return int(found)


def list_all(db: Database, name: str | None = None, limit: int | None = None) -> list[Snapshot]:
    query = sa.select(snapshots).order_by(snapshots.c.name, snapshots.c.version.desc())
    if name:
        query = query.where(snapshots.c.name == name)
    if limit:
        query = query.limit(limit)
    with db.read() as conn:
        return [_to_snapshot(r) for r in conn.execute(query)]


def load_frame(artifacts: ArtifactStore, snapshot: Snapshot) -> pd.DataFrame:
    """The snapshot's data, verified against its artifact hash."""
    return pd.read_parquet(io.BytesIO(artifacts.get(snapshot.artifact_sha256)))
