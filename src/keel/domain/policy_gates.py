"""The evaluation and gating sections of a policy: suites, gate sentences, promotion rules.

A version is blessed when it passes its policy's gates on an evaluation suite; promotion may
require that blessing. These sections are one concept (what a version must show before it may
serve), kept apart from the policy's other sections so each stays small. Gates are written as
sentences, parsed here so a typo fails when the policy is read:

- ``accuracy >= 0.92`` (optionally ``... on SNAPSHOT``): an absolute threshold;
- ``slice young: recall >= 0.6``: a threshold on one slice;
- ``latency_p99_ms <= 20``, ``size_mb <= 50``: budgets on the model's cost;
- ``latency_p99_ms <= 1.5x champion``: a budget on the ratio of its cost to the champion's
  (measured interleaved in one process, so the machine's load cancels out);
- ``roc_auc not worse than champion by more than 0.005 at 95% confidence``: non-inferiority;
- ``accuracy beats baseline majority`` (or ``persistence``, ``mean``; ``by 0.01``): naive baselines.

>>> parse_gate("slice young:  recall >= 0.6").slice
'young'
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from keel.domain.durations import parse_duration
from keel.domain.metric_names import COMPARABLE, COST_METRICS, LOWER_IS_BETTER, METRICS
from keel.domain.numbers import finite
from keel.errors import InvalidInput

__all__ = [
    "BASELINES",
    "CONFIDENCES",
    "Gate",
    "Gates",
    "Promotion",
    "SliceCondition",
    "Suite",
    "parse_gate",
]

CONFIDENCES = (90.0, 95.0, 97.5, 99.0, 99.5)
BASELINES = ("majority", "mean", "persistence")

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_ON = r"(?:\s+on\s+(?P<snapshot>[A-Za-z0-9][\w.\-/]*))?"
_ABSOLUTE = re.compile(
    rf"^(?:slice\s+(?P<slice>[\w.\-]+)\s*:\s*)?(?P<metric>\w+)\s*(?P<op>>=|<=|>|<)\s*"
    rf"(?P<value>{_NUMBER}){_ON}$"
)
_COMPARATIVE = re.compile(
    rf"^(?P<metric>\w+)\s+not\s+worse\s+than\s+champion\s+by\s+more\s+than\s+"
    rf"(?P<margin>{_NUMBER})(?:\s+at\s+(?P<confidence>{_NUMBER})\s*%\s+confidence)?{_ON}$"
)
_RATIO = re.compile(rf"^(?P<metric>\w+)\s*(?P<op><=|<)\s*(?P<value>{_NUMBER})\s*x\s+champion$")
_BASELINE = re.compile(
    rf"^(?P<metric>\w+)\s+beats\s+(?:baseline\s+)?(?P<baseline>\w+)"
    rf"(?:\s+by\s+(?P<margin>{_NUMBER}))?{_ON}$"
)


class Gate(BaseModel):
    """One parsed gate sentence."""

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    text: str
    kind: Literal["absolute", "slice", "cost", "comparative", "baseline"]
    metric: str
    op: str | None = None
    threshold: float | None = None
    slice: str | None = None
    margin: float = 0.0
    confidence: float = 95.0
    baseline: str | None = None
    snapshot: str | None = None
    ratio: bool = False  # a cost budget on candidate/champion, not on the candidate alone

    @property
    def higher_is_better(self) -> bool:
        return self.metric not in LOWER_IS_BETTER


def parse_gate(text: str, field: str = "gates") -> Gate:
    """Parse one gate sentence; raise InvalidInput naming the sentence and the problem."""
    if not isinstance(text, str):
        hint = ""
        if isinstance(text, dict):  # YAML reads an unquoted "slice young: recall >= 0.6" so
            hint = "; in YAML, quote a gate that holds ': ', e.g. \"slice young: recall >= 0.6\""
        raise InvalidInput(field, f"{text!r} is not a gate sentence{hint}")
    clean = " ".join(text.split())
    if match := _COMPARATIVE.match(clean):
        metric = _metric(match["metric"], clean, field, cost=False)
        if metric not in COMPARABLE:
            raise InvalidInput(
                field, f"{clean!r}: comparisons with the champion have no interval for {metric}"
            )
        confidence = finite(match["confidence"] or "95", field, clean)
        if confidence not in CONFIDENCES:
            raise InvalidInput(
                field,
                f"{clean!r}: confidence must be one of {', '.join(f'{c:g}%' for c in CONFIDENCES)}",
            )
        margin = finite(match["margin"], field, clean)
        if margin < 0:
            raise InvalidInput(field, f"{clean!r}: the margin must not be negative")
        return Gate(
            text=clean,
            kind="comparative",
            metric=metric,
            margin=margin,
            confidence=confidence,
            snapshot=match["snapshot"],
        )
    if match := _RATIO.match(clean):
        metric = _metric(match["metric"], clean, field)
        if metric not in COST_METRICS:
            raise InvalidInput(
                field,
                f"{clean!r}: a ratio to the champion is a cost budget (e.g. 'latency_p99_ms <= "
                f"1.5x champion'); compare {metric} with 'not worse than champion by more than'",
            )
        factor = finite(match["value"], field, clean)
        if factor <= 0:
            raise InvalidInput(field, f"{clean!r}: the ratio must be above 0")
        return Gate(
            text=clean, kind="cost", metric=metric, op=match["op"], threshold=factor, ratio=True
        )
    if match := _BASELINE.match(clean):
        metric = _metric(match["metric"], clean, field, cost=False)
        if match["baseline"] not in BASELINES:
            raise InvalidInput(
                field,
                f"{clean!r}: unknown baseline {match['baseline']!r}; use {', '.join(BASELINES)}",
            )
        margin = finite(match["margin"] or "0", field, clean)
        if margin < 0:
            raise InvalidInput(field, f"{clean!r}: the margin must not be negative")
        return Gate(
            text=clean,
            kind="baseline",
            metric=metric,
            baseline=match["baseline"],
            margin=margin,
            snapshot=match["snapshot"],
        )
    if match := _ABSOLUTE.match(clean):
        metric = _metric(match["metric"], clean, field)
        kind: Literal["slice", "cost", "absolute"] = (
            "slice" if match["slice"] else "cost" if metric in COST_METRICS else "absolute"
        )
        if kind == "slice" and metric in COST_METRICS:
            raise InvalidInput(
                field, f"{clean!r}: cost budgets apply to the whole model, not a slice"
            )
        return Gate(
            text=clean,
            kind=kind,
            metric=metric,
            op=match["op"],
            threshold=finite(match["value"], field, clean),
            slice=match["slice"],
            snapshot=match["snapshot"],
        )
    raise InvalidInput(
        field,
        f"{clean!r} is not a gate; write e.g. 'accuracy >= 0.92', 'slice young: recall >= 0.6', "
        "'roc_auc not worse than champion by more than 0.005 at 95% confidence' or "
        "'accuracy beats baseline majority'",
    )


def _metric(name: str, text: str, field: str, *, cost: bool = True) -> str:
    if name not in METRICS:
        known = ", ".join(sorted(METRICS))
        raise InvalidInput(field, f"{text!r}: unknown metric {name!r}; known metrics: {known}")
    if not cost and name in COST_METRICS:
        # neither the champion comparison nor the baselines measure cost: such a gate could
        # never pass, so it fails here, when the policy is read
        raise InvalidInput(
            field,
            f"{text!r}: cost metrics take a budget, e.g. '{name} <= 50' or "
            f"'{name} <= 1.5x champion'",
        )
    return name


class SliceCondition(BaseModel):
    """Conditions on one feature: equality, membership or a range (``ge``/``gt``/``le``/``lt``)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )

    eq: float | str | bool | None = None
    in_: list[float | str | bool] | None = Field(None, alias="in")
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> SliceCondition:
        if all(v is None for v in (self.eq, self.in_, self.ge, self.gt, self.le, self.lt)):
            raise ValueError("a slice condition needs one of eq, in, ge, gt, le, lt")
        return self


class Suite(BaseModel):
    """Held-out snapshots, the label column, metrics and slices of one evaluation."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    snapshots: list[str] = Field(min_length=1)
    target: str = Field(min_length=1)
    metrics: list[str] | None = None
    slices: dict[str, dict[str, SliceCondition]] = Field(default_factory=dict)
    time_column: str | None = None
    time_ordered: bool = False
    resamples: int = Field(default=1000, ge=0, le=100_000)
    seed: int = 0
    compare_with: str = "champion"
    measure_cost: bool = True

    @field_validator("metrics")
    @classmethod
    def _known(cls, value: list[str] | None) -> list[str] | None:
        for metric in value or []:
            if metric not in METRICS:
                raise ValueError(f"unknown metric {metric!r}")
        return value

    @field_validator("slices", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """``{region: DE}`` is short for ``{region: {eq: DE}}``."""
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        for name, conditions in value.items():
            if isinstance(conditions, dict):
                out[name] = {
                    f: c
                    if isinstance(c, dict)
                    else ({"in": c} if isinstance(c, list) else {"eq": c})
                    for f, c in conditions.items()
                }
            else:
                out[name] = conditions
        return out


class Gates(BaseModel):
    """The gate suite and checks; ``cost_runs``: how many interleaved runs each cost figure is
    the median of; ``reuse_evaluation``: how old a stored evaluation of the same version, suite
    and snapshots (and champion) may be for ``keel gate`` to reuse it (``off``: never)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    suite: str | None = None
    checks: list[Gate] = Field(default_factory=list)
    cost_runs: int = Field(default=5, ge=1, le=50)
    reuse_evaluation: str = "1h"

    @field_validator("reuse_evaluation", mode="before")
    @classmethod
    def _reuse(cls, value: Any) -> Any:
        if value is False or value == "off":  # YAML reads an unquoted off as false
            return "off"
        try:
            parse_duration(value, "gates.reuse_evaluation")
        except InvalidInput as exc:
            raise ValueError(f"{exc.problem}, or 'off'") from exc
        return value

    @property
    def reuse_age(self) -> timedelta | None:
        """The age below which ``keel gate`` reuses an evaluation; None: never."""
        if self.reuse_evaluation == "off":
            return None
        return parse_duration(self.reuse_evaluation, "gates.reuse_evaluation")

    @field_validator("checks", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [
            v
            if isinstance(v, Gate) or (isinstance(v, dict) and "text" in v)  # already parsed
            else parse_gate(v, f"gates.checks[{i}]")
            for i, v in enumerate(value)
        ]

    @property
    def compares_with_champion(self) -> bool:
        """Whether a verdict depends on which version is champion (so a blessing earned
        against one champion must be earned again against the next)."""
        return any(g.kind == "comparative" or g.ratio for g in self.checks)


class Promotion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    require_blessing: bool = False
    require_comparative: bool = False
    require_approval: bool = False
