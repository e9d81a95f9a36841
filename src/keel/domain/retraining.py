"""The retraining section of a policy: what fires a retrain, what holds it back, what it trains on.

Triggers are sentences, parsed when the policy is read:

- an alert-rule sentence (``accuracy < 0.92 over the last 2,000 labelled predictions``,
  ``estimated_accuracy < 0.92``, ``accuracy_drop >= 1``, ``drifted_features >= 3``): measured on
  the champion's own predictions only, so a new champion is not judged by its predecessor's;
- ``drift alert``: a drift alert of the model is firing;
- a relative sentence, ``accuracy drops by 0.02 over the last 1,000 labelled predictions`` (or,
  for a metric where lower is better, ``log_loss rises by 0.05 ...``): the champion's metric over
  its newest N labelled predictions is at least the margin worse than over its first N labelled
  predictions, its own level when it started serving (so no fixed threshold has to be guessed
  before launch, and each new champion is held to what it scored itself). With ``against the
  last K champions`` (``accuracy drops by 0.01 against the last 5 champions over the last 1,000
  labelled predictions``) the level is the mean over the newest K champions, this one included,
  of each one's first N: what a fresh model has been delivering, which one lucky or unlucky
  first window cannot set;

and, when the section sets a ``schedule`` (cron), each scheduled time that passes fires one;
when it sets a ``max_age`` (a duration), a champion that has served that long since the last
retrain (or since it took over) fires one: a cap on staleness that a calendar cannot say.

A manual retrain (``keel retrain MODEL``) needs no trigger. Guards hold a fired trigger back:
``min_interval`` between retrains, ``max_per_day``, and ``min_new_labels`` labelled since the last.

>>> section = Retraining.model_validate({"triggers": ["accuracy < 0.92", "drift alert"]})
>>> [t.kind for t in section.triggers]
['rule', 'drift_alert']
>>> drop = parse_trigger("accuracy drops by 0.02 over the last 1,000 labelled predictions")
>>> drop.kind, drop.metric, drop.margin, drop.rows, drop.champions
('drop', 'accuracy', 0.02, 1000, 1)
>>> parse_trigger("accuracy drops by 0.01 against the last 5 champions").champions
5
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from keel.domain.alert_rules import DEFAULT_LABELLED_ROWS, AlertRule, parse_alert_rule
from keel.domain.durations import parse_duration
from keel.domain.metric_names import CLASSIFICATION_METRICS, LOWER_IS_BETTER, REGRESSION_METRICS
from keel.domain.numbers import finite, whole
from keel.errors import InvalidInput

__all__ = [
    "DEFAULT_SETUPS",
    "HOLDOUT_TAG",
    "REFIT_TAG",
    "RETRAIN_TAG",
    "SETUP_TAG",
    "Retraining",
    "SetupSelection",
    "Training",
    "TrainingSetup",
    "Trigger",
    "next_run_after",
    "parse_trigger",
]

#: metrics that lie between 0 and 1, so no drop of 1 or more can happen
BOUNDED_METRICS = frozenset(CLASSIFICATION_METRICS) - {"log_loss"}
#: the tag that ties a version to the retrain that made it
RETRAIN_TAG = "retrain"
#: the tag of a refit (``training.refit``): the version that passed the gates in its stead
REFIT_TAG = "refit_of"
#: the tag naming the snapshot a retrain held out and gated its candidate on
HOLDOUT_TAG = "holdout"
#: the tag naming the training setup a retrain chose for the version
SETUP_TAG = "training_setup"


#: the sentences that name the value-of-retraining rule (``keel.controller.retrain_value``)
VALUE_SENTENCES = ("value", "value of retraining", "expected gain")
_NUMBER = r"(?:\d{1,3}(?:,\d{3})+|\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_DROP = re.compile(
    rf"^(?P<metric>\w+)\s+(?P<way>drops|rises)\s+by\s+(?P<margin>{_NUMBER})"
    rf"(?:\s+against\s+the\s+last\s+(?P<champions>{_NUMBER})\s+champions?)?"
    rf"(?:\s+over\s+the\s+last\s+(?P<rows>{_NUMBER})\s+labell?ed\s+predictions)?$"
)


class Trigger(BaseModel):
    """One parsed trigger: an alert ``rule``, a ``drift_alert``, or a ``drop`` of ``metric`` by
    ``margin`` over the newest ``rows`` labelled predictions against the first ones of the
    newest ``champions`` champions (1: the champion's own)."""

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    text: str
    kind: Literal["rule", "drift_alert", "drop", "value"]
    rule: AlertRule | None = None
    metric: str | None = None
    margin: float | None = None
    rows: int | None = None
    champions: int = 1

    @property
    def lower_is_better(self) -> bool:
        return self.metric in LOWER_IS_BETTER

    def worse_by(self, baseline: float, newest: float) -> float:
        """How much worse ``newest`` is than ``baseline`` (positive: worse) for a drop trigger."""
        return newest - baseline if self.lower_is_better else baseline - newest


def parse_trigger(text: Any, field: str = "retraining.triggers") -> Trigger:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(field, "a trigger is a sentence, e.g. 'accuracy < 0.92'")
    clean = " ".join(text.split())
    lowered = clean.lower()
    if lowered in ("drift alert", "drift"):
        return Trigger(text=clean, kind="drift_alert")
    if lowered in VALUE_SENTENCES:
        return Trigger(text=clean, kind="value")
    if match := _DROP.match(clean):
        return _drop(clean, match, field)
    try:
        rule = parse_alert_rule(clean, field)
    except InvalidInput as exc:
        if "is not an alert rule" not in exc.problem:  # a rule, wrong in a way it can name
            raise InvalidInput(field, exc.problem) from exc
        raise InvalidInput(
            field,
            f"{clean!r} is not a trigger: write an alert rule (e.g. 'accuracy < 0.92 over the "
            "last 2,000 labelled predictions'), a drop (e.g. 'accuracy drops by 0.02 over the "
            "last 1,000 labelled predictions'; 'against the last 5 champions' goes before "
            "'over') or 'drift alert'",
        ) from exc
    return Trigger(text=clean, kind="rule", rule=rule)


def _drop(clean: str, match: re.Match[str], field: str) -> Trigger:
    metric, way = match["metric"], match["way"]
    if metric not in CLASSIFICATION_METRICS and metric not in REGRESSION_METRICS:
        known = ", ".join(sorted({*CLASSIFICATION_METRICS, *REGRESSION_METRICS}))
        raise InvalidInput(
            field, f"{clean!r}: {metric!r} is not a metric of labelled predictions; known: {known}"
        )
    worse = "rises" if metric in LOWER_IS_BETTER else "drops"
    if way != worse:
        better = "lower" if worse == "rises" else "higher"
        raise InvalidInput(
            field,
            f"{clean!r}: {better} {metric} is better, so it gets worse when it {worse}; "
            f"write '{metric} {worse} by ...'",
        )
    margin = finite(match["margin"], field, clean)
    if margin <= 0:
        raise InvalidInput(field, f"{clean!r}: the margin must be above 0")
    if metric in BOUNDED_METRICS and margin >= 1:
        raise InvalidInput(
            field, f"{clean!r}: {metric} lies between 0 and 1, so it cannot move by {margin:g}"
        )
    rows = DEFAULT_LABELLED_ROWS
    if match["rows"] is not None:
        rows = whole(match["rows"], field, clean)
        if rows < 1:
            raise InvalidInput(field, f"{clean!r}: the span must be at least 1")
    champions: int | None = 1
    if match["champions"] is not None:
        champions = _whole(finite(match["champions"], field, clean))
        if champions is None or champions < 1:
            raise InvalidInput(
                field, f"{clean!r}: the champions to compare with must be a whole number, 1 or more"
            )
    assert champions is not None
    return Trigger(
        text=clean, kind="drop", metric=metric, margin=margin, rows=rows, champions=champions
    )


def _whole(value: float) -> int | None:
    """``value`` as a whole number (None when it has a fraction)."""
    return int(value) if value.is_integer() else None


def validate_cron(expression: str, field: str) -> str:
    from cronsim import CronSim, CronSimError

    try:
        CronSim(expression, datetime(2000, 1, 1))
    except (CronSimError, ValueError) as exc:
        raise InvalidInput(field, f"{expression!r} is not a cron expression: {exc}") from exc
    return expression


def next_run_after(expression: str, moment: datetime) -> datetime:
    """The first time the cron ``expression`` names after ``moment`` (in the moment's zone)."""
    from cronsim import CronSim

    return next(iter(CronSim(expression, moment)))


class TrainingSetup(BaseModel):
    """One way to train on a retrain's window: its newest ``rows`` (a share of the training
    rows, 1 for all of them), weighted by age when ``half_life`` is set (a share of the setup's
    own rows: the weight halves every that share back from the newest row).

    >>> TrainingSetup(name="recent", rows=0.25).cost(0.1)
    0.225
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = Field(min_length=1, max_length=60)
    rows: float = Field(default=1.0, gt=0, le=1)
    half_life: float | None = Field(default=None, gt=0, le=10)

    def cost(self, validation: float) -> float:
        """What fitting this setup for the choice costs, in fits on the whole window: the
        share of the rows it trains on once the newest ``validation`` share is kept back."""
        return self.rows * (1 - validation)


#: the setups a retrain chooses from by default: the whole window, its newest 40% and its newest
#: 15% (a stream that moves fast is learnt best from its recent past alone); unweighted, so each
#: costs its rows' share of a fit whatever the learner, and with the final fit they cost 2.4
DEFAULT_SETUPS = (
    TrainingSetup(name="all rows"),
    TrainingSetup(name="newest 40%", rows=0.4),
    TrainingSetup(name="newest 15%", rows=0.15),
)


class SetupSelection(BaseModel):
    """How a retrain chooses its training setup: each of ``setups`` is fit on the training
    rows less their newest ``validation`` share and scored on that share, which none of them
    trained on; the best one's setup is then the retrain's. ``budget`` bounds the whole retrain
    in fits on the window: the choice's fits plus the final one (setups past it are skipped,
    in order, and the record says so). ``enabled: false`` trains the one setup the training
    section describes."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    enabled: bool = True
    setups: tuple[TrainingSetup, ...] = Field(default=DEFAULT_SETUPS, min_length=1)
    validation: float = Field(default=0.1, gt=0, lt=0.5)
    budget: float = Field(default=3.0, ge=1)

    @field_validator("setups")
    @classmethod
    def _distinct(cls, value: tuple[TrainingSetup, ...]) -> tuple[TrainingSetup, ...]:
        names = [s.name for s in value]
        if len(set(names)) != len(names):
            raise ValueError("each setup needs a name of its own")
        return value


class Training(BaseModel):
    """The training window of a retrain: the newest labelled production rows, topped up from
    the original training snapshot; the newest ``holdout`` share is kept back for the gates.

    ``refit``: once the candidate passed the gates, fit the same trainer again on the training
    rows and the holdout together and ship that model instead. It learns from the newest rows
    (the ones most like what it will serve), but its blessing is by proxy: the gates judged its
    twin, trained without the holdout, on data the shipped model has seen.

    ``recency_half_life`` (rows): weight each training row by its age, halving every that many
    rows back from the newest (passed to the estimator as ``sample_weight``), so a stream that
    keeps changing is learnt mostly from its recent past without throwing the rest away.

    ``selection``: choose among several setups by validation (``SetupSelection``); on by
    default, off when ``recency_half_life`` is set and ``selection`` is not (that policy chose
    its one setup itself).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    recent_rows: int = Field(default=20_000, ge=10)
    include_snapshot: Literal["always", "never", "fill"] = "fill"
    holdout: float = Field(default=0.2, gt=0, lt=0.9)
    min_rows: int = Field(default=200, ge=10)
    refit: bool = False
    recency_half_life: int | None = Field(default=None, ge=1)
    selection: SetupSelection | None = None

    @property
    def choice(self) -> SetupSelection:
        """The setup selection in force: the policy's, else the default one."""
        return self.selection or SetupSelection()

    @property
    def selecting(self) -> bool:
        """Whether a retrain chooses its setup (see the class doc for the default)."""
        if self.selection is None and self.recency_half_life is not None:
            return False
        return self.choice.enabled and len(self.choice.setups) > 1


class Retraining(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    schedule: str | None = None
    triggers: list[Trigger] = Field(default_factory=list)
    max_age: str | None = None
    min_interval: str | None = None
    max_per_day: int = Field(default=24, ge=1)
    min_new_labels: int = Field(default=0, ge=0)
    training: Training = Field(default_factory=Training)
    trainer: str | None = None  # "module:function"; by default the champion's estimator is refit
    executor: Literal["inline", "process", "ray"] = "inline"
    max_attempts: int = Field(default=3, ge=1, le=20)
    #: what a retrain costs, in points of the main metric (accuracy 0.01 is a point), for the
    #: value rule: it retrains when a fresh model's expected gain over the coming windows is
    #: at least this much
    cost: float = Field(default=10.0, gt=0)

    @property
    def by_value(self) -> bool:
        """Whether the value rule decides: named as a trigger, or the default when the policy
        declares no trigger, schedule or ``max_age`` of its own."""
        if any(t.kind == "value" for t in self.triggers):
            return True
        return not self.triggers and self.schedule is None and self.max_age is None

    @field_validator("triggers", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        # a mapping (a dumped Trigger) is parsed again from its text, which says everything:
        # taking its "kind" on trust let {"text": "whatever", "kind": "rule"} through, rule-less
        return [
            v
            if isinstance(v, Trigger)
            else parse_trigger(
                v.get("text") if isinstance(v, dict) else v, f"retraining.triggers[{i}]"
            )
            for i, v in enumerate(value)
        ]

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else validate_cron(value, "retraining.schedule")

    @field_validator("min_interval", "max_age")
    @classmethod
    def _duration(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            parse_duration(value, f"retraining.{info.field_name}")
        return value

    @field_validator("trainer")
    @classmethod
    def _trainer(cls, value: str | None) -> str | None:
        if value is not None and (":" not in value or value.startswith(":") or value.endswith(":")):
            raise ValueError(f"{value!r} is not 'module:function'")
        return value
