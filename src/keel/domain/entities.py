"""The records Keel keeps: models, versions, snapshots, runs, aliases and audit entries.

They are plain frozen dataclasses, so they can be compared, hashed and turned into JSON with
``to_dict`` without touching the store.
"""

from __future__ import annotations

from dataclasses import Field, dataclass, field, fields, is_dataclass
from datetime import datetime
from typing import Any, ClassVar

from keel.domain.signature import Signature


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Signature):  # its stored JSON, as every door has always shown it
        return value.stored_form()
    if is_dataclass(value) and not isinstance(value, type):  # a nested record: its fields
        return _fields_of(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _fields_of(record: Any) -> dict[str, Any]:
    return {f.name: _jsonable(getattr(record, f.name)) for f in fields(record)}


class _Record:
    # every record is a dataclass; declaring its fields table lets ``fields`` take ``self``
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    def to_dict(self) -> dict[str, Any]:
        return _fields_of(self)


#: stored formats whose flavour goes by another name; a native format is named by its flavour
_FLAVOUR_OF_FORMAT = {"skops": "sklearn", "cloudpickle": "python"}


@dataclass(frozen=True)
class Model(_Record):
    name: str
    created_at: datetime
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    latest_version: int | None = None
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CodeVersion(_Record):
    """Where the training code came from: the git commit and whether the tree had edits."""

    commit: str | None = None
    dirty: bool | None = None
    branch: str | None = None
    repository: str | None = None


@dataclass(frozen=True)
class ModelVersion(_Record):
    name: str
    version: int
    artifact_sha256: str
    format: str
    model_class: str
    created_at: datetime
    author: str
    status: str = "ready"
    size_bytes: int = 0
    description: str = ""
    #: the features it takes (None: registered without one); stored as ``Signature.to_dict``
    signature: Signature | None = None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    training_snapshot: str | None = None
    run_id: str | None = None
    parent_version: int | None = None
    code_version: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    #: the recorded trust decision (``keel.domain.trust.TrustRecord`` as a dict), if it needs one
    trust: dict[str, Any] | None = None

    @classmethod
    def from_store(cls, **fields: Any) -> ModelVersion:
        """Build from a complete set of stored fields without the per-field frozen-dataclass
        set-up, which dominates listings of tens of thousands of versions."""
        version = object.__new__(cls)
        version.__dict__.update(fields)
        return version

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def flavour(self) -> str:
        """The framework the version was saved by (``keel.registry.flavours``)."""
        return _FLAVOUR_OF_FORMAT.get(self.format, self.format)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "flavour": self.flavour}


@dataclass(frozen=True)
class Snapshot(_Record):
    """One registered data set, stored once as Parquet and identified by its content hash."""

    name: str
    version: int
    sha256: str
    artifact_sha256: str
    rows: int
    columns: int
    schema: dict[str, str]
    profile: dict[str, Any]
    created_at: datetime
    author: str
    source: str = ""
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"


@dataclass(frozen=True)
class MetricPoint(_Record):
    key: str
    value: float
    step: int
    at: datetime


@dataclass(frozen=True)
class RunRecord(_Record):
    id: str
    name: str
    status: str
    started_at: datetime
    author: str
    ended_at: datetime | None = None
    duration_s: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    code_version: dict[str, Any] = field(default_factory=dict)
    inputs: list[dict[str, str]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AliasMove(_Record):
    """One row of alias history: ``alias`` pointed at ``version`` from ``moved_at`` on."""

    model: str
    alias: str
    version: int | None
    previous_version: int | None
    moved_at: datetime
    moved_by: str
    reason: str = ""


@dataclass(frozen=True)
class AliasPeriod(_Record):
    """``alias`` pointed at ``version`` from ``start`` until ``end`` (None: still does)."""

    alias: str
    version: int
    start: datetime
    end: datetime | None
    moved_by: str
    reason: str = ""


@dataclass(frozen=True)
class AuditEntry(_Record):
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class LineageGate(_Record):
    """A gate verdict as lineage tells it: what was decided, under which risk profile, why, when
    and by whom (the stored verdict holds more: its checks, evaluation and champion)."""

    verdict: str
    risk_profile: str
    reasons: list[str]
    created_at: datetime
    author: str

    @property
    def blessed(self) -> bool:
        return self.verdict == "blessed"


@dataclass(frozen=True)
class LineageApproval(_Record):
    """A recorded approval as lineage tells it: who approved the version, why and when."""

    approver: str
    reason: str
    created_at: datetime


@dataclass(frozen=True)
class Lineage(_Record):
    """Everything that led to one version: data, run, parents, the gates it passed or failed, the
    approvals it got, where it served as an alias, and whether it was recreated."""

    version: ModelVersion
    run: RunRecord | None
    snapshots: list[dict[str, Any]]
    parents: list[ModelVersion]
    children: list[int]
    alias_periods: list[AliasPeriod]
    #: oldest first, as they were recorded
    gates: list[LineageGate] = field(default_factory=list)
    approvals: list[LineageApproval] = field(default_factory=list)
    #: the newest ``keel reproduce`` of the version: its audit entry's details with ``at``,
    #: ``actor`` and ``seq`` (None when it was never reproduced)
    reproduction: dict[str, Any] | None = None
