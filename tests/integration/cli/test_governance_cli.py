"""`keel evaluate|gate|approve|policy ...` and `keel alias set --force` on a SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from keel.cli.app import main
from keel.client import Client
from keel.settings import Settings

POLICY = """\
risk_profile: medium
suites:
  holdout:
    snapshots: [holdout]
    target: target
    resamples: 200
    measure_cost: false
    slices:
      large: {{mean radius: {{ge: 15}}}}
gates:
  checks:
    - accuracy >= {threshold}
    - "slice large: recall >= 0.5"
    - accuracy beats baseline majority
"""


@pytest.fixture
def store(tmp_path: Path, cancer_frame: pd.DataFrame) -> list[str]:
    """cancer/1 (champion, all features) and cancer/2 (one feature), holdout registered."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    args = ["--store", f"sqlite:///{tmp_path / 'k.db'}", "--artifacts", str(tmp_path / "art")]
    shuffled = cancer_frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
    train, holdout = shuffled.iloc[:350], shuffled.iloc[350:]
    features = train.drop(columns=["target"])
    good = make_pipeline(StandardScaler(), LogisticRegression()).fit(features, train["target"])
    poor = LogisticRegression().fit(train[["mean smoothness"]], train["target"])
    with Client(settings=Settings(store_url=args[1], artifacts=args[3], actor="ann")) as client:
        snapshot = client.register_snapshot(train, "cancer-train")
        client.register_snapshot(holdout, "holdout")
        client.register_model("cancer", good, training_data=snapshot, target="target")
        client.register_model("cancer", poor, input_example=holdout[["mean smoothness"]])
        client.set_alias("cancer", "champion", 1, reason="first")
    return args


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "project"
    (folder / "policies").mkdir(parents=True)
    (folder / "policies" / "cancer.yaml").write_text(POLICY.format(threshold=0.9))
    monkeypatch.chdir(folder)
    return folder


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_gate_prints_the_checks_and_exits_4_when_rejected(store, workdir, capsys) -> None:
    assert main([*store, "gate", "cancer/2", "--out", "reports"]) == 4
    out = capsys.readouterr().out
    assert "gates of cancer/2 (medium risk profile)" in out
    for gate in ("accuracy >= 0.9", "slice large: recall >= 0.5", "accuracy beats baseline"):
        assert gate in out
    assert "FAIL" in out and "cancer/2 rejected" in out
    assert "  - accuracy >= 0.9 on holdout/1: " in out
    assert main([*store, "gate", "cancer/1", "--out", "reports"]) == 0
    out = capsys.readouterr().out
    assert "cancer/1 blessed" in out and "FAIL" not in out
    reports = sorted(p.name for p in (workdir / "reports").iterdir())
    assert len(reports) == 4 and {Path(r).suffix for r in reports} == {".json", ".html"}
    with Client(store[1], store[3]) as client:
        history = client.gate_history("cancer/2")
        assert [g.verdict for g in history] == ["rejected"]
        assert client.get_policy("cancer").risk_profile == "medium"  # type: ignore[union-attr]


def test_gate_as_json(store, workdir, capsys) -> None:
    assert main([*store, "gate", "cancer/1", "--json", "--out", "reports"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["gates"]["verdict"] == "blessed"
    assert [c["passed"] for c in shown["gates"]["checks"]] == [True, True, True]
    assert shown["evaluation"]["model"] == "cancer/1" and shown["evaluation"]["champion"] is None


def test_evaluate_writes_json_and_html_reports(store, workdir, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert main([*store, "evaluate", "cancer/2", "--suite", "holdout", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "cancer/2 on holdout/1" in text and "majority" in text
    assert "champion cancer/1" in text and "slices" in text
    [page] = out.glob("*.html")
    [data] = out.glob("*.json")
    assert page.stem == data.stem and page.stem.startswith("cancer-2-holdout-")
    report = json.loads(data.read_text())
    assert report["status"] == "finished" and report["champion"] == "cancer/1"
    assert report["snapshots"][0]["ref"] == "holdout/1"
    assert "gates" not in report
    html = page.read_text()
    assert "<h2>Snapshot holdout/1</h2>" in html and "uPlot" in html
    assert f"report: {page}" in text.replace("\n", "")


def test_evaluate_warns_when_a_baseline_wins(store, workdir, capsys) -> None:
    assert main([*store, "evaluate", "cancer/2", "--out", "reports", "--json"]) == 0
    snap = json.loads(capsys.readouterr().out)["snapshots"][0]
    majority = snap["baselines"]["majority"]["accuracy"]
    assert snap["metrics"]["accuracy"] == majority  # one weak feature: always the majority class
    assert main([*store, "evaluate", "cancer/2", "--out", "reports"]) == 0
    text = capsys.readouterr().out.replace("\n", " ")
    assert f"the majority baseline scores accuracy {majority:.4f}" in text
    assert "the model does not beat it" in text


def test_policy_apply_show_and_check(store, workdir, capsys) -> None:
    assert main([*store, "policy", "show", "cancer"]) == 3
    assert "cancer has no policy" in capsys.readouterr().out
    assert main([*store, "policy", "apply", "cancer"]) == 0
    source = Path("policies") / "cancer.yaml"
    assert f"policy of cancer from {workdir / source} is in force (medium risk profile)" in (
        capsys.readouterr().out.replace("\n", "")
    )
    assert main([*store, "policy", "show", "cancer", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["risk_profile"] == "medium"
    assert shown["gates"]["checks"][0] == "accuracy >= 0.9"
    assert shown["promotion"] == {
        "require_blessing": True,
        "require_comparative": False,
        "require_approval": False,
    }
    assert shown["suites"]["holdout"]["slices"] == {"large": {"mean radius": {"ge": 15.0}}}
    assert main([*store, "policy", "show", "cancer"]) == 0
    table = capsys.readouterr().out
    assert "risk profile" in table and "medium" in table and "slice large" in table
    assert main(["policy", "check", str(source)]) == 0
    assert "valid (medium risk profile, 3 gates)" in capsys.readouterr().out
    with Client(store[1], store[3]) as client:
        [entry] = client.audit_log(action="policy.set")
        assert entry.actor and entry.details["source"] == str(workdir / source)


def test_policy_apply_from_keel_yaml_and_a_named_file(store, workdir, capsys) -> None:
    (workdir / "policies" / "cancer.yaml").unlink()
    assert main([*store, "policy", "apply", "cancer"]) == 3
    assert "no policy found for cancer" in capsys.readouterr().out
    (workdir / "keel.yaml").write_text(
        "models:\n  cancer:\n    risk_profile: low\n    gates:\n      checks: [f1 > 0.5]\n"
    )
    assert main([*store, "policy", "apply", "cancer"]) == 0
    assert "models.cancer is in force (low risk profile)" in capsys.readouterr().out
    other = workdir / "strict.yaml"
    other.write_text(POLICY.format(threshold=0.99))
    assert main([*store, "policy", "apply", "cancer", "--file", str(other)]) == 0
    capsys.readouterr()
    assert main([*store, "policy", "show", "cancer", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["gates"]["checks"][0] == "accuracy >= 0.99"
    assert main([*store, "policy", "apply", "cancer", "--file", "missing.yaml"]) == 3
    assert "file 'missing.yaml' not found" in one_line_error(capsys)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gates:\n  checks: [acc >= 0.9]\n", "gates.checks[0]: 'acc >= 0.9': unknown metric"),
        ("risk_profile: severe\n", "risk_profile: 'severe' is not one of low, medium, high"),
        (
            "risk_profile: high\ngates:\n  checks: [accuracy >= 0.9]\n",
            "gates.checks: the high profile requires a comparison with the champion",
        ),
        (
            "suites:\n  h: {snapshots: [h], target: y}\ngates:\n  checks: ['slice x: f1 > 0']\n",
            "gates.checks[0]: 'slice x: f1 > 0' names a slice the suite does not define",
        ),
        (
            "gates:\n  checks: ['f1 not worse than champion by more than 0 at 42% confidence']\n",
            "confidence must be one of 90%, 95%, 97.5%, 99%, 99.5%",
        ),
        (
            "gates:\n  checks:\n    - slice x: f1 > 0\n",
            "gates.checks[0]: {'slice x': 'f1 > 0'} is not a gate sentence; in YAML, quote",
        ),
    ],
)
def test_policy_errors_are_one_line_and_exit_2(store, workdir, capsys, text, message) -> None:
    (workdir / "policies" / "cancer.yaml").write_text(text)
    assert main(["policy", "check", "policies/cancer.yaml"]) == 2
    assert message in one_line_error(capsys)
    for command in (["policy", "apply", "cancer"], ["gate", "cancer/2"], ["evaluate", "cancer/2"]):
        assert main([*store, *command]) == 2
        assert message in one_line_error(capsys)


def test_invalid_yaml_and_missing_files(store, workdir, capsys) -> None:
    (workdir / "policies" / "cancer.yaml").write_text("risk_profile: [medium\n")
    assert main(["policy", "check", "policies/cancer.yaml"]) == 2
    assert "is not valid YAML" in capsys.readouterr().err
    assert main(["policy", "check", "nothing.yaml"]) == 3
    assert "file 'nothing.yaml' not found" in one_line_error(capsys)


def test_alias_set_force_needs_a_reason(store, workdir, capsys) -> None:
    assert main([*store, "policy", "apply", "cancer"]) == 0
    capsys.readouterr()
    assert main([*store, "alias", "set", "cancer", "champion", "2"]) == 4
    refused = one_line_error(capsys)
    assert "cancer/2 cannot become champion under the medium risk profile" in refused
    assert "keel gate cancer/2" in refused
    assert main([*store, "alias", "set", "cancer", "champion", "2", "--force"]) == 2
    assert "reason: forcing a promotion past the policy needs a reason" in one_line_error(capsys)
    assert main([*store, "alias", "set", "cancer", "champion", "2", "--force", "-r", "hotfix"]) == 0
    assert "cancer@champion -> cancer/2" in capsys.readouterr().out
    with Client(store[1], store[3]) as client:
        [override] = client.audit_log(action="gate.override")
        assert override.details["reason"] == "hotfix"
        assert client.get_version("models:/cancer@champion").version == 2


def test_approve_records_who_and_why(store, workdir, capsys) -> None:
    text = POLICY.format(threshold=0.9).replace(
        "gates:", "promotion:\n  require_approval: true\ngates:"
    )
    (workdir / "policies" / "cancer.yaml").write_text(text)
    assert main([*store, "policy", "apply", "cancer"]) == 0
    assert main([*store, "alias", "set", "cancer", "champion", "2", "--force", "-r", "x"]) == 0
    assert main([*store, "gate", "cancer/1", "--out", "reports"]) == 0
    capsys.readouterr()
    assert main([*store, "alias", "set", "cancer", "champion", "1"]) == 4
    assert "it has no recorded approval" in one_line_error(capsys)
    assert main([*store, "--user", "bob", "approve", "cancer/1", "--reason", "looked"]) == 0
    assert "approved cancer/1 as bob" in capsys.readouterr().out
    assert main([*store, "alias", "set", "cancer", "champion", "1", "-r", "approved"]) == 0
    assert main([*store, "approve", "cancer/1", "--reason", ""]) == 2
    assert "reason: an approval needs a reason" in one_line_error(capsys)


def test_stored_evaluations_are_listed_and_reported_again(tmp_path, capsys) -> None:
    import json as jsonlib

    from keel.cli.app import main as cli
    from keel.client import Client
    from keel.settings import Settings

    store = ["--store", f"sqlite:///{tmp_path / 'k.db'}", "--artifacts", str(tmp_path / "a")]
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, target = load_iris(return_X_y=True, as_frame=True)
    frame = features.assign(target=target)
    settings = Settings(store_url=store[1], artifacts=store[3], actor="ann")
    with Client(settings=settings) as client:
        client.register_snapshot(frame, "iris-holdout")
        model = LogisticRegression(max_iter=500).fit(features, target)
        client.register_model("iris", model, training_data=frame, target="target")
        policy = {
            "risk_profile": "medium",
            "suites": {"r": {"snapshots": ["iris-holdout"], "target": "target", "resamples": 0}},
            "gates": {"checks": ["accuracy >= 0.9"]},
        }
        _, outcome = client.gate("iris/1", policy=policy)
        assert outcome.blessed
    assert cli([*store, "evaluations", "list", "iris", "--json"]) == 0
    listed = jsonlib.loads(capsys.readouterr().out)
    assert [(e["version"], e["suite"], e["verdict"]) for e in listed] == [(1, "r", "blessed")]
    out = tmp_path / "reports"
    assert cli([*store, "evaluations", "report", str(listed[0]["id"]), "--out", str(out)]) == 0
    page = next(out.glob("*.html")).read_text()
    assert "blessed" in page and "iris-holdout/1" in page
    assert cli([*store, "evaluations", "report", "999"]) == 3
    assert "evaluation '999' not found" in capsys.readouterr().err


def test_gate_after_evaluate_judges_that_evaluation_and_names_the_champion(
    store, workdir, capsys
) -> None:
    assert main([*store, "evaluate", "cancer/2", "--out", "reports"]) == 0
    capsys.readouterr()
    assert main([*store, "gate", "cancer/2", "--out", "reports"]) == 4
    out = capsys.readouterr().out
    assert "reused evaluation 1: the same version, suite and snapshots" in out
    assert "cancer/2 rejected (compared with champion cancer/1)" in out
    with Client(store[1], store[3]) as client:
        assert [e.id for e in client.list_evaluations("cancer")] == [1]
