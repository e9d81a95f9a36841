"""Model versions: immutable, numbered 1, 2, 3... per model, with everything that made them.

The version number comes from a counter on the model row, bumped in the same transaction that
inserts the version, so concurrent registrations from many processes get distinct consecutive
numbers and a process killed mid-way leaves nothing visible (its artifact is an unreferenced
content-addressed file: harmless, though skops writes a timestamp into every archive, so the
same scikit-learn model saved twice gives two files rather than one).

A version a retrain registers carries the retrain's id (``retrain_id``), unique in the store: a
second registration for the same retrain is refused with Conflict (naming the version it has,
or, in a race two transactions both enter, from the unique index itself), so a retrain never
makes two versions, whichever of its controllers resumes after a pause.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel.domain.entities import ModelVersion, Snapshot
from keel.domain.names import CHAMPION, ModelRef, validate_name, validate_version
from keel.domain.numbers import MAX_STORED_INT
from keel.domain.signature import Signature
from keel.domain.trust import TrustRecord, TrustRequest
from keel.errors import Conflict, InvalidInput, NotFound
from keel.registry import audit, serialization, version_metrics
from keel.registry import snapshots as snapshot_store
from keel.registry import trust as trust_store
from keel.registry.clock import utcnow
from keel.registry.environment import code_version, environment
from keel.registry.values import clean_metrics, clean_params, clean_tags, model_params
from keel.store.artifacts import ArtifactStore, sha256_hex
from keel.store.database import Database, insert_ignore
from keel.store.schema import aliases, model_versions, models, snapshots

_parent = model_versions.alias("parent")

#: columns left out of listings (large, read with get_version)
_DETAIL_COLUMNS = frozenset(
    {"signature", "environment", "code_version", "params", "description", "trust"}
)


def version_query(detail: bool = True) -> sa.Select[Any]:
    columns = [c for c in model_versions.c if detail or c.name not in _DETAIL_COLUMNS]
    return sa.select(
        *columns,
        models.c.name.label("model_name"),
        snapshots.c.name.label("snapshot_name"),
        snapshots.c.version.label("snapshot_version"),
        _parent.c.version.label("parent_number"),
    ).select_from(
        model_versions.join(models, models.c.id == model_versions.c.model_id)
        .outerjoin(snapshots, snapshots.c.id == model_versions.c.training_snapshot_id)
        .outerjoin(_parent, _parent.c.id == model_versions.c.parent_id)
    )


def row_to_version(row: Any) -> ModelVersion:
    m = row._mapping
    present = m.keys()
    detail = "signature" in present  # listings leave the detail columns out
    snapshot = f"{m['snapshot_name']}/{m['snapshot_version']}" if m["snapshot_name"] else None
    return ModelVersion(
        name=m["model_name"],
        version=m["version"],
        artifact_sha256=m["artifact_sha256"],
        format=m["format"],
        model_class=m["model_class"],
        created_at=m["created_at"],
        author=m["author"],
        status=m["status"],
        size_bytes=m["size_bytes"],
        description=m["description"] if detail else "",
        signature=_stored_signature(m["signature"]) if detail else None,
        params=m["params"] if detail else {},
        metrics=m["metrics"],
        tags=m["tags"],
        training_snapshot=snapshot,
        run_id=m["run_id"],
        parent_version=m["parent_number"],
        code_version=(m["code_version"] or {}) if detail else {},
        environment=(m["environment"] or {}) if detail else {},
        trust=m["trust"] if detail else None,
    )


def _stored_signature(stored: dict[str, Any] | None) -> Signature | None:
    """The typed signature of a version row (None when it was registered without one); older
    stored forms load too (``keel.domain.signature``)."""
    return Signature.from_dict(stored) if stored else None


def known_models(db: Database, names: Any, field: str = "models") -> list[str]:
    """``names`` checked: a list of model names, each registered (NotFound names the first
    that is not), so a command about named models never quietly does nothing."""
    if isinstance(names, str) or not isinstance(names, list | tuple):
        raise InvalidInput(field, "a list of model names, e.g. ['fraud']")
    for name in names:
        validate_name(name, "model")
    with db.read() as conn:
        for name in names:
            model_id_of(conn, name)
    return list(names)


def positive_limit(limit: Any, field: str = "limit") -> int:
    """A listing's ``limit``: a whole number from 1 up to what the store can count."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_STORED_INT:
        raise InvalidInput(
            field, f"must be a whole number of at least 1 (at most 2**63 - 1), not {limit!r}"
        )
    return limit


def model_id_of(conn: Connection, name: str) -> int:
    found = conn.execute(sa.select(models.c.id).where(models.c.name == name)).scalar()
    if found is None:
        raise NotFound("model", name, hint="list models with `keel models list`")
    return int(found)


def register(
    db: Database,
    artifacts: ArtifactStore,
    actor: str,
    name: str,
    model: Any,
    *,
    training_snapshot: Snapshot | None = None,
    signature: Signature | None = None,
    params: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    tags: dict[str, Any] | None = None,
    description: str = "",
    parent: int | None = None,
    retrain_id: int | None = None,
    run_id: str | None = None,
    format: str | None = None,
    trust: TrustRequest | TrustRecord | None = None,
) -> ModelVersion:
    """Store ``model`` as the next version of ``name``.

    An artifact that needs more than the default trusted types (or runs code, as cloudpickle
    does) is refused unless ``trust`` covers it; the decision is stored with the version and in
    the audit trail (see ``keel.registry.trust``)."""
    validate_name(name)
    serialization.check_model(model)
    clean = {
        "params": clean_params(params) if params is not None else model_params(model),
        "metrics": {**_run_metrics(db, run_id), **clean_metrics(metrics)},
        "tags": clean_tags(tags),
    }
    parent_number = validate_version(parent, "parent") if parent is not None else None
    data, chosen_format = serialization.dump(model, format)
    if signature is not None and not signature.outputs:
        flavour = serialization.flavour_of(model, chosen_format)
        signature = replace(signature, outputs=flavour.outputs(model))
    sha = sha256_hex(data)
    record = trust_store.decide(data, chosen_format, sha256=sha, trust=trust, actor=actor)
    artifacts.put(data)
    row: dict[str, Any] = dict(
        status="ready",
        artifact_sha256=sha,
        format=chosen_format,
        model_class=serialization.model_class(model),
        size_bytes=len(data),
        description=description or "",
        signature=signature.to_dict() if signature is not None else None,
        author=actor,
        run_id=run_id,
        retrain_id=_retrain_key(retrain_id),
        code_version=code_version(),
        environment=environment(),
        trust=record.to_dict() if record is not None else None,
        **clean,
    )
    with db.write() as conn:
        now = utcnow()
        insert_ignore(
            conn,
            models,
            {"name": name, "description": "", "tags": {}, "created_at": now, "latest_version": 0},
            ["name"],
        )
        model_id = model_id_of(conn, name)
        number = conn.execute(
            models.update()
            .where(models.c.id == model_id)
            .values(latest_version=models.c.latest_version + 1)
            .returning(models.c.latest_version)
        ).scalar_one()
        row["model_id"] = model_id
        row["version"] = number
        row["created_at"] = now
        if training_snapshot is not None:
            row["training_snapshot_id"] = snapshot_store.id_of(conn, training_snapshot)
        if parent_number is not None:
            row["parent_id"] = version_id_of(conn, model_id, name, parent_number)
        if retrain_id is not None:
            _refuse_second_version(conn, retrain_id)
        conn.execute(model_versions.insert().values(**row))
        audit.append(
            conn,
            actor,
            "version.register",
            f"model:{name}/{number}",
            {
                "sha256": sha,
                "format": chosen_format,
                "model_class": row["model_class"],
                "training_snapshot": training_snapshot.ref if training_snapshot else None,
                "run_id": run_id,
                "parent": parent_number,
                "commit": row["code_version"].get("commit"),
                "trust": row["trust"],
                # the replay checks the stored metrics; later run values follow only the
                # keys register was not given (see keel.registry.version_metrics)
                "metrics": clean["metrics"],
                "metrics_given": sorted(clean_metrics(metrics)),
            },
        )
        result = conn.execute(
            version_query().where(
                model_versions.c.model_id == model_id, model_versions.c.version == number
            )
        ).one()
    version_metrics.note_version(run_id)
    return row_to_version(result)


def version_id_of(conn: Connection, model_id: int, name: str, number: int) -> int:
    found = conn.execute(
        sa.select(model_versions.c.id).where(
            model_versions.c.model_id == model_id, model_versions.c.version == number
        )
    ).scalar()
    if found is None:
        raise NotFound("version", f"{name}/{number}")
    return int(found)


def resolve_in(conn: Connection, ref: ModelRef) -> ModelVersion:
    """The version a reference points at: by number, by alias, the newest ready one (``latest``)
    or, for a bare name, the champion (NotFound with a hint when the model has none)."""
    query = version_query().where(models.c.name == ref.name)
    if ref.version is not None:
        query = query.where(model_versions.c.version == ref.version)
    elif ref.latest:
        query = (
            query.where(model_versions.c.status == "ready")
            .order_by(model_versions.c.version.desc())
            .limit(1)
        )
    else:
        query = query.join(
            aliases,
            sa.and_(
                aliases.c.model_id == model_versions.c.model_id,
                aliases.c.version_id == model_versions.c.id,
                aliases.c.alias == (ref.alias or CHAMPION),
            ),
        )
    row = conn.execute(query).first()
    if row is None:
        _explain_missing(conn, ref)
    return row_to_version(row)


def _explain_missing(conn: Connection, ref: ModelRef) -> None:
    model_id_of(conn, ref.name)  # raises NotFound for the model itself
    if ref.version is not None:
        raise NotFound(
            "version", str(ref), hint=f"list versions with `keel versions list {ref.name}`"
        )
    if ref.latest:
        raise NotFound("version", f"{ref.name}@latest", hint="every version is archived")
    if ref.alias is not None:
        raise NotFound(
            "alias",
            f"{ref.name}@{ref.alias}",
            hint=f"set it with `keel alias set {ref.name} {ref.alias} VERSION`",
        )
    raise NotFound(
        "alias",
        f"{ref.name}@{CHAMPION}",
        hint=f"models:/{ref.name} means its champion and it has none: name a version "
        f"(models:/{ref.name}/VERSION) or an alias (models:/{ref.name}@ALIAS, "
        f"models:/{ref.name}@latest for the newest), or set one with "
        f"`keel alias set {ref.name} {CHAMPION} VERSION`",
    )


def _run_metrics(db: Database, run_id: str | None) -> dict[str, Any]:
    """The latest value of each metric the run logged so far: a version registered in a run
    carries them (metrics given to ``register`` win), so ``--filter "metrics.auc > 0.9"`` finds
    it, as MLflow users expect of a logged model."""
    if run_id is None:
        return {}
    from keel.registry import runs

    try:
        return clean_metrics(runs.get(db, run_id).metrics)
    except NotFound:  # a run id from elsewhere (a pipeline's own id): nothing logged here
        return {}


def _retrain_key(retrain_id: Any) -> int | None:
    if retrain_id is None:
        return None
    if isinstance(retrain_id, bool) or not isinstance(retrain_id, int) or retrain_id < 1:
        raise InvalidInput(
            "retrain_id", f"a retrain's id, a whole number of at least 1, not {retrain_id!r}"
        )
    return retrain_id


def _refuse_second_version(conn: Connection, retrain_id: int) -> None:
    found = conn.execute(
        version_query(detail=False).where(model_versions.c.retrain_id == retrain_id)
    ).first()
    if found is not None:
        name, number = found._mapping["model_name"], found._mapping["version"]
        raise Conflict(
            f"retrain #{retrain_id} already registered {name}/{number}; a retrain registers "
            "one version",
            retrain=retrain_id,
            model=name,
            version=number,
        )


def registered_by_retrain(db: Database, retrain_id: int) -> ModelVersion | None:
    """The version retrain ``retrain_id`` registered, if it has (at most one can exist)."""
    with db.read() as conn:
        row = conn.execute(version_query().where(model_versions.c.retrain_id == retrain_id)).first()
    return None if row is None else row_to_version(row)


def resolve(db: Database, ref: ModelRef) -> ModelVersion:
    with db.read() as conn:
        return resolve_in(conn, ref)


def archive(db: Database, actor: str, ref: ModelRef, reason: str) -> ModelVersion:
    """Mark a version archived: it stays loadable for audits but can no longer take an alias."""
    with db.write() as conn:
        version = resolve_in(conn, ref)
        in_use = (
            conn.execute(
                sa.select(aliases.c.alias)
                .join(model_versions, model_versions.c.id == aliases.c.version_id)
                .join(models, models.c.id == model_versions.c.model_id)
                .where(models.c.name == version.name, model_versions.c.version == version.version)
            )
            .scalars()
            .all()
        )
        if in_use:
            raise Conflict(
                f"{version.ref} still holds the alias(es) {', '.join(in_use)}; move them first",
                aliases=list(in_use),
            )
        if version.status == "archived":
            return version
        model_id = model_id_of(conn, version.name)
        conn.execute(
            model_versions.update()
            .where(
                model_versions.c.model_id == model_id, model_versions.c.version == version.version
            )
            .values(status="archived")
        )
        audit.append(conn, actor, "version.archive", f"model:{version.ref}", {"reason": reason})
        return row_to_version(
            conn.execute(
                version_query().where(
                    model_versions.c.model_id == model_id,
                    model_versions.c.version == version.version,
                )
            ).one()
        )
