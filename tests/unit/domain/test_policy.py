"""Policies: the gate sentence parser, risk-profile presets, validation errors and policy files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.domain.policy import (
    BASELINES,
    COMPARABLE,
    COST_METRICS,
    METRICS,
    PRESETS,
    Gate,
    Policy,
    Suite,
    parse_gate,
)
from keel.errors import InvalidInput
from keel.policy_files import find_policy, read_policy_file

QUALITY = sorted(METRICS - set(COST_METRICS))


@pytest.mark.parametrize("metric", ["ece", "r2"])
def test_comparisons_without_an_interval_are_refused(metric: str) -> None:
    with pytest.raises(InvalidInput, match="no interval"):
        parse_gate(f"{metric} not worse than champion by more than 0.01")


CONFIDENCE_TEXT = {"90": 90.0, "95": 95.0, "97.5": 97.5, "99": 99.0, "99.5": 99.5, "95.0": 95.0}

space = st.sampled_from([" ", "  ", "\t", " \n "])
optional_space = st.sampled_from(["", " ", "  "])
name_start = st.sampled_from("abcxyzABZ019")
name_rest = st.text(alphabet="abcdefxyz0123456789_.-", max_size=12)
slice_names = st.text(alphabet="abcxyz019_.-", min_size=1, max_size=12)
snapshots = st.one_of(
    st.none(),
    st.tuples(name_start, name_rest, st.sampled_from(["", "/1", "/12"])).map("".join),
)


@st.composite
def numbers(draw: st.DrawFn, *, negative: bool = True) -> tuple[str, float]:
    """A number as a gate author might write it, and its value."""
    if draw(st.booleans()):
        value = draw(
            st.floats(
                min_value=-1e6 if negative else 0.0,
                max_value=1e6,
                allow_nan=False,
                allow_infinity=False,
            )
        )
        text = draw(st.sampled_from([repr(value), f"{value:g}", f"{value:.3e}"]))
        return text, float(text)
    whole = draw(st.integers(min_value=-1000 if negative else 0, max_value=1000))
    text = draw(st.sampled_from([str(whole), f"{whole}.", f"{whole}.50"]))
    if text.startswith("-") and not negative:
        text = text[1:]
    return text, float(text)


def with_snapshot(sentence: str, snapshot: str | None, gap: str) -> str:
    return sentence if snapshot is None else f"{sentence}{gap}on{gap}{snapshot}"


def same_after_normalising(gate: Gate, written: str) -> None:
    assert gate.text == " ".join(written.split())


@settings(deadline=None)
@given(
    metric=st.sampled_from(QUALITY),
    op=st.sampled_from([">=", "<=", ">", "<"]),
    number=numbers(),
    snapshot=snapshots,
    gaps=st.tuples(optional_space, optional_space, space),
)
def test_absolute_gates_parse(metric, op, number, snapshot, gaps) -> None:
    text, value = number
    written = with_snapshot(f"{metric}{gaps[0]}{op}{gaps[1]}{text}", snapshot, gaps[2])
    gate = parse_gate(written)
    assert (gate.kind, gate.metric, gate.op, gate.threshold) == ("absolute", metric, op, value)
    assert (gate.slice, gate.snapshot, gate.baseline) == (None, snapshot, None)
    same_after_normalising(gate, written)


@settings(deadline=None)
@given(
    metric=st.sampled_from(QUALITY),
    op=st.sampled_from([">=", "<=", ">", "<"]),
    number=numbers(),
    name=slice_names,
    snapshot=snapshots,
    gaps=st.tuples(space, optional_space, optional_space, space),
)
def test_slice_gates_parse(metric, op, number, name, snapshot, gaps) -> None:
    text, value = number
    written = with_snapshot(
        f"slice{gaps[0]}{name}{gaps[1]}:{gaps[2]}{metric} {op} {text}", snapshot, gaps[3]
    )
    gate = parse_gate(written)
    assert (gate.kind, gate.slice, gate.metric, gate.op) == ("slice", name, metric, op)
    assert (gate.threshold, gate.snapshot) == (value, snapshot)


@settings(deadline=None)
@given(
    metric=st.sampled_from(COST_METRICS),
    op=st.sampled_from([">=", "<=", ">", "<"]),
    number=numbers(),
)
def test_cost_gates_parse(metric, op, number) -> None:
    text, value = number
    gate = parse_gate(f"{metric} {op} {text}")
    assert (gate.kind, gate.metric, gate.op, gate.threshold) == ("cost", metric, op, value)
    assert not gate.higher_is_better


@settings(deadline=None)
@given(
    metric=st.sampled_from(sorted(COMPARABLE)),
    margin=numbers(negative=False),
    confidence=st.one_of(st.none(), st.sampled_from(sorted(CONFIDENCE_TEXT))),
    percent_gap=optional_space,
    snapshot=snapshots,
    gap=space,
)
def test_comparative_gates_parse(metric, margin, confidence, percent_gap, snapshot, gap) -> None:
    text, value = margin
    written = f"{metric}{gap}not worse than champion by{gap}more than {text}"
    if confidence is not None:
        written += f" at {confidence}{percent_gap}% confidence"
    written = with_snapshot(written, snapshot, gap)
    gate = parse_gate(written)
    assert (gate.kind, gate.metric, gate.margin) == ("comparative", metric, value)
    assert gate.confidence == (95.0 if confidence is None else CONFIDENCE_TEXT[confidence])
    assert (gate.op, gate.threshold, gate.snapshot) == (None, None, snapshot)
    same_after_normalising(gate, written)


@settings(deadline=None)
@given(
    metric=st.sampled_from(QUALITY),
    baseline=st.sampled_from(BASELINES),
    word=st.sampled_from(["", "baseline "]),
    margin=st.one_of(st.none(), numbers(negative=False)),
    snapshot=snapshots,
)
def test_baseline_gates_parse(metric, baseline, word, margin, snapshot) -> None:
    written = f"{metric} beats {word}{baseline}"
    if margin is not None:
        written += f" by {margin[0]}"
    written = with_snapshot(written, snapshot, " ")
    gate = parse_gate(written)
    assert (gate.kind, gate.metric, gate.baseline) == ("baseline", metric, baseline)
    assert gate.margin == (0.0 if margin is None else margin[1])
    assert gate.snapshot == snapshot


gate_words = st.sampled_from(
    [
        "accuracy",
        "roc_auc",
        "size_mb",
        "slice",
        "young:",
        ":",
        ">=",
        "<",
        "0.9",
        "-1",
        "1e5",
        ".",
        "not",
        "worse",
        "than",
        "champion",
        "by",
        "more",
        "at",
        "95%",
        "%",
        "confidence",
        "beats",
        "baseline",
        "majority",
        "on",
        "holdout/2",
        "١٢",
        "\u00a0",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=80),
        st.lists(gate_words, max_size=12).map(" ".join),
        st.lists(gate_words, max_size=12).map("".join),
    )
)
def test_any_text_is_a_gate_or_invalid_input_and_nothing_else(text: str) -> None:
    try:
        gate = parse_gate(text, "gates.checks[3]")
    except InvalidInput as exc:
        assert exc.field == "gates.checks[3]"
        assert exc.problem
    else:
        assert isinstance(gate, Gate)
        assert gate.metric in METRICS


@pytest.mark.parametrize("value", [None, 3, 0.9, ["accuracy >= 0.9"], {"a": 1}])
def test_non_text_is_invalid_input(value: Any) -> None:
    with pytest.raises(InvalidInput, match="not a gate sentence"):
        parse_gate(value)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("acuracy >= 0.9", "unknown metric 'acuracy'"),
        ("accuracy >= 0.9.1", "is not a gate"),
        ("accuracy >= high", "is not a gate"),
        ("accuracy => 0.9", "is not a gate"),
        ("accuracy >= 0.9 on", "is not a gate"),
        ("roc_auc not worse than champion by more than 0.01 at 96% confidence", "confidence"),
        ("roc_auc not worse than champion by more than -0.01", "must not be negative"),
        ("accuracy beats baseline random", "unknown baseline 'random'"),
        ("accuracy beats baseline majority by -0.1", "must not be negative"),
        ("slice young: size_mb <= 5", "whole model"),
        ("latency_p99_ms not worse than champion by more than 1", "cost metrics"),
        ("size_mb beats baseline majority", "cost metrics"),
    ],
)
def test_bad_gates_name_the_problem(text: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_gate(text, "gates.checks[0]")
    assert raised.value.field == "gates.checks[0]"
    assert problem in raised.value.problem


def test_unquoted_slice_gates_in_yaml_get_a_hint() -> None:
    import yaml

    data = yaml.safe_load("gates:\n  checks:\n    - accuracy > 0.8\n    - slice a: f1 > 0.5\n")
    with pytest.raises(InvalidInput) as raised:
        Policy.parse(data)
    assert raised.value.field == "policy.gates.checks[1]"
    assert "quote a gate" in raised.value.problem
    policy = Policy.parse({"gates": {"checks": ["accuracy > 0.8"]}})
    assert Policy.model_validate(policy.model_dump()) == policy  # parsed gates pass through


def test_direction_follows_the_metric() -> None:
    assert parse_gate("roc_auc >= 0.8").higher_is_better
    assert not parse_gate("log_loss <= 0.3").higher_is_better
    assert not parse_gate("rmse not worse than champion by more than 0.1").higher_is_better


# -- presets and overrides ---------------------------------------------------------------------
HIGH_GATES = {
    "checks": ["accuracy >= 0.9", "roc_auc not worse than champion by more than 0.005"],
}


def test_the_default_is_the_low_profile() -> None:
    for policy in (Policy.parse(None), Policy.parse({})):
        assert policy.risk_profile == "low"
        assert not policy.promotion.require_blessing
        assert policy.rollout.strategy == "replace"
        assert not policy.monitoring.drift_alerts
        assert policy.gates.checks == []


def test_presets_set_every_field_of_their_profile() -> None:
    medium = Policy.parse({"risk_profile": "medium", "gates": {"checks": ["accuracy >= 0.9"]}})
    assert medium.promotion.require_blessing and not medium.promotion.require_comparative
    assert medium.monitoring.drift_alerts
    assert medium.retraining.schedule == PRESETS["medium"]["retraining"]["schedule"]
    high = Policy.parse({"risk_profile": "high", "gates": HIGH_GATES})
    assert high.promotion.require_blessing and high.promotion.require_comparative
    assert not high.promotion.require_approval
    assert high.rollout.strategy == "canary"
    assert high.rollout.steps == [5, 25, 50, 100]
    assert high.rollout.auto_rollback


def test_the_file_overrides_the_preset_field_by_field() -> None:
    high = Policy.parse(
        {
            "risk_profile": "high",
            "gates": HIGH_GATES,
            "rollout": {"steps": [10, 100]},
            "promotion": {"require_approval": True},
            "retraining": {"schedule": None},
        }
    )
    assert high.rollout.steps == [10, 100]
    assert high.rollout.strategy == "canary" and high.rollout.auto_rollback
    assert high.promotion.require_approval and high.promotion.require_comparative
    assert high.retraining.schedule is None
    low = Policy.parse({"promotion": {"require_blessing": True}, "gates": HIGH_GATES})
    assert low.risk_profile == "low" and low.promotion.require_blessing


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"risk_profile": "medium", "gates": {"checks": ["accuracy >= 0.9"]}},
        {"risk_profile": "medium", "gates": {"checks": ["f1 > 0.5"]}, "retraining": {}},
        {
            "risk_profile": "medium",
            "gates": {"checks": ["mae < 3"]},
            "retraining": {"schedule": None},
            "monitoring": {"drift_alerts": False, "accuracy_threshold": 0.8},
        },
        {
            "risk_profile": "high",
            "suites": {
                "holdout": {
                    "snapshots": ["holdout", "recent/2"],
                    "target": "y",
                    "metrics": ["accuracy", "roc_auc"],
                    "slices": {"young": {"age": {"lt": 25}}, "de": {"region": ["DE", "AT"]}},
                    "time_column": "ts",
                    "resamples": 200,
                }
            },
            "gates": {
                "suite": "holdout",
                "checks": [*HIGH_GATES["checks"], "slice young: recall >= 0.6"],
            },
            "rollout": {"steps": [1, 100]},
        },
    ],
)
def test_to_dict_round_trips(data: dict[str, Any]) -> None:
    policy = Policy.parse(data)
    assert Policy.parse(policy.to_dict()) == policy


def test_a_disabled_schedule_stays_disabled_when_stored() -> None:
    medium = Policy.parse(
        {
            "risk_profile": "medium",
            "gates": {"checks": ["accuracy >= 0.9"]},
            "retraining": {"schedule": None},
        }
    )
    assert Policy.parse(medium.to_dict()).retraining.schedule is None


def test_slice_shorthands() -> None:
    suite = Suite.model_validate(
        {
            "snapshots": ["s"],
            "target": "y",
            "slices": {"de": {"region": "DE", "age": {"ge": 30}}, "eu": {"region": ["DE", "FR"]}},
        }
    )
    assert suite.slices["de"]["region"].eq == "DE"
    assert suite.slices["de"]["age"].ge == 30
    assert suite.slices["eu"]["region"].in_ == ["DE", "FR"]
    assert suite.resamples == 1000 and suite.compare_with == "champion"


# -- validation errors name the field ------------------------------------------------------------
SUITE = {"holdout": {"snapshots": ["holdout"], "target": "y", "slices": {"young": {"age": 20}}}}


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        ({"gates": {"checks": ["acc >= 0.9"]}}, "policy.gates.checks[0]", "unknown metric"),
        (
            {"gates": {"checks": ["accuracy >= 0.9", "recall >= 0,5"]}},
            "policy.gates.checks[1]",
            "is not a gate",
        ),
        (
            {"suites": {"h": {"snapshots": ["s"], "target": "y", "metrics": ["acc"]}}},
            "policy.suites.h.metrics",
            "unknown metric 'acc'",
        ),
        ({"risk_profile": "extreme"}, "policy.risk_profile", "not one of low, medium, high"),
        ({"risk_profile": ["high"]}, "policy.risk_profile", "not one of low, medium, high"),
        (
            {"risk_profile": "high", "gates": {"checks": ["accuracy >= 0.9"]}},
            "policy.gates.checks",
            "comparison with the champion",
        ),
        ({"risk_profile": "medium"}, "policy.gates.checks", "at least one absolute gate"),
        (
            {
                "risk_profile": "medium",
                "gates": {"checks": ["roc_auc not worse than champion by more than 0.01"]},
            },
            "policy.gates.checks",
            "at least one absolute gate",
        ),
        (
            {"suites": SUITE, "gates": {"checks": ["accuracy > 0.8", "slice old: f1 > 0.5"]}},
            "policy.gates.checks[1]",
            "slice the suite does not define",
        ),
        (
            {"gates": {"checks": ["accuracy not worse than champion by more than 0 at 80%"]}},
            "policy.gates.checks[0]",
            "is not a gate",
        ),
        (
            {"gates": {"checks": ["f1 not worse than champion by more than 0 at 80% confidence"]}},
            "policy.gates.checks[0]",
            "confidence must be one of",
        ),
        ({"suites": SUITE, "gates": {"suite": "recent"}}, "policy.gates.suite", "'recent'"),
        ({"suites": {"h": {"snapshots": [], "target": "y"}}}, "policy.suites.h.snapshots", ""),
        ({"suites": {"h": {"snapshots": ["s"]}}}, "policy.suites.h.target", "required"),
        (
            {"suites": {"h": {"snapshots": ["s"], "target": "y", "slices": {"a": {"x": {}}}}}},
            "policy.suites.h.slices.a.x",
            "needs one of eq, in",
        ),
        ({"rollout": {"strategy": "big-bang"}}, "policy.rollout.strategy", ""),
        (
            {"promotion": {"require_blesing": True}},
            "policy.promotion.require_blesing",
            "did you mean 'require_blessing'",
        ),
        ({"gates": {"checks": "accuracy >= 0.9"}}, "policy.gates.checks", "list"),
        ({"retraining": None}, "policy.retraining", "dictionary"),
    ],
)
def test_validation_errors_name_the_field(data: dict[str, Any], field: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        Policy.parse(data)
    assert raised.value.field == field
    assert problem in raised.value.problem
    assert str(raised.value).startswith(field)


def test_a_slice_gate_without_any_suite_is_accepted_until_a_suite_exists() -> None:
    policy = Policy.parse({"gates": {"checks": ["slice young: recall >= 0.5"]}})
    assert policy.gate_suite() is None and policy.gate_suite_name() is None
    chosen = Policy.parse(
        {"suites": {**SUITE, "other": SUITE["holdout"]}, "gates": {"suite": "other"}}
    )
    assert chosen.gate_suite_name() == "other"
    assert Policy.parse({"suites": SUITE}).gate_suite_name() == "holdout"


# -- policy files --------------------------------------------------------------------------------
POLICY_YAML = """\
risk_profile: medium
suites:
  holdout:
    snapshots: [holdout]
    target: target
gates:
  checks:
    - accuracy >= 0.9
    - accuracy beats baseline majority
"""


def test_a_models_own_file_wins_over_keel_yaml(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "credit.yaml").write_text(POLICY_YAML)
    (tmp_path / "keel.yaml").write_text(
        "store_url: sqlite:///x.db\nmodels:\n  credit:\n    risk_profile: low\n"
        "  fraud:\n    risk_profile: high\n    gates:\n      checks:\n"
        "        - accuracy >= 0.5\n"
        "        - roc_auc not worse than champion by more than 0.01 at 99% confidence\n"
    )
    policy, source = find_policy("credit", tmp_path)  # type: ignore[misc]
    assert source == str(tmp_path / "policies" / "credit.yaml")
    assert policy.risk_profile == "medium"
    assert [g.kind for g in policy.gates.checks] == ["absolute", "baseline"]
    fraud, where = find_policy("fraud", tmp_path)  # type: ignore[misc]
    assert where == f"{tmp_path / 'keel.yaml'}: models.fraud"
    assert fraud.risk_profile == "high" and fraud.gates.checks[1].confidence == 99.0
    assert find_policy("nobody", tmp_path) is None
    assert read_policy_file(tmp_path / "keel.yaml", "fraud") == fraud


def test_find_policy_reads_the_working_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_policy("credit") is None
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "credit.yaml").write_text(POLICY_YAML)
    found = find_policy("credit")
    assert found is not None and found[0].risk_profile == "medium"


@pytest.mark.parametrize(
    ("name", "text", "model", "field", "problem"),
    [
        ("credit.yaml", "risk_profile: [medium\n", None, "credit.yaml", "is not valid YAML"),
        ("credit.yaml", "- accuracy >= 0.9\n", None, "credit.yaml", "must hold a mapping"),
        ("credit.yaml", "", None, "credit.yaml", "must hold a mapping"),
        (
            "credit.yaml",
            "gates:\n  checks: [accuracy >= 0.9, acc > 1]\n",
            None,
            "credit.yaml.gates.checks[1]",
            "unknown metric 'acc'",
        ),
        ("keel.yaml", "models:\n  fraud: {}\n", "credit", "keel.yaml", "no policy for model"),
        ("keel.yaml", "store_url: x\n", "credit", "keel.yaml", "no policy for model"),
        (
            "keel.yaml",
            "models:\n  credit:\n    risk_profile: severe\n",
            "credit",
            "keel.yaml: models.credit.risk_profile",
            "not one of",
        ),
    ],
)
def test_bad_policy_files(tmp_path: Path, name, text, model, field, problem) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InvalidInput) as raised:
        read_policy_file(path, model)
    assert raised.value.field == f"{tmp_path}/{field}"
    assert problem in raised.value.problem
