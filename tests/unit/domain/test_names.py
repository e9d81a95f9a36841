"""Names, aliases, versions and the references that point at model versions and snapshots."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from keel.domain.names import (
    ModelRef,
    SnapshotRef,
    parse_model_ref,
    parse_snapshot_ref,
    validate_alias,
    validate_name,
    validate_version,
)
from keel.errors import InvalidInput

names = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")
aliases = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_-]{0,63}\Z").filter(lambda a: a.lower() != "latest")
versions = st.integers(min_value=1, max_value=2**31 - 1)


@pytest.mark.parametrize("name", ["fraud", "a", "7", "credit-risk_v2.1", "A" * 128])
def test_valid_names_are_returned_unchanged(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "-lead", ".hidden", "_x", "a/b", "a b", "a@b", "ü", "A" * 129, "x\n", None, 3]
)
def test_invalid_names_raise_invalid_input_naming_the_field(name: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_name(name, "model")  # type: ignore[arg-type]
    assert caught.value.field == "model"
    assert caught.value.to_dict()["field"] == "model"


@pytest.mark.parametrize("alias", ["champion", "c", "shadow-2", "A_b"])
def test_valid_aliases(alias: str) -> None:
    assert validate_alias(alias) == alias


@pytest.mark.parametrize("alias", ["", "1st", "-x", "a.b", "a b", "x" * 65, "latest", "LATEST", 7])
def test_invalid_aliases_raise_invalid_input(alias: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_alias(alias)  # type: ignore[arg-type]
    assert caught.value.field == "alias"


@pytest.mark.parametrize(("value", "number"), [(1, 1), ("3", 3), (2**31 - 1, 2**31 - 1)])
def test_versions_accept_positive_ints_and_decimal_strings(value: object, number: int) -> None:
    assert validate_version(value) == number


@pytest.mark.parametrize(
    "value",
    [0, -1, "0", "-1", "1.5", 1.0, True, None, "", "²", "1e3", " 1", 2**31, "9" * 20, "9" * 5000],
)
def test_invalid_versions_raise_invalid_input_naming_the_field(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_version(value, "parent")
    assert caught.value.field == "parent"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fraud", ModelRef("fraud")),
        ("fraud/3", ModelRef("fraud", version=3)),
        ("fraud@champion", ModelRef("fraud", alias="champion")),
        ("models:/fraud/3", ModelRef("fraud", version=3)),
        ("models:/fraud@champion", ModelRef("fraud", alias="champion")),
        ("models:/fraud", ModelRef("fraud")),
        ("fraud/latest", ModelRef("fraud", latest=True)),
        ("fraud@latest", ModelRef("fraud", latest=True)),
        ("  fraud/2  ", ModelRef("fraud", version=2)),
    ],
)
def test_parse_model_ref(text: str, expected: ModelRef) -> None:
    assert parse_model_ref(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "/3", "fraud/", "fraud@", "fraud/0", "fraud/x", "fraud/1/2", "a@b@c", "fraud@1st", "m:/x"],
)
def test_malformed_model_refs_raise_invalid_input_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_model_ref(text, "ref")
    assert caught.value.field == "ref"


def test_model_ref_str_forms() -> None:
    assert str(ModelRef("m")) == "m"
    assert str(ModelRef("m", version=4)) == "m/4"
    assert str(ModelRef("m", alias="champion")) == "m@champion"
    assert str(ModelRef("m", latest=True)) == "m@latest"


@settings(deadline=None)
@given(name=names, version=versions)
def test_numbered_refs_round_trip_through_str(name: str, version: int) -> None:
    ref = ModelRef(name, version=version)
    assert parse_model_ref(str(ref)) == ref
    assert parse_model_ref(f"models:/{ref}") == ref


@settings(deadline=None)
@given(name=names, alias=aliases)
def test_alias_refs_round_trip_through_str(name: str, alias: str) -> None:
    ref = ModelRef(name, alias=alias)
    assert parse_model_ref(str(ref)) == ref
    assert parse_model_ref(f"models:/{ref}") == ref


@settings(deadline=None)
@given(name=names)
def test_champion_and_latest_refs_round_trip_through_str(name: str) -> None:
    assert parse_model_ref(str(ModelRef(name))) == ModelRef(name)
    assert parse_model_ref(str(ModelRef(name, latest=True))) == ModelRef(name, latest=True)


@settings(deadline=None)
@given(text=st.text())
@example("m/²")
@example("m/99999999999999999999")
@example("m/" + "9" * 5000)
@example("m/٣")
@example("models:/")
@example("m@Latest")
def test_arbitrary_text_parses_or_raises_invalid_input(text: str) -> None:
    try:
        ref = parse_model_ref(text)
    except InvalidInput as exc:
        assert exc.field == "model"
        return
    assert validate_name(ref.name) == ref.name
    assert ref.version is None or 1 <= ref.version < 2**31
    assert ref.version is None or ref.alias is None
    assert parse_model_ref(str(ref)) == ref


@settings(deadline=None)
@given(value=st.one_of(st.text(), st.integers(), st.floats(), st.none(), st.booleans()))
def test_validate_version_raises_only_invalid_input(value: object) -> None:
    try:
        number = validate_version(value)
    except InvalidInput:
        return
    assert isinstance(number, int)
    assert 1 <= number < 2**31


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("credit", SnapshotRef(name="credit")),
        ("credit/2", SnapshotRef(name="credit", version=2)),
        ("datasets:/credit/2", SnapshotRef(name="credit", version=2)),
        ("sha256:deadbeef", SnapshotRef(sha256_prefix="deadbeef")),
        ("sha256:" + "a" * 64, SnapshotRef(sha256_prefix="a" * 64)),
    ],
)
def test_parse_snapshot_ref(text: str, expected: SnapshotRef) -> None:
    assert parse_snapshot_ref(text) == expected


@pytest.mark.parametrize(
    "text", ["", "  ", "sha256:abc", "sha256:XYZXYZXYZ", "sha256:" + "a" * 65, "a/b/c", "-x", "x/0"]
)
def test_malformed_snapshot_refs_raise_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_snapshot_ref(text, "training_data")
    assert caught.value.field == "training_data"


@settings(deadline=None)
@given(text=st.text())
@example("x/²")
@example("sha256:")
def test_arbitrary_snapshot_text_parses_or_raises_invalid_input(text: str) -> None:
    try:
        ref = parse_snapshot_ref(text)
    except InvalidInput:
        return
    assert (ref.name is None) != (ref.sha256_prefix is None)
