"""Every Keel error carries structured fields and turns into a JSON-ready dict."""

from __future__ import annotations

import json

import pytest

from keel.errors import (
    ArtifactCorrupted,
    Conflict,
    GateFailed,
    IntegrityError,
    InvalidInput,
    KeelError,
    NotFound,
    SchemaTooNew,
    SignatureMismatch,
    StoreError,
    StoreUnavailable,
    UntrustedArtifact,
)


def test_keel_error_to_dict() -> None:
    error = KeelError("something broke", detail=3)
    assert error.to_dict() == {"error": "keel_error", "message": "something broke", "detail": 3}
    assert str(error) == "something broke"


def test_invalid_input_names_field_and_problem() -> None:
    error = InvalidInput("alias", "must start with a letter")
    assert error.field == "alias"
    assert error.problem == "must start with a letter"
    assert str(error) == "alias: must start with a letter"
    assert error.to_dict() == {
        "error": "invalid_input",
        "message": "alias: must start with a letter",
        "field": "alias",
        "problem": "must start with a letter",
    }


def test_signature_mismatch_lists_every_problem() -> None:
    problems = [{"field": f"f{i}", "problem": "missing field"} for i in range(7)]
    error = SignatureMismatch(problems, model="fraud/3")
    assert isinstance(error, InvalidInput)
    assert error.problems == problems
    assert error.field == "f0"
    data = error.to_dict()
    assert data["error"] == "signature_mismatch"
    assert data["problems"] == problems
    assert data["model"] == "fraud/3"
    assert "fraud/3" in error.message
    assert "(and 2 more)" in error.message


def test_signature_mismatch_without_problems() -> None:
    error = SignatureMismatch([])
    assert error.field == ""
    assert error.to_dict()["problems"] == []


def test_not_found_with_hint() -> None:
    error = NotFound("alias", "fraud@champion", hint="set it first")
    assert error.kind == "alias"
    assert error.name == "fraud@champion"
    assert error.to_dict() == {
        "error": "not_found",
        "message": "alias 'fraud@champion' not found; set it first",
        "kind": "alias",
        "name": "fraud@champion",
    }


def test_integrity_errors_carry_hashes_and_types() -> None:
    corrupted = ArtifactCorrupted("a" * 64, "b" * 64, "/tmp/x")
    assert corrupted.to_dict() == {
        "error": "artifact_corrupted",
        "message": corrupted.message,
        "sha256": "a" * 64,
        "actual": "b" * 64,
        "location": "/tmp/x",
    }
    assert "aaaaaaaaaaaa" in corrupted.message
    untrusted = UntrustedArtifact("c" * 64, ["mymodule.func"], hint="trust it with X")
    assert untrusted.to_dict()["types"] == ["mymodule.func"]
    assert untrusted.to_dict()["runs_code"] is False
    assert untrusted.message.endswith("mymodule.func; trust it with X")
    code = UntrustedArtifact("c" * 64, ["os.system"], code=True)
    assert "runs code while loading: os.system; nothing was loaded" in code.message


def test_schema_too_new() -> None:
    error = SchemaTooNew("sqlite:///x.db", "9999", "0001")
    assert error.to_dict() == {
        "error": "schema_too_new",
        "message": error.message,
        "url": "sqlite:///x.db",
        "found": "9999",
        "supported": "0001",
    }


@pytest.mark.parametrize(
    ("error", "code", "parent"),
    [
        (Conflict("clash"), "conflict", KeelError),
        (GateFailed("not blessed"), "gate_failed", KeelError),
        (StoreUnavailable("down", url="x"), "store_unavailable", StoreError),
        (IntegrityError("bad"), "integrity_error", KeelError),
        (ArtifactCorrupted("a" * 64, "b" * 64, "x"), "artifact_corrupted", IntegrityError),
        (UntrustedArtifact("a" * 64, []), "untrusted_artifact", IntegrityError),
        (SchemaTooNew("u", "2", "1"), "schema_too_new", StoreError),
        (SignatureMismatch([]), "signature_mismatch", InvalidInput),
        (NotFound("model", "x"), "not_found", KeelError),
    ],
)
def test_codes_and_tree(error: KeelError, code: str, parent: type[KeelError]) -> None:
    assert error.code == code
    assert isinstance(error, parent)
    assert isinstance(error, KeelError)
    data = error.to_dict()
    assert data["error"] == code
    assert json.loads(json.dumps(data)) == data


def test_model_failed_names_the_version_and_what_it_raised() -> None:
    from keel.errors import ModelFailed

    error = ModelFailed("fraud", 4, RuntimeError("x" * 900), during="scoring its reference data")
    assert isinstance(error, KeelError)
    data = error.to_dict()
    assert data["error"] == "model_failed"
    assert (data["model"], data["version"], data["raised"]) == ("fraud", 4, "RuntimeError")
    assert error.raised == "RuntimeError" and len(error.detail) == 500
    assert error.message.startswith("fraud/4 raised RuntimeError: xxx")
    assert error.message.endswith("... (scoring its reference data)")
    assert json.loads(json.dumps(data)) == data
