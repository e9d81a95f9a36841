"""A model's policy: risk profile, evaluation suites, gates, promotion, rollout, monitoring, inputs.

Policies live in ``keel.yaml`` (under ``models: {NAME: ...}``) or ``policies/NAME.yaml``. A risk
profile is a preset of every field; anything the file sets overrides the preset field by field:

>>> policy = Policy.parse({"risk_profile": "medium", "gates": {"checks": ["accuracy >= 0.92"]}})
>>> policy.promotion.require_blessing, policy.gates.checks[0].threshold
(True, 0.92)

Gates are written as sentences, parsed here so a typo fails when the policy is read:

- ``accuracy >= 0.92`` (optionally ``... on SNAPSHOT``): an absolute threshold;
- ``slice young: recall >= 0.6``: a threshold on one slice;
- ``latency_p99_ms <= 20``, ``size_mb <= 50``: budgets on the model's cost;
- ``latency_p99_ms <= 1.5x champion``: a budget on the ratio of its cost to the champion's
  (measured interleaved in one process, so the machine's load cancels out);
- ``roc_auc not worse than champion by more than 0.005 at 95% confidence``: non-inferiority;
- ``accuracy beats baseline majority`` (or ``persistence``, ``mean``; ``by 0.01``): naive baselines.
"""

from __future__ import annotations

import re
import typing
from datetime import timedelta
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from keel.domain.alert_rules import AlertRule, parse_alert_rule
from keel.domain.deployments import validate_shares, validate_steps
from keel.domain.durations import parse_duration
from keel.domain.metric_names import (
    CLASSIFICATION_METRICS,
    COMPARABLE,
    COST_METRICS,
    LOWER_IS_BETTER,
    METRICS,
    REGRESSION_METRICS,
)
from keel.domain.numbers import finite
from keel.domain.retraining import Retraining
from keel.errors import InvalidInput

__all__ = [
    "CLASSIFICATION_METRICS",
    "COMPARABLE",
    "COST_METRICS",
    "INPUT_CHECKS",
    "LOWER_IS_BETTER",
    "METRICS",
    "REGRESSION_METRICS",
    "Gate",
    "Inputs",
    "Monitoring",
    "Policy",
    "Suite",
    "parse_gate",
]

RiskProfile = Literal["low", "medium", "high"]

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


class Rollout(BaseModel):
    """How a new version reaches traffic, and the limits its analysis holds it to.

    Canary steps (and A/B tests) compare the candidate with the stable version on the rows logged
    since the step started: a breach needs the difference to exceed the limit and to be
    significant (``keel.rollout.analysis``). A/B tests stop on an always-valid sequential test of
    ``ab_metric`` at level ``alpha`` (``keel.rollout.sequential``), for futility when the effect is
    surely smaller than ``minimum_effect``, or after ``max_rows``; shadows finish after
    ``max_rows`` and are promoted only with ``promote_shadow``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    strategy: Literal["replace", "canary", "ab", "shadow"] = "replace"
    steps: list[float] = Field(default_factory=lambda: [100.0])
    interval: str = "10m"
    auto_rollback: bool = False
    sticky: bool = False
    max_error_rate_increase: float = Field(default=0.02, ge=0, le=1)
    max_latency_p99_ratio: float = Field(default=1.5, ge=1)
    max_accuracy_drop: float = Field(default=0.02, ge=0, le=1)
    min_rows_per_step: int = Field(default=200, ge=1)
    min_labelled_rows: int = Field(default=100, ge=1)
    ab_metric: Literal["accuracy", "error_rate"] = "accuracy"
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    minimum_effect: float = Field(default=0.01, gt=0, lt=1)
    max_rows: int = Field(default=100_000, ge=100)
    srm_alpha: float = Field(default=0.001, gt=0, lt=0.5)
    promote_shadow: bool = False

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: list[float], info: ValidationInfo) -> list[float]:
        """The rules ``keel deploy`` applies, so a policy that checks is one that deploys."""
        strategy = info.data.get("strategy", "replace")
        try:
            validate_shares(value)
            if strategy in ("canary", "ab"):
                validate_steps(strategy, value)
        except InvalidInput as exc:
            raise ValueError(exc.problem) from exc
        return value

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        try:
            parse_duration(value, "rollout.interval")
        except InvalidInput as exc:
            raise ValueError(exc.problem) from exc
        return value


class DriftRules(BaseModel):
    """When a feature counts as drifted: significance after Benjamini-Hochberg AND an effect."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    alpha: float = Field(default=0.01, gt=0, lt=1)
    numeric_effect: float = Field(default=0.05, ge=0)  # Wasserstein distance in reference std units
    categorical_effect: float = Field(default=0.05, ge=0)  # Jensen-Shannon distance, base 2
    multivariate: bool = True
    domain_auc: float = Field(default=0.55, ge=0.5, lt=1.0)
    features: list[str] | None = None


class Window(BaseModel):
    """How the prediction log is cut into windows: by row count or by time (``every``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    rows: int | None = Field(None, ge=10, le=10_000_000)
    every: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Window:
        if self.rows is not None and self.every is not None:
            raise ValueError("a window is cut by rows or by time (every), not both")
        if self.every is not None:
            parse_duration(self.every, "monitoring.window.every")
        return self


class Sink(BaseModel):
    """Where alerts and routed registry events go."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    type: Literal["log", "file", "webhook", "slack"]
    name: str | None = None
    path: str | None = None
    url: str | None = None
    secret_env: str | None = None  # the environment variable holding the webhook's shared secret
    retries: int = Field(default=3, ge=0, le=10)
    timeout_s: float = Field(default=5.0, gt=0, le=120)

    @model_validator(mode="after")
    def _target(self) -> Sink:
        if self.type == "file" and not self.path:
            raise ValueError("a file sink needs a path")
        needs_url = self.type in ("webhook", "slack")
        if needs_url and not (self.url or "").startswith(("http://", "https://")):
            raise ValueError(f"a {self.type} sink needs an http(s) url")
        return self

    @property
    def label(self) -> str:
        return self.name or f"{self.type}:{self.path or self.url or 'keel'}"


class Cost(BaseModel):
    """Prices behind cost per 1,000 predictions: CPU time and a price per request."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    cpu_hour_price: float = Field(default=0.0, ge=0)
    request_price: float = Field(default=0.0, ge=0)


class Monitoring(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    drift_alerts: bool = False
    #: the severity of the default rules that fire when the model does not beat a naive
    #: baseline on its labelled predictions (``off`` leaves them out)
    baseline_alerts: Literal["off", "warning", "critical"] = "warning"
    accuracy_threshold: float | None = None
    reference: str = "training"  # the training snapshot, or a snapshot reference
    target: str | None = None  # the label column of the reference (default: the suite's target)
    window: Window = Field(default_factory=lambda: Window(rows=5000))
    drift: DriftRules = Field(default_factory=DriftRules)
    label_horizon: str = "90d"
    alerts: list[AlertRule] = Field(default_factory=list)
    cooldown: str = "1h"
    sinks: list[Sink] = Field(default_factory=lambda: [Sink(type="log")])
    events: list[str] = Field(default_factory=list)
    cost: Cost = Field(default_factory=Cost)

    @field_validator("alerts", mode="before")
    @classmethod
    def _parse_alerts(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [
            v
            if isinstance(v, AlertRule) or (isinstance(v, dict) and "text" in v)
            else parse_alert_rule(v, f"monitoring.alerts[{i}]")
            for i, v in enumerate(value)
        ]

    @field_validator("baseline_alerts", mode="before")
    @classmethod
    def _baseline_switch(cls, value: Any) -> Any:
        """YAML reads an unquoted ``off`` as false and ``on`` as true."""
        if value is False:
            return "off"
        return "warning" if value is True else value

    @field_validator("label_horizon", "cooldown")
    @classmethod
    def _duration(cls, value: str, info: ValidationInfo) -> str:
        parse_duration(value, f"monitoring.{info.field_name}")
        return value

    @model_validator(mode="after")
    def _default_rules(self) -> Monitoring:
        """``accuracy_threshold`` and ``drift_alerts`` are shorthands for the usual rules."""
        rules = list(self.alerts)
        texts = {r.metric for r in rules if r.against is None}  # a reference rule is no threshold
        if self.accuracy_threshold is not None and "accuracy" not in texts:
            rules.append(parse_alert_rule(f"accuracy < {self.accuracy_threshold:g}"))
        if self.drift_alerts and "drifted_features" not in texts:
            rules.append(parse_alert_rule("drifted_features >= 1"))
        if self.baseline_alerts != "off":
            # one for classifiers, one for regressors: each observes nothing for the other task
            for metric, baseline in BASELINE_RULES:
                if not any(r.metric == metric and r.baseline == baseline for r in rules):
                    rules.append(
                        parse_alert_rule(
                            f"{metric} beats baseline {baseline} as {self.baseline_alerts}"
                        )
                    )
        if rules != list(self.alerts):
            object.__setattr__(self, "alerts", rules)
        return self


#: the rules ``monitoring.baseline_alerts`` adds: a model must beat a constant on its labels
BASELINE_RULES = (("accuracy", "majority"), ("rmse", "mean"))


#: the input checks a policy can flag or reject, named as the log and monitoring name them
INPUT_CHECKS = ("out_of_range", "unseen_category")


class Inputs(BaseModel):
    """What serving does with a row whose value the model never saw in training: ``flag``
    answers it and marks it (in the answer, the prediction log and monitoring's data quality),
    ``reject`` answers no prediction for that row (it is still logged, with status
    ``rejected``). Production data drifts; by default it is served and measured, not refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    out_of_range: Literal["flag", "reject"] = "flag"
    unseen_category: Literal["flag", "reject"] = "flag"

    def rejects(self, check: str) -> bool:
        """Whether a row failing ``check`` (one of ``INPUT_CHECKS``) is rejected."""
        return bool(getattr(self, check) == "reject")


PRESETS: dict[str, dict[str, Any]] = {
    "low": {
        "promotion": {"require_blessing": False},
        "rollout": {"strategy": "replace", "auto_rollback": False},
        "monitoring": {"drift_alerts": False, "baseline_alerts": "warning"},
    },
    "medium": {
        "promotion": {"require_blessing": True},
        "rollout": {"strategy": "replace", "auto_rollback": False},
        "monitoring": {
            "drift_alerts": True,
            "baseline_alerts": "critical",
            "alerts": [
                "accuracy below reference",
                "rmse above reference",
                "estimated_accuracy below reference",
            ],
        },
        "retraining": {"schedule": "0 3 * * 0"},
    },
    "high": {
        "promotion": {"require_blessing": True, "require_comparative": True},
        "rollout": {"strategy": "canary", "steps": [5, 25, 50, 100], "auto_rollback": True},
        "monitoring": {
            "drift_alerts": True,
            "baseline_alerts": "critical",
            "alerts": [
                "accuracy below reference as critical",
                "rmse above reference as critical",
                "estimated_accuracy below reference",
                "estimated_roc_auc below reference",
            ],
        },
        "retraining": {"schedule": "0 3 * * 0"},
    },
}


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    risk_profile: RiskProfile = "low"
    suites: dict[str, Suite] = Field(default_factory=dict)
    gates: Gates = Field(default_factory=Gates)
    promotion: Promotion = Field(default_factory=Promotion)
    rollout: Rollout = Field(default_factory=Rollout)
    monitoring: Monitoring = Field(default_factory=Monitoring)
    retraining: Retraining = Field(default_factory=Retraining)
    inputs: Inputs = Field(default_factory=Inputs)

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        # InvalidInput (not ValueError) so the error names the field, not just "policy"
        if self.gates.suite is not None and self.gates.suite not in self.suites:
            raise InvalidInput("gates.suite", f"names {self.gates.suite!r}, which is not in suites")
        for index, gate in enumerate(self.gates.checks):
            if gate.kind == "slice":
                suite = self.gate_suite()
                if suite is not None and gate.slice not in suite.slices:
                    raise InvalidInput(
                        f"gates.checks[{index}]",
                        f"{gate.text!r} names a slice the suite does not define",
                    )
        kinds = {g.kind for g in self.gates.checks}
        if self.promotion.require_blessing and not kinds & {
            "absolute",
            "slice",
            "cost",
            "baseline",
        }:
            raise InvalidInput(
                "gates.checks",
                f"the {self.risk_profile} profile requires at least one absolute gate "
                "(e.g. 'accuracy >= 0.92')",
            )
        ordered = any(s.time_ordered or s.time_column is not None for s in self.suites.values())
        sentences = [(f"monitoring.alerts[{i}]", r) for i, r in enumerate(self.monitoring.alerts)]
        sentences += [
            (f"retraining.triggers[{i}]", t.rule)
            for i, t in enumerate(self.retraining.triggers)
            if t.rule is not None
        ]
        for where, rule in sentences:
            if rule.baseline == "persistence" and not ordered:
                raise InvalidInput(
                    where,
                    f"{rule.text!r}: persistence needs time-ordered data; set time_column or "
                    "time_ordered on a suite",
                )
        if self.promotion.require_comparative and "comparative" not in kinds:
            raise InvalidInput(
                "gates.checks",
                f"the {self.risk_profile} profile requires a comparison with the champion, e.g. "
                "'roc_auc not worse than champion by more than 0.005 at 95% confidence'",
            )
        guarded = self.promotion.require_blessing or self.promotion.require_comparative
        suite, name = self.gate_suite(), self.gate_suite_name()
        compares = guarded and self.gates.compares_with_champion
        if compares and suite is not None and suite.compare_with != "champion":
            # a blessing must name the champion it beat; this suite would never compare
            raise InvalidInput(
                f"suites.{name}.compare_with",
                f"is {suite.compare_with!r}, but the gates compare with the champion and a "
                "promotion needs a blessing against it; set compare_with: champion",
            )
        return self

    def gate_suite(self) -> Suite | None:
        name = self.gates.suite or (next(iter(self.suites)) if self.suites else None)
        return self.suites.get(name) if name else None

    def gate_suite_name(self) -> str | None:
        return self.gates.suite or (next(iter(self.suites)) if self.suites else None)

    @classmethod
    def parse(cls, data: dict[str, Any] | None, source: str = "policy") -> Policy:
        """Validate a policy mapping on top of its risk profile's preset."""
        if data is not None and not isinstance(data, dict):
            raise InvalidInput(
                source,
                f"a policy is a mapping of sections (e.g. {{'risk_profile': 'low'}}), not "
                f"{type(data).__name__}; for a YAML file use `keel policy apply` or "
                "keel.policy_files.read_policy_file",
            )
        data = dict(data or {})
        profile = data.get("risk_profile", "low")
        if not isinstance(profile, str) or profile not in PRESETS:
            raise InvalidInput(
                f"{source}.risk_profile", f"{profile!r} is not one of low, medium, high"
            )
        merged = _merge(PRESETS[profile], data)
        try:
            return cls.model_validate(merged)
        except InvalidInput as exc:
            raise InvalidInput(f"{source}.{exc.field}", exc.problem) from exc
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            message = str(first["msg"]).removeprefix("Value error, ")
            if first["type"] == "extra_forbidden":
                message = unknown_key(str(first["loc"][-1]), _known_keys(cls, first["loc"][:-1]))
            raise InvalidInput(f"{source}.{where}" if where else source, message) from exc

    def to_dict(self) -> dict[str, Any]:
        out = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        out["gates"]["checks"] = [g.text for g in self.gates.checks]
        out["monitoring"]["alerts"] = [r.text for r in self.monitoring.alerts]
        # kept even when None: dropping it would let the preset's schedule return on re-parsing
        out["retraining"]["schedule"] = self.retraining.schedule
        out["retraining"]["triggers"] = [t.text for t in self.retraining.triggers]
        return out


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def unknown_key(key: str, known: list[str]) -> str:
    """The problem of a key no schema knows, naming the closest known one (a typo is the usual
    cause: ``monitorng`` for ``monitoring``)."""
    import difflib

    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
    return f"unknown key {key!r}{hint}"


def _known_keys(model: type[BaseModel], location: tuple[Any, ...]) -> list[str]:
    """The keys the section at ``location`` of ``model`` takes (its fields and their aliases)."""
    current: Any = model
    for part in location:
        field = getattr(current, "model_fields", {}).get(str(part))
        if field is None:
            return []
        kinds = [field.annotation, *typing.get_args(field.annotation)]
        current = next((k for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)), None)
        if current is None:
            return []
    names = []
    for name, field in current.model_fields.items():
        names.append(field.alias or name)
    return sorted(names)
