"""The monitoring section of a policy: windows, drift rules, alert rules and sinks, prices.

How the prediction log of a model is watched once it serves: how the log is cut into windows,
when a feature counts as drifted, which alert rules fire (with the shorthands that add the usual
ones) and where alerts go. Kept apart from the policy's other sections so each stays small.

>>> Monitoring.model_validate({"accuracy_threshold": 0.9}).alerts[0].text
'accuracy < 0.9'
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from keel.domain.alert_rules import AlertRule, parse_alert_rule
from keel.domain.durations import parse_duration

__all__ = ["BASELINE_RULES", "Cost", "DriftRules", "Monitoring", "Sink", "Window"]

#: the rules ``monitoring.baseline_alerts`` adds: a model must beat a constant on its labels
BASELINE_RULES = (("accuracy", "majority"), ("rmse", "mean"))


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
