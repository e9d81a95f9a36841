"""``keel reproduce``: a version is fit again from its record (a clean checkout of its commit,
its snapshots and parameters) and compared with the stored model on its holdout, or refused
with the reason; the result is in the audit trail and in lineage, and nothing else changes.

Each test makes a git repository of its own holding a tiny training module, and works from
inside it, so the versions it registers record that repository's commit.
"""

from __future__ import annotations

import copy
import json
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from keel.cli.app import main
from keel.client import Client
from keel.errors import Conflict

from .scenario import POLICY, START, batch, launch, serve

TRAINER = """
from sklearn.linear_model import LogisticRegression


def fit(frame, target, C=1.0, seed=0):
    features = frame.drop(columns=[target])
    return LogisticRegression(C=C, random_state=seed).fit(features, frame[target])
"""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def make_project(folder: Path, module: str) -> Path:
    """A git repository with ``module``.py (the trainer) committed."""
    folder.mkdir()
    git(folder, "init", "-q")
    (folder / f"{module}.py").write_text(TRAINER)
    git(folder, "add", ".")
    git(folder, "commit", "-q", "-m", "the trainer")
    return folder


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """The project repository, the folder we work in, and its trainer module's (unique) name."""
    module = f"trainer_{uuid.uuid4().hex[:8]}"
    repo = make_project(tmp_path / "project", module)
    monkeypatch.chdir(repo)
    monkeypatch.syspath_prepend(str(repo))
    return repo, module


def test_a_version_trained_by_hand_in_a_run_is_recreated_from_its_commit(
    store: Client, project: tuple[Path, str]
) -> None:
    repo, module = project
    trainer = __import__(module)
    frame = batch(400, 1, flipped=False)
    with store.start_run("hand", params={"C": 0.5, "seed": 3}, tags={"trainer": f"{module}:fit"}):
        model = trainer.fit(frame, "y", C=0.5, seed=3)
        made = store.register_model("hand", model, training_data=frame, target="y")
    recorded = git(repo, "rev-parse", "HEAD")
    assert made.code_version == {**made.code_version, "commit": recorded, "dirty": False}
    # the trainer changes after the version was built: the recorded commit is what is re-run
    (repo / f"{module}.py").write_text(TRAINER.replace("C=C,", "C=100.0,"))
    git(repo, "commit", "-q", "-am", "a stronger fit")
    before = [(v.version, v.status) for v in store.list_versions("hand")]

    result = store.reproduce("hand/1")

    assert result.verdict == "reproduced" and result.reproduced
    assert result.method == "trainer" and result.commit == recorded
    assert result.compared == "probabilities" and result.rows == 400
    assert result.max_abs_diff is not None and result.max_abs_diff <= 1e-9
    assert result.label_agreement == 1.0 and result.tolerance == 1e-9
    assert result.model_class.endswith("LogisticRegression")
    assert result.run_id == made.run_id and result.holdout == made.training_snapshot
    # nothing registered, nothing moved; the result is in the audit trail and in lineage
    assert [(v.version, v.status) for v in store.list_versions("hand")] == before
    [entry] = store.audit_log(subject="model:hand/1", action="version.reproduce")
    assert entry.seq == result.audit_seq and entry.details["verdict"] == "reproduced"
    shown = store.lineage("hand/1").reproduction
    assert shown is not None and shown["verdict"] == "reproduced" and shown["commit"] == recorded
    assert not (git(repo, "worktree", "list").count("\n")), "the temporary worktree is gone"


def test_a_version_without_a_recorded_trainer_refits_its_own_estimator(
    store: Client, project: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    frame = batch(400, 2, flipped=False)
    holdout = store.register_snapshot(batch(150, 3, flipped=False), "hand-holdout")
    with store.start_run("hand") as run:
        run.log_input(holdout, "holdout")
        model = HistGradientBoostingClassifier(max_iter=30, random_state=0)
        model.fit(frame[["x0", "x1"]], frame["y"])
        store.register_model("hand", model, training_data=frame, target="y")

    args = ["--store", store.settings.store_url, "--artifacts", store.settings.artifacts]
    assert main([*args, "reproduce", "hand/1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["verdict"] == "reproduced" and result["method"] == "estimator"
    assert result["holdout"] == holdout.ref and result["rows"] == 150
    assert result["max_abs_diff"] == 0.0 and result["label_agreement"] == 1.0
    assert main([*args, "lineage", "hand/1"]) == 0
    out = capsys.readouterr().out
    assert "reproduced" in out and "estimator fit at commit" in out and holdout.ref in out


def test_a_model_its_record_does_not_recreate_differs_and_says_by_how_much(
    store: Client, project: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, module = project
    trainer = __import__(module)
    frame = batch(300, 7, flipped=False)
    # the run records C=1.0 but the registered model was fit with another C
    with store.start_run("hand", params={"C": 1.0}, tags={"trainer": f"{module}:fit"}):
        store.register_model(
            "lied", trainer.fit(frame, "y", C=0.001), training_data=frame, target="y"
        )
    result = store.reproduce("lied/1")
    assert result.verdict == "differs" and not result.reproduced
    assert result.max_abs_diff is not None and result.max_abs_diff > 1e-3
    # a looser tolerance is the caller's to give, and the result says which one it judged by
    loose = store.reproduce("lied/1", tolerance=1.0)
    assert loose.tolerance == 1.0
    assert loose.verdict == ("reproduced" if loose.label_agreement == 1.0 else "differs")
    args = ["--store", store.settings.store_url, "--artifacts", store.settings.artifacts]
    assert main([*args, "reproduce", "lied/1"]) == 1
    assert "differs" in capsys.readouterr().out
    assert len(store.audit_log(subject="model:lied/1", action="version.reproduce")) == 3
    assert store.lineage("lied/1").reproduction["verdict"] == "differs"  # type: ignore[index]


def test_a_version_built_from_a_dirty_tree_is_refused(
    store: Client, project: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from sklearn.linear_model import LogisticRegression

    repo, module = project
    (repo / f"{module}.py").write_text(TRAINER + "\n# an edit never committed\n")
    frame = batch(200, 4, flipped=False)
    model = LogisticRegression().fit(frame[["x0", "x1"]], frame["y"])
    store.register_model("dirty", model, training_data=frame, target="y")
    with pytest.raises(Conflict) as refused:
        store.reproduce("dirty/1")
    assert refused.value.fields["reason"] == "dirty"
    assert "uncommitted edits" in refused.value.message
    args = ["--store", store.settings.store_url, "--artifacts", store.settings.artifacts]
    assert main([*args, "reproduce", "dirty/1"]) == 4
    assert "uncommitted edits" in capsys.readouterr().err
    assert store.audit_log(action="version.reproduce") == []
    assert store.lineage("dirty/1").reproduction is None


def test_a_commit_the_repository_does_not_hold_is_refused(
    store: Client, project: tuple[Path, str], tmp_path: Path
) -> None:
    from sklearn.linear_model import LogisticRegression

    frame = batch(200, 5, flipped=False)
    model = LogisticRegression().fit(frame[["x0", "x1"]], frame["y"])
    store.register_model("elsewhere", model, training_data=frame, target="y")
    other = make_project(tmp_path / "other", "unrelated")
    with pytest.raises(Conflict) as refused:
        store.reproduce("elsewhere/1", repository=str(other))
    assert refused.value.fields["reason"] == "commit_missing"
    assert "is not in the repository" in refused.value.message


def test_a_tampered_artifact_is_refused_before_anything_is_fit(
    store: Client, project: tuple[Path, str]
) -> None:
    from sklearn.linear_model import LogisticRegression

    from keel.errors import ArtifactCorrupted

    frame = batch(200, 8, flipped=False)
    model = LogisticRegression().fit(frame[["x0", "x1"]], frame["y"])
    made = store.register_model("tampered", model, training_data=frame, target="y")
    [stored] = [
        p for p in Path(store.settings.artifacts).rglob("*") if made.artifact_sha256 in p.name
    ]
    stored.write_bytes(stored.read_bytes() + b"tampered")
    with pytest.raises(ArtifactCorrupted):
        store.reproduce("tampered/1")
    assert store.audit_log(action="version.reproduce") == []


def test_a_version_built_outside_git_is_refused(
    store: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.linear_model import LogisticRegression

    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    monkeypatch.chdir(outside)
    frame = batch(200, 6, flipped=False)
    model = LogisticRegression().fit(frame[["x0", "x1"]], frame["y"])
    store.register_model("loose", model, training_data=frame, target="y")
    if store.get_version("loose/1").code_version.get("commit"):
        pytest.skip("the temporary folder is inside a git work tree")
    with pytest.raises(Conflict) as refused:
        store.reproduce("loose/1")
    assert refused.value.fields["reason"] == "no_commit"


def test_a_retrain_by_the_autopilot_is_recreated_by_its_pipeline(
    store: Client, project: tuple[Path, str]
) -> None:
    repo, _ = project
    policy = copy.deepcopy(POLICY)
    policy["retraining"]["training"]["refit"] = True  # a gated twin and its refit, both fit
    launch(store, "risk", policy)
    for hour in range(12):
        at = START + timedelta(hours=hour)
        serve(store, "risk", 200, 10 + hour, flipped=hour >= 1, at=at)
        decisions = store.autopilot(now=at + timedelta(hours=1))
        if any(d.action == "promoted" for d in decisions):
            break
    promoted = next(r for r in store.retrains("risk") if r.state == "promoted")
    shipped = store.get_version(f"risk/{promoted.candidate_version}")
    gated = store.get_version(f"risk/{promoted.details['gated_version']}")
    assert shipped.tags["refit_of"] == str(gated.version)
    champion = store.get_version("models:/risk@champion").version
    versions = [(v.version, v.status) for v in store.list_versions("risk")]

    for version in (gated, shipped):
        result = store.reproduce(version.ref)
        assert result.verdict == "reproduced", result
        assert result.method == "pipeline"
        assert result.pipeline_run == promoted.pipeline_run_id
        assert result.commit == git(repo, "rev-parse", "HEAD")
        assert result.holdout == gated.tags["holdout"]
        assert result.training_snapshot == version.training_snapshot
        assert result.max_abs_diff is not None and result.max_abs_diff <= 1e-9
        assert result.label_agreement == 1.0

    assert [(v.version, v.status) for v in store.list_versions("risk")] == versions
    assert store.get_version("models:/risk@champion").version == champion
    shown = store.lineage(shipped.ref).reproduction
    assert shown is not None and shown["method"] == "pipeline"


def test_a_recreation_that_fails_is_refused_audited_and_leaves_no_worktree(
    store: Client, project: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, module = project
    trainer = __import__(module)
    frame = batch(300, 9, flipped=False)
    # the run names a trainer function that the recorded commit does not have
    with store.start_run("hand", tags={"trainer": f"{module}:gone"}):
        store.register_model("broken", trainer.fit(frame, "y"), training_data=frame, target="y")
    with pytest.raises(Conflict) as refused:
        store.reproduce("broken/1")
    assert refused.value.fields["reason"] == "recreation_failed"
    [entry] = store.audit_log(subject="model:broken/1", action="version.reproduce")
    assert entry.details["verdict"] == "failed" and entry.details["reason"] == "recreation_failed"
    assert "gone" in entry.details["error"]
    assert not (git(repo, "worktree", "list").count("\n")), "the temporary worktree is gone"
    args = ["--store", store.settings.store_url, "--artifacts", store.settings.artifacts]
    assert main([*args, "lineage", "broken/1"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "failed" in out and "trainer fit at commit" in out


def test_a_trainer_tag_naming_an_installed_module_is_not_run(
    store: Client, project: tuple[Path, str]
) -> None:
    _, module = project
    trainer = __import__(module)
    frame = batch(300, 10, flipped=False)
    # whoever tags a run chooses the trainer's name, not what the recorded commit holds
    with store.start_run("hand", tags={"trainer": "os:system"}):
        store.register_model("sly", trainer.fit(frame, "y"), training_data=frame, target="y")
    with pytest.raises(Conflict) as refused:
        store.reproduce("sly/1")
    assert refused.value.fields["reason"] == "recreation_failed"
    assert "is not in the checked-out commit" in refused.value.message
