"""Registering, finding, loading, listing and archiving model versions on both back ends."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier

from keel.client import Client
from keel.domain.names import ModelRef
from keel.domain.signature import Signature
from keel.errors import Conflict, InvalidInput, NotFound
from keel.registry.loaded import LoadedModel


class MeanThreshold:
    """A model that is not scikit-learn: anything with predict can be versioned."""

    def __init__(self, column: str, cut: float) -> None:
        self.column = column
        self.cut = cut

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (frame[self.column] > self.cut).astype(int).to_numpy()


@pytest.fixture
def features(cancer_frame: pd.DataFrame) -> pd.DataFrame:
    return cancer_frame.drop(columns=["target"])


def test_versions_are_numbered_one_two_three(client: Client, fitted_model: Any) -> None:
    numbers = [client.register_model("cancer", fitted_model).version for _ in range(3)]
    assert numbers == [1, 2, 3]
    assert client.register_model("other", fitted_model).version == 1
    assert [v.version for v in client.list_versions("cancer")] == [3, 2, 1]


def test_every_field_of_a_sklearn_version_is_recorded(
    client: Client, cancer_frame: pd.DataFrame, fitted_model: Any
) -> None:
    snapshot = client.register_snapshot(cancer_frame, "cancer-data")
    with client.start_run("train") as run:
        version = client.register_model(
            "cancer",
            fitted_model,
            training_data=snapshot,
            target="target",
            metrics={"auc": 0.97, "accuracy": np.float64(0.95)},
            tags={"team": "risk", "reviewed": True},
            description="baseline",
        )
    artifact = client.artifacts.get(version.artifact_sha256)
    assert version.artifact_sha256 == hashlib.sha256(artifact).hexdigest()
    assert version.size_bytes == len(artifact)
    assert version.format == "skops"
    assert version.model_class == "sklearn.linear_model._logistic.LogisticRegression"
    assert version.status == "ready"
    assert version.author == "tester"
    assert version.description == "baseline"
    assert version.params == {**version.params, "C": 1.0, "max_iter": 5000, "solver": "lbfgs"}
    assert version.params.keys() == fitted_model.get_params(deep=False).keys()
    assert version.metrics == {"auc": 0.97, "accuracy": 0.95}
    assert version.tags == {"team": "risk", "reviewed": "True"}
    assert version.training_snapshot == "cancer-data/1"
    assert version.run_id == run.id
    assert version.parent_version is None
    assert version.created_at.tzinfo is not None
    packages = version.environment["packages"]
    assert packages["scikit-learn"] == __import__("sklearn").__version__
    assert "numpy" in packages
    assert version.environment["python"]
    signature = version.signature
    assert signature is not None
    assert signature.feature_names == [c for c in cancer_frame.columns if c != "target"]
    radius = signature.feature("mean radius")
    assert (radius.kind, radius.minimum) == ("number", cancer_frame["mean radius"].min())
    assert client.get_version("cancer/1") == version


def test_a_plain_class_is_saved_with_cloudpickle(
    client: Client, cancer_frame: pd.DataFrame, features: pd.DataFrame
) -> None:
    model = MeanThreshold("mean radius", 14.0)
    version = client.register_model(
        "threshold", model, input_example=features.head(20), trust="code"
    )
    assert version.format == "cloudpickle"
    assert version.model_class == f"{__name__}.MeanThreshold"
    assert version.params == {}
    loaded = client.load_model("threshold/1")
    assert isinstance(loaded.model, MeanThreshold)
    assert loaded.model.cut == 14.0
    assert (loaded.predict(features) == model.predict(features)).all()


def test_explicit_params_replace_get_params(client: Client, fitted_model: Any) -> None:
    version = client.register_model("cancer", fitted_model, params={"lr": 0.1, "layers": (3, 2)})
    assert version.params == {"lr": 0.1, "layers": [3, 2]}


def test_training_data_may_be_a_frame_a_file_or_a_reference(
    client: Client, cancer_frame: pd.DataFrame, fitted_model: Any, tmp_path: Path
) -> None:
    from_frame = client.register_model(
        "cancer", fitted_model, training_data=cancer_frame, target="target"
    )
    assert from_frame.training_snapshot == "cancer-train/1"
    path = tmp_path / "train.parquet"
    cancer_frame.to_parquet(path)
    from_file = client.register_model("cancer", fitted_model, training_data=path, target="target")
    assert from_file.training_snapshot == "cancer-train/1"  # same data, same snapshot
    from_ref = client.register_model(
        "cancer", fitted_model, training_data="cancer-train/1", target="target"
    )
    assert from_ref.training_snapshot == "cancer-train/1"
    assert from_frame.signature == from_file.signature == from_ref.signature
    with pytest.raises(NotFound):
        client.register_model("cancer", fitted_model, training_data="nothing/3")


def test_signature_choices(
    client: Client, cancer_frame: pd.DataFrame, fitted_model: Any, features: pd.DataFrame
) -> None:
    snapshot = client.register_snapshot(cancer_frame, "cancer-data")
    by_name = client.register_model("cancer", fitted_model, training_data=snapshot)
    assert by_name.signature is not None
    names = by_name.signature.feature_names
    assert names == list(fitted_model.feature_names_in_)  # the model knows its features
    unnamed = DummyClassifier().fit(features.to_numpy(), cancer_frame["target"].to_numpy())
    assert unnamed.n_features_in_ == 30 and not hasattr(unnamed, "feature_names_in_")
    with pytest.raises(InvalidInput) as caught:  # the target would be taken for a feature
        client.register_model("cancer", unnamed, training_data=snapshot)
    assert caught.value.field == "features"
    assert "target=" in caught.value.problem
    assert client.register_model("cancer", unnamed, training_data=snapshot, target="target")
    plain = MeanThreshold("mean radius", 14.0)
    only_two = client.register_model(
        "plain", plain, training_data=snapshot, features=["mean radius", "mean area"], trust="code"
    )
    assert only_two.signature is not None
    assert only_two.signature.feature_names == ["mean radius", "mean area"]
    given = Signature.from_dict({"inputs": [{"name": "x", "kind": "number", "dtype": "float64"}]})
    explicit = client.register_model("plain", plain, signature=given, trust="code")
    assert explicit.signature is not None and explicit.signature.inputs == given.inputs
    # outputs the caller left empty are described from the model (flavour, classes)
    assert explicit.signature.outputs["flavour"] == "python"
    as_dict = client.register_model("plain", plain, signature=given.to_dict(), trust="code")
    assert as_dict.signature is not None and as_dict.signature.inputs == given.inputs
    assert client.register_model("plain", plain, trust="code").signature is None
    with pytest.raises(InvalidInput) as caught:
        client.register_model("plain", plain, signature={"inputs": [{"name": "x"}]})
    assert caught.value.field == "signature"


def test_code_version_is_recorded_inside_a_git_work_tree(
    client: Client, fitted_model: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def git(folder: Path, *args: str) -> str:
        identity = ["-c", "user.name=Ann", "-c", "user.email=ann@example.com"]
        done = subprocess.run(
            ["git", "-C", str(folder), *identity, *args],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    clean = tmp_path / "clean-repo"
    dirty = tmp_path / "dirty-repo"
    for repo in (clean, dirty):
        repo.mkdir()
        git(repo, "init", "-q", "-b", "trunk")
        (repo / "train.py").write_text("print('train')\n")
        git(repo, "add", "train.py")
        git(repo, "commit", "-q", "-m", "train script")
    (dirty / "train.py").write_text("print('edited')\n")

    monkeypatch.chdir(clean)
    version = client.register_model("cancer", fitted_model)
    assert version.code_version == {
        "commit": git(clean, "rev-parse", "HEAD"),
        "dirty": False,
        "branch": "trunk",
        "repository": str(clean.resolve()),
    }
    entry = client.audit_log(action="version.register")[0]
    assert entry.details["commit"] == version.code_version["commit"]

    monkeypatch.chdir(dirty)
    assert client.register_model("cancer", fitted_model).code_version["dirty"] is True

    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    monkeypatch.chdir(outside)
    assert client.register_model("cancer", fitted_model).code_version == {}


def test_load_by_number_alias_and_latest(
    client: Client, fitted_model: Any, features: pd.DataFrame
) -> None:
    other = DummyClassifier(strategy="most_frequent").fit(features, fitted_model.predict(features))
    client.register_model("cancer", fitted_model)
    client.register_model("cancer", other)
    client.set_alias("cancer", "champion", 1)
    for ref, number in [
        ("models:/cancer/1", 1),
        ("cancer/2", 2),
        ("cancer@champion", 1),
        ("models:/cancer@champion", 1),
        ("cancer", 1),  # a bare name is the champion, not the newest version
        ("models:/cancer", 1),
        ("cancer/latest", 2),
        ("models:/cancer@latest", 2),
        (ModelRef("cancer", version=1), 1),
        (ModelRef("cancer"), 1),
    ]:
        loaded = client.load_model(ref)
        assert isinstance(loaded, LoadedModel)
        assert loaded.version.version == number, ref
    loaded = client.load_model("cancer@champion")
    assert (loaded.predict(features) == fitted_model.predict(features)).all()
    assert loaded.predict_proba(features).shape == (len(features), 2)
    assert list(loaded.classes_) == [0, 1]
    assert "cancer/1" in repr(loaded)
    assert client.get_version("cancer", version=2).params["strategy"] == "most_frequent"


def test_a_bare_name_without_a_champion_is_refused_with_a_hint(
    client: Client, fitted_model: Any
) -> None:
    client.register_model("cancer", fitted_model)
    for ref in ("models:/cancer", "cancer", ModelRef("cancer")):
        with pytest.raises(NotFound) as caught:
            client.load_model(ref)
        assert caught.value.kind == "alias"
        assert caught.value.name == "cancer@champion"
        assert "models:/cancer/VERSION" in str(caught.value)
        assert "models:/cancer@ALIAS" in str(caught.value)
    assert client.load_model("models:/cancer@latest").version.version == 1


def test_unknown_models_versions_and_aliases_are_not_found(
    client: Client, fitted_model: Any
) -> None:
    client.register_model("cancer", fitted_model)
    cases = [
        ("nothing", "model", "nothing"),
        ("nothing/1", "model", "nothing"),
        ("cancer/2", "version", "cancer/2"),
        ("cancer@champion", "alias", "cancer@champion"),
    ]
    for ref, kind, name in cases:
        with pytest.raises(NotFound) as caught:
            client.load_model(ref)
        assert (caught.value.kind, caught.value.name) == (kind, name), ref
        with pytest.raises(NotFound):
            client.get_version(ref)
    with pytest.raises(NotFound):
        client.list_versions("nothing")


def test_parents(client: Client, fitted_model: Any) -> None:
    client.register_model("cancer", fitted_model)
    assert client.register_model("cancer", fitted_model, parent=1).parent_version == 1
    assert client.register_model("cancer", fitted_model, parent="2").parent_version == 2
    assert client.register_model("cancer", fitted_model, parent="cancer/3").parent_version == 3
    client.set_alias("cancer", "champion", 2)
    assert (
        client.register_model("cancer", fitted_model, parent="cancer@champion").parent_version == 2
    )
    with pytest.raises(NotFound):
        client.register_model("cancer", fitted_model, parent=99)
    with pytest.raises(InvalidInput) as caught:
        client.register_model("cancer", fitted_model, parent="other/1")
    assert caught.value.field == "parent"
    with pytest.raises(InvalidInput) as caught:
        client.register_model("cancer", fitted_model, parent=0)
    assert caught.value.field == "parent"
    assert client.list_versions("cancer", limit=1)[0].version == 5  # the failures left no gap


def test_list_models(client: Client, fitted_model: Any) -> None:
    assert client.list_models() == []
    client.register_model("zeta", fitted_model)
    client.register_model("alpha", fitted_model)
    client.register_model("alpha", fitted_model)
    client.set_alias("alpha", "champion", 1)
    client.set_alias("alpha", "challenger", 2)
    models = client.list_models()
    assert [m.name for m in models] == ["alpha", "zeta"]
    assert models[0].latest_version == 2
    assert models[0].aliases == {"challenger": 2, "champion": 1}
    assert models[1].aliases == {}


def test_list_versions_filters(client: Client, fitted_model: Any) -> None:
    plain = MeanThreshold("mean radius", 14.0)
    specs: list[tuple[Any, dict[str, float], dict[str, str]]] = [
        (fitted_model, {"auc": 0.80}, {"team": "risk"}),
        (fitted_model, {"auc": 0.90}, {"team": "growth"}),
        (plain, {"auc": 0.95, "f1": 0.7}, {"team": "risk"}),
        (fitted_model, {"auc": 0.85}, {}),
    ]
    for model, metrics, tags in specs:
        trust = None if model is fitted_model else "code"
        client.register_model("cancer", model, metrics=metrics, tags=tags, trust=trust)
    client.archive_version("cancer/1", reason="superseded")

    def numbers(**kwargs: Any) -> list[int]:
        return [v.version for v in client.list_versions("cancer", **kwargs)]

    assert numbers() == [4, 3, 2, 1]
    assert numbers(filter="metrics.auc > 0.85") == [3, 2]
    assert numbers(filter="metrics.auc >= 0.85") == [4, 3, 2]
    assert numbers(filter="metrics.f1 < 1") == [3]
    assert numbers(filter="tags.team = 'risk'") == [3, 1]
    assert numbers(filter="tags.team != 'risk'") == [2]
    assert numbers(filter="tags.team = 'risk' and metrics.auc > 0.9") == [3]
    assert numbers(filter="version >= 2 and version < 4") == [3, 2]
    assert numbers(filter="version = 3") == [3]
    assert numbers(filter="version > 1.5") == [4, 3, 2]
    assert numbers(filter="version < 1.5") == [1]
    assert numbers(filter="version = 1.5") == []
    assert numbers(filter="version < 1e30") == [4, 3, 2, 1]
    assert numbers(filter="status = 'archived'") == [1]
    assert numbers(status="ready") == [4, 3, 2]
    assert numbers(filter="format = 'cloudpickle'") == [3]
    assert numbers(filter="author = 'tester'") == [4, 3, 2, 1]
    assert numbers(filter="params.C = 1") == [4, 2, 1]
    assert numbers(filter="params.solver = 'lbfgs'") == [4, 2, 1]
    assert numbers(filter="metrics.missing > 0") == []
    assert numbers(limit=2) == [4, 3]
    assert numbers(limit=2, offset=1) == [3, 2]
    assert numbers(offset=3) == [1]
    assert numbers(limit=0) == []
    assert numbers(offset=10) == []
    assert numbers(status="ready", limit=1, offset=1) == [3]
    summary = client.list_versions("cancer", limit=1)[0]
    assert summary.signature is None and summary.environment == {}  # details via get_version
    assert client.get_version("cancer/4").environment


def test_list_versions_refuses_bad_arguments(client: Client, fitted_model: Any) -> None:
    client.register_model("cancer", fitted_model)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"limit": -1}, "limit"),
        ({"offset": -1}, "offset"),
        ({"limit": 5, "offset": -2}, "offset"),
        ({"filter": "metrics.auc >"}, "filter"),
        ({"filter": "colour = 'red'"}, "filter"),
        ({"status": "ready", "filter": "version = 'one'"}, "filter"),
    ]
    for kwargs, field in cases:
        with pytest.raises(InvalidInput) as caught:
            client.list_versions("cancer", **kwargs)
        assert caught.value.field == field, kwargs


def test_archive_rules(client: Client, fitted_model: Any) -> None:
    for _ in range(3):
        client.register_model("cancer", fitted_model)
    client.set_alias("cancer", "champion", 2)
    with pytest.raises(Conflict) as caught:
        client.archive_version("cancer/2")
    assert caught.value.fields["aliases"] == ["champion"]
    with pytest.raises(Conflict):
        client.archive_version("cancer@champion")
    archived = client.archive_version("cancer/3", reason="worse on holdout")
    assert archived.status == "archived"
    assert client.get_version("cancer@latest").version == 2  # latest skips archived versions
    assert client.load_model("cancer/3").version.status == "archived"  # still loadable
    with pytest.raises(Conflict) as caught:
        client.set_alias("cancer", "challenger", 3)
    assert caught.value.fields["status"] == "archived"
    again = client.archive_version("cancer/3", reason="twice")
    assert again.status == "archived"
    entries = client.audit_log(action="version.archive")
    assert [(e.subject, e.details) for e in entries] == [
        ("model:cancer/3", {"reason": "worse on holdout"})
    ]
    client.delete_alias("cancer", "champion")
    client.archive_version("cancer/2")
    client.archive_version("cancer/1")
    with pytest.raises(NotFound, match="every version is archived"):
        client.load_model("cancer@latest")
    assert client.register_model("cancer", fitted_model).version == 4


def test_invalid_registrations_leave_nothing_behind(client: Client, fitted_model: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        client.register_model("bad name", fitted_model)
    assert caught.value.field == "name"
    with pytest.raises(InvalidInput) as caught:
        client.register_model("cancer", object())
    assert caught.value.field == "model"
    with pytest.raises(InvalidInput) as caught:
        client.register_model("cancer", fitted_model, metrics={"auc": float("nan")})
    assert caught.value.field == "metrics.auc"
    with pytest.raises(InvalidInput) as caught:
        client.register_model("cancer", fitted_model, tags={"": "x"})
    assert caught.value.field == "tags"
    with pytest.raises(InvalidInput) as caught:
        client.register_model("cancer", fitted_model, format="onnx")
    assert caught.value.field == "format"
    assert client.list_models() == []
    assert client.audit_log() == []


def test_numeric_filters_skip_versions_whose_value_is_text(
    client: Client, fitted_model: Any
) -> None:
    client.register_model("cancer", fitted_model, params={"C": 1.0, "depth": 3})
    client.register_model("cancer", fitted_model, params={"C": "auto", "depth": "deep"})
    client.register_model("cancer", fitted_model, params={"C": 0.5})

    def numbers(filter: str) -> list[int]:
        return [v.version for v in client.list_versions("cancer", filter=filter)]

    assert numbers("params.C >= 0.5") == [3, 1]
    assert numbers("params.C = 1") == [1]
    assert numbers("params.depth < 10") == [1]
    assert numbers("params.C = 'auto'") == [2]
