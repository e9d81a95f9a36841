"""``keel audit verify``: prove the store's state from its audit trail, not only the chain.

Four checks, each turning what it finds into :class:`AuditFinding` rows:

1. the hash chain and its head (``audit.verify_in``);
2. the head against the newest keyed checkpoint (``audit_checkpoint``): a head older than it, or
   a trail that no longer passes through it, means entries were cut off or rewritten;
3. the state tables against the replayed trail (``audit_replay``);
4. every artifact a version names exists and hashes to its name (on by default while the
   artifacts total less than ``AUTO_ARTIFACT_BYTES``).

The checkpoint is read before the database snapshot is taken: it is only ever written after a
commit, so read in that order it can lag the snapshot but never run ahead of it.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel.domain.audit import AuditFinding, AuditVerification
from keel.errors import InvalidInput, NotFound
from keel.registry import audit
from keel.registry.audit_checkpoint import Checkpoint, CheckpointInvalid, Checkpoints
from keel.registry.audit_replay import Artifacts, Replay, compare
from keel.store.artifacts import ArtifactStore
from keel.store.database import Database
from keel.store.schema import audit_head, audit_log

#: hash every artifact by default below this total size (10 GB); above it, only when asked
AUTO_ARTIFACT_BYTES = 10 * 1000**3

#: called with (bytes hashed so far, bytes to hash in all)
Progress = Callable[[int, int], None]


def verify(
    db: Database,
    artifacts: ArtifactStore,
    checkpoints: Checkpoints | None,
    *,
    check_artifacts: bool | None = None,
    progress: Progress | None = None,
    batch: int = 5000,
) -> AuditVerification:
    """Run every check; ``check_artifacts`` None means "when they total under 10 GB"."""
    findings: list[AuditFinding] = []
    notes: list[str] = []
    checkpoint = _read_checkpoint(checkpoints, findings, notes)
    replay = Replay()
    with db.read() as conn:
        chain = audit.verify_in(conn, batch, observe=replay.apply)
        if checkpoint is not None and checkpoints is not None:
            findings += _against_checkpoint(conn, checkpoint, str(checkpoints.path))
        differences, named = compare(conn, replay, batch)
        findings += differences
    checked = None
    total = named.total_bytes
    if check_artifacts is None and total > AUTO_ARTIFACT_BYTES:
        notes.append(
            f"artifact files not hashed: they total {total / 1000**3:.1f} GB (over "
            f"{AUTO_ARTIFACT_BYTES // 1000**3} GB); pass --artifacts to include them"
        )
    elif check_artifacts is False:
        notes.append("artifact files not hashed (--no-artifacts)")
    else:
        findings += _check_artifacts(artifacts, named, progress)
        checked = len(named.named)
    return AuditVerification(
        chain,
        tuple(findings),
        checkpoint_seq=None if checkpoint is None else checkpoint.seq,
        artifacts_checked=checked,
        notes=tuple(notes),
    )


def _read_checkpoint(
    checkpoints: Checkpoints | None, findings: list[AuditFinding], notes: list[str]
) -> Checkpoint | None:
    if checkpoints is None:
        notes.append("no checkpoint: the store lives in memory")
        return None
    try:
        found = checkpoints.read()
    except CheckpointInvalid as exc:
        findings.append(
            AuditFinding(
                "audit checkpoint",
                str(checkpoints.path),
                f"a checkpoint that cannot be trusted: {exc}",
                "a checkpoint sealed with this store's audit key",
            )
        )
        return None
    if found is None:
        notes.append(f"no checkpoint of this store yet ({checkpoints.path})")
    return found


def _against_checkpoint(conn: Connection, checkpoint: Checkpoint, where: str) -> list[AuditFinding]:
    head = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash)).one()
    if head.seq < checkpoint.seq:
        return [
            AuditFinding(
                "audit_head",
                "id 1",
                f"a head at seq {head.seq}",
                f"a head at seq {checkpoint.seq} or later (keyed checkpoint {where}): entries "
                f"after {head.seq} were removed and the head rolled back",
            )
        ]
    stored = conn.execute(
        sa.select(audit_log.c.hash).where(audit_log.c.seq == checkpoint.seq)
    ).scalar()
    if stored != checkpoint.hash:
        return [
            AuditFinding(
                "audit_log",
                f"seq {checkpoint.seq}",
                "no entry" if stored is None else f"an entry with hash {stored[:12]}",
                f"the entry with hash {checkpoint.hash[:12]} (keyed checkpoint {where}): the "
                "trail was rewritten up to there",
            )
        ]
    return []


def _check_artifacts(
    store: ArtifactStore, named: Artifacts, progress: Progress | None
) -> list[AuditFinding]:
    findings = []
    total = named.total_bytes
    done = 0

    def read(size: int) -> None:
        nonlocal done
        done += size
        if progress is not None:
            progress(min(done, total), total)

    if progress is not None:
        progress(0, total)
    for sha256, (size, refs) in sorted(named.named.items()):
        row = f"{sha256[:12]} (of {', '.join(refs)})"
        before = done
        try:
            actual = store.digest(sha256, read)
        except NotFound:
            findings.append(AuditFinding("artifacts", row, "no file", _expected(store, sha256)))
            actual = sha256
        except InvalidInput:
            findings.append(AuditFinding("artifacts", row, "a name that is not a SHA-256", "one"))
            actual = sha256
        if actual != sha256:
            findings.append(
                AuditFinding(
                    "artifacts",
                    row,
                    f"a file whose SHA-256 is {actual[:12]}",
                    _expected(store, sha256),
                )
            )
        done = before + size  # a corrupted file may be shorter or longer than recorded
        if progress is not None:
            progress(min(done, total), total)
    return findings


def _expected(store: ArtifactStore, sha256: str) -> str:
    return f"a file at {store.location(sha256)} whose SHA-256 is its name"
