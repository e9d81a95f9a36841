"""A model's policy: risk profile, evaluation suites, gates, promotion, rollout, monitoring, inputs.

Policies live in ``keel.yaml`` (under ``models: {NAME: ...}``) or ``policies/NAME.yaml``. A risk
profile is a preset of every field; anything the file sets overrides the preset field by field:

>>> policy = Policy.parse({"risk_profile": "medium", "gates": {"checks": ["accuracy >= 0.92"]}})
>>> policy.promotion.require_blessing, policy.gates.checks[0].threshold
(True, 0.92)

This module holds the policy as a whole: the presets, the checks that span sections, parsing and
its error messages. Each section is its own module, its names re-exported here so
``keel.domain.policy`` stays the one place to import a policy's parts from:

- ``keel.domain.policy_gates``: suites, gate sentences (``accuracy >= 0.92``,
  ``roc_auc not worse than champion by more than 0.005 at 95% confidence``, ...), promotion;
- ``keel.domain.policy_rollout``: how a new version reaches traffic;
- ``keel.domain.policy_monitoring``: windows, drift rules, alert rules, sinks, prices;
- ``keel.domain.retraining``: what fires a retrain;
- ``keel.domain.policy_inputs``: what serving does with a value the model never saw;
- ``keel.domain.config_keys``: merging over the preset and naming unknown keys.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from keel.domain.config_keys import known_keys, merge
from keel.domain.config_keys import unknown_key as unknown_key
from keel.domain.metric_names import (
    CLASSIFICATION_METRICS,
    COMPARABLE,
    COST_METRICS,
    LOWER_IS_BETTER,
    METRICS,
    REGRESSION_METRICS,
)
from keel.domain.policy_gates import BASELINES as BASELINES
from keel.domain.policy_gates import CONFIDENCES as CONFIDENCES
from keel.domain.policy_gates import Gate, Gates, Promotion, Suite, parse_gate
from keel.domain.policy_gates import SliceCondition as SliceCondition
from keel.domain.policy_inputs import INPUT_CHECKS, Inputs
from keel.domain.policy_monitoring import BASELINE_RULES as BASELINE_RULES
from keel.domain.policy_monitoring import Cost as Cost
from keel.domain.policy_monitoring import DriftRules as DriftRules
from keel.domain.policy_monitoring import Monitoring
from keel.domain.policy_monitoring import Sink as Sink
from keel.domain.policy_monitoring import Window as Window
from keel.domain.policy_rollout import Rollout as Rollout
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

PRESETS: dict[str, dict[str, Any]] = {
    "low": {
        "promotion": {"require_blessing": False},
        "rollout": {"strategy": "replace", "auto_rollback": False},
        "monitoring": {"drift_alerts": False, "baseline_alerts": "warning"},
        # the freshest model for low stakes: the blessed candidate is refit on its holdout too
        "retraining": {"training": {"refit": True}},
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
        merged = merge(PRESETS[profile], data)
        try:
            return cls.model_validate(merged)
        except InvalidInput as exc:
            raise InvalidInput(f"{source}.{exc.field}", exc.problem) from exc
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            message = str(first["msg"]).removeprefix("Value error, ")
            if first["type"] == "extra_forbidden":
                message = unknown_key(str(first["loc"][-1]), known_keys(cls, first["loc"][:-1]))
            raise InvalidInput(f"{source}.{where}" if where else source, message) from exc

    def to_dict(self) -> dict[str, Any]:
        out = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        out["gates"]["checks"] = [g.text for g in self.gates.checks]
        out["monitoring"]["alerts"] = [r.text for r in self.monitoring.alerts]
        # kept even when None: dropping it would let the preset's schedule return on re-parsing
        out["retraining"]["schedule"] = self.retraining.schedule
        out["retraining"]["triggers"] = [t.text for t in self.retraining.triggers]
        return out
