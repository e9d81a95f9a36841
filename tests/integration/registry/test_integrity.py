"""Integrity on both back ends: corrupted or untrusted artifacts, bad names, signature checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from keel.client import Client
from keel.errors import (
    ArtifactCorrupted,
    InvalidInput,
    NotFound,
    SignatureMismatch,
    UntrustedArtifact,
)


class Constant:
    """A plain model saved with cloudpickle."""

    def __init__(self, value: int) -> None:
        self.value = value

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.full(len(frame), self.value)


def log_scale(values: Any) -> Any:
    return np.log1p(np.abs(values))


@pytest.fixture
def features(cancer_frame: pd.DataFrame) -> pd.DataFrame:
    return cancer_frame.drop(columns=["target"])


def test_corrupted_or_missing_artifacts_are_refused_on_load(
    client: Client, fitted_model: Any
) -> None:
    for name, model, kind in [
        ("skops", fitted_model, "skops"),
        ("pickled", Constant(1), "cloudpickle"),
    ]:
        version = client.register_model(name, model, trust="code" if kind != "skops" else None)
        assert version.format == kind
        path = Path(client.artifacts.location(version.artifact_sha256))
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF  # flip one byte
        path.write_bytes(bytes(data))
        with pytest.raises(ArtifactCorrupted) as caught:
            client.load_model(f"{name}/1")
        assert caught.value.fields["sha256"] == version.artifact_sha256
        assert caught.value.fields["location"] == str(path)
        path.unlink()
        with pytest.raises(NotFound) as missing:
            client.load_model(f"{name}/1")
        assert missing.value.kind == "artifact"


def test_a_corrupted_snapshot_is_refused_on_load(
    client: Client, cancer_frame: pd.DataFrame
) -> None:
    snapshot = client.register_snapshot(cancer_frame, "cancer")
    Path(client.artifacts.location(snapshot.artifact_sha256)).write_bytes(b"PAR1 garbage PAR1")
    with pytest.raises(ArtifactCorrupted):
        client.load_snapshot("cancer")


def test_untrusted_types_need_to_be_named(
    client: Client, cancer_frame: pd.DataFrame, features: pd.DataFrame
) -> None:
    model = make_pipeline(FunctionTransformer(log_scale), LogisticRegression(max_iter=2000))
    model.fit(features, cancer_frame["target"])
    custom = f"{__name__}.log_scale"
    with pytest.raises(UntrustedArtifact) as caught:
        client.register_model("piped", model)
    assert caught.value.fields["types"] == [custom]
    assert custom in str(caught.value)
    with pytest.raises(UntrustedArtifact):
        client.register_model("piped", model, trust=["something.else"])
    assert client.list_models() == []
    version = client.register_model("piped", model, trust=[custom, "something.else"])
    assert version.format == "skops"
    assert version.trust is not None
    assert version.trust["types"] == [custom]  # only what the file needs is recorded
    assert version.trust["by"] == client.actor
    loaded = client.load_model("piped/1")
    assert (loaded.predict(features) == model.predict(features)).all()
    registered = client.audit_log(subject="model:piped/1", action="version.register")[0]
    assert registered.details["trust"] == version.trust


def test_a_pickled_model_needs_a_recorded_trust_in_its_code(
    client: Client, features: pd.DataFrame
) -> None:
    with pytest.raises(UntrustedArtifact) as caught:
        client.register_model("pickled", Constant(1))
    assert caught.value.fields["runs_code"] is True
    assert "trust='code'" in caught.value.message
    assert client.list_models() == []
    version = client.register_model("pickled", Constant(1), trust="code")
    assert version.trust is not None and version.trust["code"] is True
    assert (client.load_model("pickled/1").predict(features) == 1).all()


def test_trust_recorded_later_is_what_every_load_honours(
    client: Client, fitted_model: Any, features: pd.DataFrame
) -> None:
    """A version stored without trust (as every pickled version was before trust was recorded)
    loads only after someone records the decision, which the audit trail then shows."""
    import sqlalchemy as sa

    from keel.store.schema import model_versions

    client.register_model("pickled", Constant(2), trust="code")
    with client.db.write() as conn:  # as a store from before trust records holds it
        conn.execute(model_versions.update().values(trust=None))
    with pytest.raises(UntrustedArtifact) as caught:
        client.load_model("pickled/1")
    assert "keel models trust pickled/1 --code" in caught.value.message
    with pytest.raises(InvalidInput) as no_reason:
        client.trust_version("pickled/1", code=True, reason="")
    assert no_reason.value.field == "reason"
    record = client.trust_version("pickled/1", code=True, reason="our own class, reviewed")
    assert record is not None and record.code and record.by == client.actor
    assert (client.load_model("pickled/1").predict(features) == 2).all()
    entry = client.audit_log(subject="model:pickled/1", action="version.trust")[0]
    assert entry.details["trust"]["reason"] == "our own class, reviewed"
    with client.db.read() as conn:
        stored = conn.execute(sa.select(model_versions.c.trust)).scalar_one()
    assert stored == entry.details["trust"]
    assert client.verify_audit().intact
    client.register_model("sk", fitted_model)
    assert client.trust_version("sk/1", types=["x.Y"], reason="not needed") is None


def test_invalid_names_aliases_and_versions_name_the_field(
    client: Client, fitted_model: Any, cancer_frame: pd.DataFrame
) -> None:
    client.register_model("cancer", fitted_model)
    cases: list[tuple[Any, str]] = [
        (lambda: client.register_model("no spaces", fitted_model), "name"),
        (lambda: client.register_model("x" * 129, fitted_model), "name"),
        (lambda: client.register_snapshot(cancer_frame, "a/b"), "name"),
        (lambda: client.set_alias("cancer", "9lives", 1), "alias"),
        (lambda: client.set_alias("cancer", "latest", 1), "alias"),
        (lambda: client.set_alias("cancer", "champion", 0), "version"),
        (lambda: client.delete_alias("cancer", "no spaces"), "alias"),
        (lambda: client.load_model("cancer/0"), "model"),
        (lambda: client.load_model("cancer/one"), "model"),
        (lambda: client.load_model("cancer@@x"), "model"),
        (lambda: client.load_model("models:/"), "model"),
        (lambda: client.get_version("cancer", version=-3), "version"),
        (lambda: client.lineage("cancer", version=0), "version"),
        (lambda: client.archive_version("cancer/x"), "model"),
        (lambda: client.list_versions("not valid"), "model"),
        (lambda: client.register_model("cancer", fitted_model, parent="cancer/0"), "parent"),
        (lambda: client.get_snapshot("sha256:xyz"), "snapshot"),
        (lambda: client.alias_history("cancer", "bad alias"), "alias"),
    ]
    for attempt, field in cases:
        with pytest.raises(InvalidInput) as caught:
            attempt()
        assert caught.value.field == field
        assert caught.value.to_dict()["field"] == field


def test_predict_lists_every_signature_problem(
    client: Client, cancer_frame: pd.DataFrame, fitted_model: Any, features: pd.DataFrame
) -> None:
    client.register_model("cancer", fitted_model, training_data=cancer_frame, target="target")
    loaded = client.load_model("cancer/1")
    broken = features.drop(columns=["mean radius", "mean area"]).assign(
        **{
            "mean texture": "rough",
            "worst area": [None, *features["worst area"].iloc[1:]],
            "mean smoothness": 1e9,  # out of range: checked on request only
        }
    )
    with pytest.raises(SignatureMismatch) as caught:
        loaded.predict(broken)
    problems = {(p["field"], p["problem"]) for p in caught.value.problems}
    assert problems == {
        ("mean radius", "missing field"),
        ("mean area", "missing field"),
        ("mean texture", "wrong type str"),
        ("worst area", "1 missing value(s)"),
    }
    assert caught.value.fields["model"] == "cancer/1"
    assert isinstance(caught.value, InvalidInput)
    with pytest.raises(SignatureMismatch) as caught:
        loaded.check(broken, check_ranges=True)
    assert len(caught.value.problems) == 5
    shuffled = features[list(reversed(features.columns))].assign(extra=1)
    assert (loaded.predict(shuffled) == fitted_model.predict(features)).all()
    with pytest.raises(ValueError):  # no checks: the native model complains instead
        loaded.predict(broken, validate=False)


def test_models_without_a_signature_are_not_checked(client: Client, features: pd.DataFrame) -> None:
    client.register_model("constant", Constant(7), trust="code")
    loaded = client.load_model("constant/1")
    assert loaded.signature is None
    assert list(loaded.predict(features.head(3))) == [7, 7, 7]
    with pytest.raises(AttributeError, match="predict_proba"):
        loaded.predict_proba(features.head(3))
