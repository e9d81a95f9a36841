"""One retrain in full, as ``keel retrains show ID`` tells it: why it started, every state it
went through and when (from the audit trail, which records each move in the transaction that
made it), the pipeline run, the candidate and its gate verdict, and the training setup the
retrain chose with every candidate setup's score, when the training step recorded one.

The choice is read from the retrain's ``details["selection"]``, written by the training step:
``{"chosen", "metric", "validation_rows", "budget", "cost", "reason", "candidates": [{"name",
"rows", "half_life", "score", "fit_s", "skipped"}]}``. Retrains trained before that step
recorded it have none, and a field missing from an older or partial record reads as None: the
report shows what was kept and never fails on what was not.

>>> chosen = SelectionRecord.of({"chosen": "new", "candidates": [{"name": "new", "rows": 90}]})
>>> chosen.chosen, chosen.candidates[0].rows, chosen.cost
('new', 90, None)
>>> SelectionRecord.of(None) is None
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keel.controller.handover import GateVerdict

if TYPE_CHECKING:
    from keel.controller.retrains import Retrain
    from keel.domain.entities import AuditEntry
    from keel.pipelines.records import PipelineRun
    from keel.services import Services

__all__ = ["RetrainMove", "RetrainReport", "SelectionRecord", "SetupRecord", "moves_of", "report"]


@dataclass(frozen=True)
class RetrainMove:
    """One state the retrain entered (``takeover``: another controller took its lease), when
    it was recorded (the wall clock of the audit entry), by whom and why."""

    state: str
    at: str
    actor: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "at": self.at, "actor": self.actor, "reason": self.reason}


@dataclass(frozen=True)
class SetupRecord:
    """One candidate training setup as the choice scored it (``skipped``: why it was not fit)."""

    name: str
    rows: int | None = None
    half_life: int | None = None
    score: float | None = None
    fit_s: float | None = None
    skipped: str | None = None

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> SetupRecord:
        return cls(
            name=str(stored.get("name", "?")),
            rows=_int(stored.get("rows")),
            half_life=_int(stored.get("half_life")),
            score=_float(stored.get("score")),
            fit_s=_float(stored.get("fit_s")),
            skipped=None if stored.get("skipped") is None else str(stored["skipped"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rows": self.rows,
            "half_life": self.half_life,
            "score": self.score,
            "fit_s": self.fit_s,
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class SelectionRecord:
    """The training setup a retrain chose, on which metric and how many validation rows, and
    what the choice cost against its budget, and why it fell that way (``reason``)."""

    chosen: str | None
    metric: str | None
    validation_rows: int | None
    budget: float | None
    cost: float | None
    candidates: tuple[SetupRecord, ...] = ()
    reason: str | None = None

    @classmethod
    def of(cls, stored: object) -> SelectionRecord | None:
        """The record of a retrain's ``details["selection"]``; None when it has none."""
        if not isinstance(stored, Mapping):
            return None
        listed = stored.get("candidates")
        candidates = (
            tuple(SetupRecord.of(c) for c in listed if isinstance(c, Mapping))
            if isinstance(listed, Sequence) and not isinstance(listed, str)
            else ()
        )
        chosen, metric, reason = (stored.get(key) for key in ("chosen", "metric", "reason"))
        return cls(
            chosen=None if chosen is None else str(chosen),
            metric=None if metric is None else str(metric),
            validation_rows=_int(stored.get("validation_rows")),
            budget=_float(stored.get("budget")),
            cost=_float(stored.get("cost")),
            candidates=candidates,
            reason=None if reason is None else str(reason),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen,
            "metric": self.metric,
            "validation_rows": self.validation_rows,
            "budget": self.budget,
            "cost": self.cost,
            "candidates": [c.to_dict() for c in self.candidates],
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RetrainReport:
    """A retrain with its moves, pipeline run (None before training started, or when the run's
    record is gone), gate verdict and setup choice (None when not recorded)."""

    retrain: Retrain
    moves: tuple[RetrainMove, ...]
    pipeline_run: PipelineRun | None
    gate: GateVerdict | None
    selection: SelectionRecord | None

    @classmethod
    def of(
        cls, retrain: Retrain, moves: Sequence[RetrainMove], run: PipelineRun | None
    ) -> RetrainReport:
        stored_gate = retrain.details.get("gate")
        gate = (
            GateVerdict.of(stored_gate)
            if isinstance(stored_gate, Mapping) and "verdict" in stored_gate
            else None
        )
        selection = SelectionRecord.of(retrain.details.get("selection"))
        return cls(retrain, tuple(moves), run, gate, selection)

    def to_dict(self) -> dict[str, Any]:
        return {
            "retrain": self.retrain.to_dict(),
            "moves": [m.to_dict() for m in self.moves],
            "pipeline_run": None if self.pipeline_run is None else self.pipeline_run.to_dict(),
            "gate": None if self.gate is None else self.gate.to_dict(),
            "selection": None if self.selection is None else self.selection.to_dict(),
        }


def report(services: Services, retrain_id: int) -> RetrainReport:
    """Retrain ``retrain_id`` in full (NotFound without one): its moves from its model's
    ``retrain.*`` audit entries, its pipeline run (None when its record is gone: the report
    shows the rest), its gate verdict and its setup choice from its details."""
    from keel.controller import retrains
    from keel.errors import NotFound
    from keel.pipelines.records import get_run
    from keel.registry.models import positive_limit

    db = services.stores.db
    retrain = retrains.get(db, positive_limit(retrain_id, "retrain"))
    entries = services.audit.audit_log(subject=retrain.model, action="retrain.", limit=None)
    run: PipelineRun | None = None
    if retrain.pipeline_run_id is not None:
        try:
            run = get_run(db, retrain.pipeline_run_id)
        except NotFound:
            run = None
    return RetrainReport.of(retrain, moves_of(retrain.id, entries), run)


def moves_of(retrain_id: int, entries: Sequence[AuditEntry]) -> list[RetrainMove]:
    """The moves of retrain ``retrain_id`` among a model's ``retrain.*`` audit entries (any
    order), oldest first."""
    out: list[RetrainMove] = []
    for entry in sorted(entries, key=lambda e: e.seq):
        details = entry.details
        if details.get("retrain") != retrain_id:
            continue
        kind = entry.action.removeprefix("retrain.")
        if kind == "request":
            state, reason = "queued", str(details.get("reason", ""))
        elif kind == "takeover":
            state = "takeover"
            reason = f"lease taken from {details.get('from')} (state {details.get('state')})"
        else:
            state, reason = kind, str(details.get("reason", ""))
        out.append(RetrainMove(state, entry.at, entry.actor, reason))
    return out


def _int(value: Any) -> int | None:
    number = _float(value)
    return None if number is None or not math.isfinite(number) else int(number)


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
