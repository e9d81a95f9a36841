"""The CLI against a real SQLite store: tables for people, JSON for scripts, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from keel.cli.app import main
from keel.client import Client
from keel.settings import Settings


@pytest.fixture
def cli_store(tmp_path: Path) -> list[str]:
    return ["--store", f"sqlite:///{tmp_path / 'k.db'}", "--artifacts", str(tmp_path / "art")]


@pytest.fixture
def filled(cli_store: list[str], tmp_path: Path, cancer_frame, fitted_model) -> list[str]:
    """Two versions of `cancer`, champion moved from 1 to 2 with reasons."""
    settings = Settings(store_url=cli_store[1], artifacts=cli_store[3], actor="ann")
    with Client(settings=settings) as client:
        snapshot = client.register_snapshot(cancer_frame, "cancer")
        with client.start_run("train", params={"C": 1.0}) as run:
            run.log_metric("loss", 0.5)
            client.register_model(
                "cancer",
                fitted_model,
                training_data=snapshot,
                target="target",
                metrics={"acc": 0.9},
            )
        client.register_model(
            "cancer",
            fitted_model,
            training_data=snapshot,
            target="target",
            parent=1,
            metrics={"acc": 0.95},
            tags={"team": "risk"},
        )
        client.set_alias("cancer", "champion", 1, reason="first")
        client.set_alias("cancer", "champion", 2, reason="better auc")
    return cli_store


def run_json(capsys: pytest.CaptureFixture[str], args: list[str]) -> object:
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def test_models_and_versions_as_json(filled: list[str], capsys) -> None:
    models = run_json(capsys, [*filled, "models", "list", "--json"])
    assert models == [
        {
            "name": "cancer",
            "created_at": models[0]["created_at"],
            "description": "",
            "tags": {},
            "latest_version": 2,
            "aliases": {"champion": 2},
        }
    ]
    versions = run_json(capsys, [*filled, "versions", "list", "cancer", "--json"])
    assert [v["version"] for v in versions] == [2, 1]
    found = run_json(
        capsys, [*filled, "versions", "list", "cancer", "--filter", "metrics.acc > 0.92", "--json"]
    )
    assert [v["version"] for v in found] == [2]
    shown = run_json(capsys, [*filled, "versions", "show", "models:/cancer@champion", "--json"])
    assert shown["version"] == 2
    assert shown["parent_version"] == 1
    assert shown["training_snapshot"] == "cancer/1"
    assert shown["signature"]["inputs"][0]["name"] == "mean radius"


def test_history_answers_who_was_champion_when(filled: list[str], capsys) -> None:
    history = run_json(capsys, [*filled, "history", "cancer", "--json"])
    periods = [(p["alias"], p["version"], p["reason"], p["moved_by"]) for p in history["periods"]]
    assert periods == [("champion", 1, "first", "ann"), ("champion", 2, "better auc", "ann")]
    first, second = history["periods"]
    assert first["end"] == second["start"]
    assert second["end"] is None
    assert main([*filled, "history", "cancer"]) == 0
    table = capsys.readouterr().out
    assert "better auc" in table and "now" in table


def test_lineage_prints_data_run_parents_and_aliases(filled: list[str], capsys) -> None:
    assert main([*filled, "lineage", "cancer/1"]) == 0
    text = capsys.readouterr().out
    assert "cancer/1 [train]" in text
    assert "run train" in text and "C=1" in text
    assert "children: cancer/2" in text
    assert "champion:" in text and "first" in text
    graph = run_json(capsys, [*filled, "lineage", "cancer/2", "--json"])
    assert graph["parents"][0]["version"] == 1
    assert graph["snapshots"][0]["ref"] == "cancer/1"


def test_alias_set_list_delete(filled: list[str], capsys) -> None:
    assert main([*filled, "alias", "set", "cancer", "challenger", "1", "--reason", "shadow"]) == 0
    assert "cancer@challenger -> cancer/1" in capsys.readouterr().out
    current = run_json(capsys, [*filled, "alias", "list", "cancer", "--json"])
    assert {(a["alias"], a["version"]) for a in current} == {("champion", 2), ("challenger", 1)}
    assert main([*filled, "alias", "delete", "cancer", "challenger", "-r", "done"]) == 0
    capsys.readouterr()
    current = run_json(capsys, [*filled, "alias", "list", "cancer", "--json"])
    assert [a["alias"] for a in current] == ["champion"]


def test_a_bare_name_is_the_champion_or_a_hint(filled: list[str], capsys) -> None:
    assert main([*filled, "alias", "set", "cancer", "champion", "1", "--reason", "back"]) == 0
    capsys.readouterr()
    shown = run_json(capsys, [*filled, "versions", "show", "models:/cancer", "--json"])
    assert shown["version"] == 1  # the champion, though 2 is newer
    assert main([*filled, "alias", "delete", "cancer", "champion", "-r", "retired"]) == 0
    capsys.readouterr()
    assert main([*filled, "versions", "show", "models:/cancer"]) == 3
    error = capsys.readouterr().err
    assert "cancer@champion" in error and "models:/cancer/VERSION" in error


def test_a_listing_that_cuts_metrics_says_so(filled: list[str], fitted_model, capsys) -> None:
    settings = Settings(store_url=filled[1], artifacts=filled[3], actor="ann")
    with Client(settings=settings) as client:
        many = {f"m{i}": i / 10 for i in range(6)}
        client.register_model("cancer", fitted_model, metrics=many)
    assert main([*filled, "versions", "list", "cancer"]) == 0
    out = capsys.readouterr().out
    assert "... (+2 more)" in out  # six metrics, four shown


def test_datasets_register_list_show(cli_store: list[str], tmp_path: Path, cancer_frame, capsys):
    path = tmp_path / "data.csv"
    cancer_frame.to_csv(path, index=False)
    made = run_json(
        capsys, [*cli_store, "datasets", "register", str(path), "--name", "c", "--json"]
    )
    again = run_json(capsys, [*cli_store, "datasets", "register", str(path), "-n", "c", "--json"])
    assert made["sha256"] == again["sha256"] and again["version"] == 1
    listed = run_json(capsys, [*cli_store, "datasets", "list", "--json"])
    assert [s["name"] for s in listed] == ["c"]
    assert main([*cli_store, "datasets", "show", "c/1"]) == 0
    text = capsys.readouterr().out
    assert "569 rows x 31 columns" in text and "mean radius" in text


def test_runs_and_audit(filled: list[str], capsys) -> None:
    runs = run_json(capsys, [*filled, "runs", "list", "--json"])
    assert runs[0]["name"] == "train" and runs[0]["status"] == "finished"
    assert runs[0]["metrics"] == {"loss": 0.5}
    assert main([*filled, "runs", "show", runs[0]["id"]]) == 0
    assert runs[0]["id"] in capsys.readouterr().out
    # the 8 characters the listing prints are enough
    assert main([*filled, "runs", "list"]) == 0
    assert runs[0]["id"][:8] in capsys.readouterr().out
    shown = run_json(capsys, [*filled, "runs", "show", runs[0]["id"][:8], "--json"])
    assert shown["id"] == runs[0]["id"]
    entries = run_json(capsys, [*filled, "audit", "list", "--subject", "model:cancer", "--json"])
    assert {e["action"] for e in entries} >= {"alias.set", "version.register"}
    assert main([*filled, "audit", "verify"]) == 0
    assert "intact" in capsys.readouterr().out


def test_audit_verify_names_the_tampered_entry(filled: list[str], capsys) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(filled[1])
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"))
    engine.dispose()
    assert main([*filled, "audit", "verify"]) == 5
    assert "broken at entry 3" in capsys.readouterr().out
    verdict = (main([*filled, "audit", "verify", "--json"]), capsys.readouterr().out)
    assert verdict[0] == 5 and json.loads(verdict[1])["first_bad_seq"] == 3


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["versions", "show", "cancer/9"], 3, "version 'cancer/9' not found"),
        (["versions", "show", "nope@champion"], 3, "model 'nope' not found"),
        (["versions", "show", "models:/ghost"], 3, "model 'ghost' not found"),
        (["alias", "set", "cancer", "Bad!", "1"], 2, "'Bad!' is not a valid alias"),
        (["versions", "list", "cancer", "--filter", "metrics.acc >"], 2, "filter"),
        (["versions", "archive", "cancer/2"], 4, "still holds the alias"),
        (["datasets", "register", "missing.csv", "--name", "x"], 3, "not found"),
        # usage errors: click's message, exit 2 (whichever click Typer uses)
        (["--bogus"], 2, "No such option: --bogus"),
        (["bogus"], 2, "No such command 'bogus'"),
        (["runs", "show"], 2, "Missing argument"),
        (["runs", "list", "--limit", "abc"], 2, "Invalid value for '--limit'"),
        (["runs", "show", "ab"], 2, "at least 4 characters"),
    ],
)
def test_errors_are_one_line_and_an_exit_code(filled, capsys, args, code, message) -> None:
    assert main([*filled, *args]) == code
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_unreachable_store_is_a_clear_error(capsys) -> None:
    assert main(["--store", "postgresql://x@127.0.0.1:1/none", "models", "list"]) == 6
    assert "could not be used" in capsys.readouterr().err


def test_console_script_runs_and_fails_cleanly(tmp_path: Path) -> None:
    keel = Path(sys.executable).with_name("keel")
    shown = subprocess.run([keel, "--help"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "lineage" in shown.stdout
    Client(f"sqlite:///{tmp_path / 'k.db'}", str(tmp_path)).close()  # an empty store
    failed = subprocess.run(
        [
            keel,
            "--store",
            f"sqlite:///{tmp_path / 'k.db'}",
            "--artifacts",
            str(tmp_path),
            "versions",
            "show",
            "ghost/1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode == 3
    assert failed.stderr.strip().count("\n") == 0
    assert "model 'ghost' not found" in failed.stderr
