"""The policy's ``inputs`` section: flag by default for every risk profile, reject on request,
and a typo named by its field."""

from __future__ import annotations

from typing import Any

import pytest

from keel.domain.policy import INPUT_CHECKS, Inputs, Policy
from keel.errors import InvalidInput

GATES = {
    "gates": {
        "checks": [
            "accuracy >= 0.9",
            "accuracy not worse than champion by more than 0.01 at 95% confidence",
        ]
    }
}


@pytest.mark.parametrize("profile", ["low", "medium", "high"])
def test_every_profile_flags_by_default(profile: str) -> None:
    policy = Policy.parse({"risk_profile": profile, **GATES})
    assert policy.inputs == Inputs(out_of_range="flag", unseen_category="flag")
    assert not any(policy.inputs.rejects(check) for check in INPUT_CHECKS)


def test_reject_is_set_per_check_and_survives_a_round_trip() -> None:
    policy = Policy.parse({"inputs": {"out_of_range": "reject"}})
    assert policy.inputs.rejects("out_of_range") and not policy.inputs.rejects("unseen_category")
    again = Policy.parse(policy.to_dict())
    assert again.inputs == policy.inputs
    assert policy.to_dict()["inputs"] == {"out_of_range": "reject", "unseen_category": "flag"}


def test_a_stored_policy_without_inputs_reads_as_flag() -> None:
    stored = Policy.parse({}).to_dict()
    del stored["inputs"]
    assert Policy.parse(stored).inputs == Inputs()


@pytest.mark.parametrize(
    ("inputs", "field", "words"),
    [
        ({"out_of_range": "drop"}, "policy.inputs.out_of_range", "'flag' or 'reject'"),
        ({"unseen_category": True}, "policy.inputs.unseen_category", "'flag' or 'reject'"),
        ({"unseen": "flag"}, "policy.inputs.unseen", "unknown key"),
        ("reject", "policy.inputs", "dictionary"),
    ],
)
def test_a_wrong_value_names_the_field(inputs: object, field: str, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Policy.parse({"inputs": inputs})
    assert caught.value.field == field
    assert words in caught.value.problem


@pytest.mark.parametrize(
    ("data", "field", "suggested"),
    [
        ({"profile": "medium"}, "policy.profile", "'risk_profile'"),
        ({"monitorng": {}}, "policy.monitorng", "'monitoring'"),
        ({"monitoring": {"windw": {"rows": 10}}}, "policy.monitoring.windw", "'window'"),
        ({"inputs": {"out_of_rang": "flag"}}, "policy.inputs.out_of_rang", "'out_of_range'"),
    ],
)
def test_a_misspelt_policy_key_names_the_closest_known_one(
    data: dict[str, Any], field: str, suggested: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        Policy.parse(data)
    assert caught.value.field == field
    assert f"did you mean {suggested}?" in caught.value.problem
