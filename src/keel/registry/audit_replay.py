"""Replaying the audit trail into the state it says the store holds, then holding the tables to it.

The chain proves the trail was not edited; this proves the tables were not edited behind it.
Every state change appends an entry in the same transaction as the change, with the details
needed to redo it, so replaying the entries in order rebuilds:

- ``aliases``: ``alias.set`` / ``alias.delete`` (model, alias -> version number);
- ``model_versions``: ``version.register`` (artifact hash, format, trust record, metrics),
  ``version.trust`` (a new trust record), ``version.archive`` (status) and ``version.metrics``
  (a run's values that followed onto the version); metrics are held to the trail only for
  versions whose registration recorded them;
- ``deployments``: ``deployment.start`` and every move (``deployment.step``, ``.promote``,
  ``.complete``, ``.rollback``, ``.stop``: status, step, candidate weight);
- ``api_tokens``: ``token.create`` (role, and a fingerprint of the stored hash) and
  ``token.revoke``.

A row the trail does not explain, one it explains differently, and one it names but the table
lacks each become a :class:`AuditFinding`. Entries are fed one at a time (``apply``) while the chain
is walked, and the tables are read in batches, so memory grows with the state, not the trail.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel.domain.audit import AuditFinding, AuditRow, canonical_json
from keel.registry.tokens import token_fingerprint
from keel.store.schema import aliases, api_tokens, deployments, model_versions, models


@dataclass
class _Version:
    seq: int
    sha256: str
    format: str
    trust: Any
    status: str = "ready"
    trust_seq: int = 0
    status_seq: int = 0
    #: None for a version registered before the trail recorded metrics: not compared
    metrics: dict[str, Any] | None = None
    metrics_seq: int = 0


@dataclass
class _Deployment:
    seq: int
    model: str
    candidate: int
    strategy: str
    steps: list[float]
    stable: int | None
    step: int
    weight: float
    status: str = "running"


@dataclass
class _Token:
    seq: int
    role: str
    fingerprint: str | None
    revoked: bool = False


@dataclass
class Replay:
    """The state the trail describes, built entry by entry (``apply``)."""

    versions: dict[tuple[str, int], _Version] = field(default_factory=dict)
    aliases: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    deployments: dict[int, _Deployment] = field(default_factory=dict)
    tokens: dict[str, list[_Token]] = field(default_factory=dict)
    #: entries that contradict the trail before them (an alias moved to a version never
    #: registered, a deployment moved that never started, ...)
    findings: list[AuditFinding] = field(default_factory=list)

    def apply(self, row: AuditRow) -> None:
        seq, _at, _actor, action, subject, details = row[:6]
        handler = _HANDLERS.get(action)
        if handler is None and action.startswith("deployment.") and "status" in details:
            handler = Replay._deployment_move
        if handler is None:
            return
        try:
            handler(self, seq, subject, details)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self._contradiction(seq, f"{action} with details that cannot be replayed ({exc!r})")

    def _contradiction(self, seq: int, what: str, expected: str = "") -> None:
        self.findings.append(
            AuditFinding(
                "audit_log", f"seq {seq}", what, expected or "an entry that can be replayed"
            )
        )

    # -- versions -----------------------------------------------------------------------------
    def _register(self, seq: int, subject: str, d: dict[str, Any]) -> None:
        key = _version_subject(subject)
        if key in self.versions:
            self._contradiction(
                seq,
                f"a second version.register of {_ref(key)}",
                f"one registration (the first is at seq {self.versions[key].seq})",
            )
        trust = d.get("trust")  # versions registered before trust was recorded have none
        metrics = d.get("metrics")
        self.versions[key] = _Version(
            seq,
            str(d["sha256"]),
            str(d["format"]),
            trust,
            "ready",
            seq,
            seq,
            dict(metrics) if isinstance(metrics, dict) else None,
            seq,
        )

    def _metrics(self, seq: int, subject: str, d: dict[str, Any]) -> None:
        version = self._version(seq, subject, "version.metrics")
        if version is not None and version.metrics is not None:
            version.metrics.update(dict(d["metrics"]))
            version.metrics_seq = seq

    def _trust(self, seq: int, subject: str, d: dict[str, Any]) -> None:
        version = self._version(seq, subject, "version.trust")
        if version is not None:
            version.trust = d.get("trust")
            version.trust_seq = seq

    def _archive(self, seq: int, subject: str, d: dict[str, Any]) -> None:
        version = self._version(seq, subject, "version.archive")
        if version is not None:
            version.status = "archived"
            version.status_seq = seq

    def _version(self, seq: int, subject: str, action: str) -> _Version | None:
        key = _version_subject(subject)
        found = self.versions.get(key)
        if found is None:
            self._contradiction(
                seq, f"{action} of {_ref(key)}", "a version registered earlier in the trail"
            )
        return found

    # -- aliases ------------------------------------------------------------------------------
    def _alias_set(self, seq: int, subject: str, d: dict[str, Any]) -> None:
        name, alias, number = _model_subject(subject), str(d["alias"]), int(d["version"])
        if (name, number) not in self.versions:
            self._contradiction(
                seq,
                f"alias.set of {name}@{alias} to version {number}",
                "a version registered earlier in the trail",
            )
        self.aliases[(name, alias)] = (number, seq)

    def _alias_delete(self, seq: int, subject: str, d: dict[str, Any]) -> None:
        name, alias = _model_subject(subject), str(d["alias"])
        if self.aliases.pop((name, alias), None) is None:
            self._contradiction(
                seq, f"alias.delete of {name}@{alias}", "an alias set earlier in the trail"
            )

    # -- deployments --------------------------------------------------------------------------
    def _deployment_start(self, seq: int, subject: str, d: dict[str, Any]) -> None:
        name, candidate = _version_subject(subject)
        steps = [float(s) for s in d["steps"]]
        strategy = str(d["strategy"])
        weight = d.get("candidate_weight")  # recorded since state replay; derived before
        if weight is None:
            weight = 100.0 if strategy == "shadow" else steps[0]
        stable = d.get("stable")
        self.deployments[int(d["deployment"])] = _Deployment(
            seq,
            name,
            candidate,
            strategy,
            steps,
            None if stable is None else int(stable),
            0,
            float(weight),
        )

    def _deployment_move(self, seq: int, subject: str, d: dict[str, Any]) -> None:
        number = int(d["deployment"])
        found = self.deployments.get(number)
        if found is None:
            self._contradiction(
                seq, f"a move of deployment #{number}", "a deployment started earlier in the trail"
            )
            return
        found.status = str(d["status"])
        found.step = int(d["step"])
        found.weight = float(d["candidate_weight"])
        found.seq = seq

    # -- tokens -------------------------------------------------------------------------------
    def _token_create(self, seq: int, subject: str, d: dict[str, Any]) -> None:
        prefix = _token_subject(subject)
        fingerprint = d.get("fingerprint")  # recorded since state replay
        self.tokens.setdefault(prefix, []).append(_Token(seq, str(d["role"]), fingerprint))

    def _token_revoke(self, seq: int, subject: str, d: dict[str, Any]) -> None:
        prefix = _token_subject(subject)
        live = [t for t in self.tokens.get(prefix, []) if not t.revoked]
        if not live:
            self._contradiction(
                seq, f"token.revoke of {prefix}", "a live token created earlier in the trail"
            )
            return
        live[0].revoked = True
        live[0].seq = seq


_HANDLERS = {
    "version.register": Replay._register,
    "version.trust": Replay._trust,
    "version.archive": Replay._archive,
    "version.metrics": Replay._metrics,
    "alias.set": Replay._alias_set,
    "alias.delete": Replay._alias_delete,
    "deployment.start": Replay._deployment_start,
    "token.create": Replay._token_create,
    "token.revoke": Replay._token_revoke,
}


def _model_subject(subject: str) -> str:
    if not subject.startswith("model:") or "/" in subject:
        raise ValueError(f"subject {subject!r} is not model:NAME")
    return subject.removeprefix("model:")


def _version_subject(subject: str) -> tuple[str, int]:
    if not subject.startswith("model:") or "/" not in subject:
        raise ValueError(f"subject {subject!r} is not model:NAME/VERSION")
    name, number = subject.removeprefix("model:").rsplit("/", 1)
    return name, int(number)


def _token_subject(subject: str) -> str:
    if not subject.startswith("token:"):
        raise ValueError(f"subject {subject!r} is not token:PREFIX")
    return subject.removeprefix("token:")


def _ref(key: tuple[str, int]) -> str:
    return f"{key[0]}/{key[1]}"


# -- holding the tables to the replay ---------------------------------------------------------
@dataclass
class Artifacts:
    """The artifact files the versions name, for the file check: hash -> (size, versions)."""

    named: dict[str, tuple[int, list[str]]] = field(default_factory=dict)

    def add(self, sha256: str, size: int, ref: str) -> None:
        size_before, refs = self.named.get(sha256, (0, []))
        if len(refs) < 3:
            refs.append(ref)
        self.named[sha256] = (max(size, size_before), refs)

    @property
    def total_bytes(self) -> int:
        return sum(size for size, _ in self.named.values())


def compare(
    conn: Connection, replay: Replay, batch: int = 5000
) -> tuple[list[AuditFinding], Artifacts]:
    """Every difference between the tables and ``replay`` (which this consumes), and the
    artifacts the versions name."""
    artifacts = Artifacts()
    findings = list(replay.findings)
    findings += _compare_versions(conn, replay, artifacts, batch)
    findings += _compare_aliases(conn, replay, batch)
    findings += _compare_deployments(conn, replay, batch)
    findings += _compare_tokens(conn, replay, batch)
    return findings, artifacts


def _stream(conn: Connection, query: Any, batch: int) -> Iterator[Any]:
    yield from conn.execute(query.execution_options(yield_per=batch))


def _compare_versions(
    conn: Connection, replay: Replay, artifacts: Artifacts, batch: int
) -> Iterator[AuditFinding]:
    v = model_versions.c
    query = (
        sa.select(models.c.name, v.version, v.artifact_sha256, v.format, v.trust, v.status)
        .add_columns(v.size_bytes, v.metrics)
        .join(models, models.c.id == v.model_id)
        .order_by(v.id)
    )
    expected = replay.versions
    for row in _stream(conn, query, batch):
        ref = f"{row.name}/{row.version}"
        artifacts.add(row.artifact_sha256, int(row.size_bytes or 0), ref)
        want = expected.pop((row.name, row.version), None)
        if want is None:
            yield AuditFinding(
                "model_versions",
                ref,
                f"a version (artifact {row.artifact_sha256[:12]}, {row.format})",
                "no such version: it was never registered",
            )
            continue
        if want.sha256 != row.artifact_sha256:
            artifacts.add(want.sha256, 0, ref)
        checks = [
            ("artifact_sha256", row.artifact_sha256, want.sha256, want.seq),
            ("format", row.format, want.format, want.seq),
            ("status", row.status, want.status, want.status_seq),
            ("trust", canonical_json(row.trust), canonical_json(want.trust), want.trust_seq),
        ]
        if want.metrics is not None:
            found_metrics = canonical_json(row.metrics or {})
            checks.append(
                ("metrics", found_metrics, canonical_json(want.metrics), want.metrics_seq)
            )
        for column, found, wanted, seq in checks:
            if found != wanted:
                yield AuditFinding(
                    "model_versions", f"{ref} {column}", found, f"{wanted} (seq {seq})"
                )
    for (name, number), want in sorted(expected.items()):
        yield AuditFinding(
            "model_versions",
            f"{name}/{number}",
            "no such row",
            f"version {number} of {name}, artifact {want.sha256[:12]} (seq {want.seq})",
        )
    expected.clear()


def _compare_aliases(conn: Connection, replay: Replay, batch: int) -> Iterator[AuditFinding]:
    owner = models.alias("owner")
    query = (
        sa.select(
            models.c.name,
            aliases.c.alias,
            model_versions.c.version,
            owner.c.name.label("version_model"),
        )
        .select_from(aliases)
        .join(models, models.c.id == aliases.c.model_id)
        .outerjoin(model_versions, model_versions.c.id == aliases.c.version_id)
        .outerjoin(owner, owner.c.id == model_versions.c.model_id)
        .order_by(aliases.c.model_id, aliases.c.alias)
    )
    expected = replay.aliases
    for row in _stream(conn, query, batch):
        where = f"{row.name}@{row.alias}"
        want = expected.pop((row.name, row.alias), None)
        if row.version is None:
            found = "a version_id that names no version"
        elif row.version_model != row.name:
            found = f"a version of another model ({row.version_model}/{row.version})"
        else:
            found = f"version {row.version}"
        if want is None:
            yield AuditFinding("aliases", where, found, "no such alias")
        elif found != f"version {want[0]}":
            yield AuditFinding("aliases", where, found, f"version {want[0]} (seq {want[1]})")
    for (name, alias), (number, seq) in sorted(expected.items()):
        yield AuditFinding(
            "aliases", f"{name}@{alias}", "no such row", f"version {number} (seq {seq})"
        )
    expected.clear()


def _compare_deployments(conn: Connection, replay: Replay, batch: int) -> Iterator[AuditFinding]:
    d = deployments.c
    query = sa.select(
        d.id,
        d.model,
        d.candidate_version,
        d.stable_version,
        d.strategy,
        d.steps,
        d.step,
        d.candidate_weight,
        d.status,
    ).order_by(d.id)
    expected = replay.deployments
    for row in _stream(conn, query, batch):
        where = f"#{row.id}"
        want = expected.pop(row.id, None)
        if want is None:
            yield AuditFinding(
                "deployments",
                where,
                f"a {row.status} {row.strategy} deployment of {row.model}/{row.candidate_version}",
                "no such deployment: it was never started",
            )
            continue
        at = f" (seq {want.seq})"
        for column, found, wanted in (
            ("model", row.model, want.model),
            ("candidate_version", row.candidate_version, want.candidate),
            ("stable_version", row.stable_version, want.stable),
            ("strategy", row.strategy, want.strategy),
            ("steps", [float(s) for s in row.steps or []], want.steps),
            ("step", row.step, want.step),
            ("candidate_weight", float(row.candidate_weight), want.weight),
            ("status", row.status, want.status),
        ):
            if found != wanted:
                yield AuditFinding("deployments", f"{where} {column}", str(found), f"{wanted}{at}")
    for number, want in sorted(expected.items()):
        yield AuditFinding(
            "deployments",
            f"#{number}",
            "no such row",
            f"a {want.status} deployment of {want.model}/{want.candidate} (seq {want.seq})",
        )
    expected.clear()


def _compare_tokens(conn: Connection, replay: Replay, batch: int) -> Iterator[AuditFinding]:
    t = api_tokens.c
    query = sa.select(t.id, t.prefix, t.role, t.revoked_at, t.token_hash).order_by(t.id)
    expected = replay.tokens
    for row in _stream(conn, query, batch):
        where = f"token {row.prefix}"
        state = "revoked" if row.revoked_at is not None else "live"
        created = expected.get(row.prefix)
        if not created:
            yield AuditFinding(
                "api_tokens", where, f"a {state} {row.role} token", "no such token: never created"
            )
            continue
        want = created.pop(0)
        at = f" (seq {want.seq})"
        if row.role != want.role:
            yield AuditFinding("api_tokens", f"{where} role", row.role, f"{want.role}{at}")
        if (row.revoked_at is not None) != want.revoked:
            wanted = "revoked" if want.revoked else "live"
            yield AuditFinding("api_tokens", f"{where} revoked_at", state, f"{wanted}{at}")
        if want.fingerprint is not None and token_fingerprint(row.token_hash) != want.fingerprint:
            yield AuditFinding(
                "api_tokens",
                f"{where} token_hash",
                "the hash of another token",
                f"the hash of the token created at seq {want.seq}",
            )
    for prefix, left in sorted(expected.items()):
        for want in left:
            yield AuditFinding(
                "api_tokens",
                f"token {prefix}",
                "no such row",
                f"a {want.role} token (seq {want.seq})",
            )
    expected.clear()
