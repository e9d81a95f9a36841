"""Stored evaluations, gate verdicts and approvals as they read back: the record a promotion is
checked against, a report is rebuilt from, a gate reuses and ``keel evaluations list`` shows.
The registry keeps these rows (``keel.registry.governance``); the evaluation layer computes them.

>>> from datetime import UTC, datetime
>>> gate = GateRecord(
...     id=3, version_id=9, evaluation_id=5, verdict="rejected", risk_profile="high",
...     checks=[{"check": "accuracy >= 0.9", "passed": False}], reasons=["accuracy 0.87 < 0.9"],
...     author="ci", created_at=datetime(2026, 11, 5, 9, tzinfo=UTC), champion_version=2,
... )
>>> gate.blessed, gate.to_dict()["created_at"]
(False, '2026-11-05T09:00:00+00:00')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from keel.domain.row_records import record_of

__all__ = [
    "ApprovalRecord",
    "EvaluationRecord",
    "EvaluationSummary",
    "GateRecord",
    "ReusableEvaluation",
]


@dataclass(frozen=True)
class GateRecord:
    """One stored gate verdict of a version, with the number of the champion its evaluation
    compared it with (None: no champion existed, or no evaluation is linked)."""

    id: int
    version_id: int
    evaluation_id: int | None
    verdict: str
    risk_profile: str
    checks: list[dict[str, Any]]
    reasons: list[str]
    author: str
    created_at: datetime
    champion_version: int | None

    @classmethod
    def of(cls, row: Any) -> GateRecord:
        """The record of a ``gate_results`` row joined with ``champion_version``."""
        return record_of(cls, row)

    @property
    def blessed(self) -> bool:
        return self.verdict == "blessed"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, the time as ISO 8601."""
        return {
            "id": self.id,
            "version_id": self.version_id,
            "evaluation_id": self.evaluation_id,
            "verdict": self.verdict,
            "risk_profile": self.risk_profile,
            "checks": self.checks,
            "reasons": self.reasons,
            "author": self.author,
            "created_at": self.created_at.isoformat(),
            "champion_version": self.champion_version,
        }


@dataclass(frozen=True)
class EvaluationSummary:
    """A line of a model's evaluation list: which version, suite and snapshots, how it ended,
    and the verdict of the latest gate that judged it (None: never gated)."""

    id: int
    suite: str
    status: str
    snapshots: list[dict[str, Any]]
    author: str
    created_at: datetime
    version: int
    verdict: str | None

    @classmethod
    def of(cls, row: Any) -> EvaluationSummary:
        return record_of(cls, row)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, as ``keel evaluations list --json`` prints it."""
        return {
            "id": self.id,
            "suite": self.suite,
            "status": self.status,
            "snapshots": self.snapshots,
            "author": self.author,
            "created_at": self.created_at.isoformat(),
            "version": self.version,
            "verdict": self.verdict,
        }


@dataclass(frozen=True)
class EvaluationRecord:
    """A whole stored evaluation: its results (metrics per snapshot, the comparison with the
    champion), the error if it failed, and the latest gate verdict recorded with it."""

    id: int
    version_id: int
    suite: str
    status: str
    snapshots: list[dict[str, Any]]
    champion_version_id: int | None
    results: dict[str, Any]
    error: str | None
    report_sha256: str | None
    author: str
    created_at: datetime
    model: str
    version: int
    gate: GateRecord | None

    @classmethod
    def of(cls, row: Any, gate: GateRecord | None) -> EvaluationRecord:
        """The record of an ``evaluations`` row joined with its ``model`` and ``version``."""
        return record_of(cls, row, gate=gate)

    @property
    def ref(self) -> str:
        """``MODEL/VERSION`` of the evaluated version."""
        return f"{self.model}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO 8601, the gate as ``GateRecord.to_dict`` gives it."""
        return {
            "id": self.id,
            "version_id": self.version_id,
            "suite": self.suite,
            "status": self.status,
            "snapshots": self.snapshots,
            "champion_version_id": self.champion_version_id,
            "results": self.results,
            "error": self.error,
            "report_sha256": self.report_sha256,
            "author": self.author,
            "created_at": self.created_at.isoformat(),
            "model": self.model,
            "version": self.version,
            "gate": None if self.gate is None else self.gate.to_dict(),
        }


@dataclass(frozen=True)
class ReusableEvaluation:
    """A finished evaluation of one version that a gate may judge again instead of evaluating
    anew: what it measured on which snapshots, and the number of the version it compared with
    (None: no champion)."""

    id: int
    suite: str
    status: str
    snapshots: list[dict[str, Any]]
    results: dict[str, Any]
    error: str | None
    created_at: datetime
    champion_version: int | None

    @classmethod
    def of(cls, row: Any) -> ReusableEvaluation:
        """The record of an ``evaluations`` row joined with ``champion_version``."""
        return record_of(cls, row)

    @property
    def snapshot_hashes(self) -> list[tuple[str, str]]:
        """``(ref, sha256)`` of each snapshot it was measured on, in the suite's order."""
        return [(s["ref"], s["sha256"]) for s in self.snapshots]


@dataclass(frozen=True)
class ApprovalRecord:
    """A person's recorded approval of a version, which a ``require_approval`` rule needs before
    the version may become champion."""

    id: int
    version_id: int
    approver: str
    reason: str
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> ApprovalRecord:
        """The record of an ``approvals`` row."""
        return record_of(cls, row)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, the time as ISO 8601."""
        return {
            "id": self.id,
            "version_id": self.version_id,
            "approver": self.approver,
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
        }
