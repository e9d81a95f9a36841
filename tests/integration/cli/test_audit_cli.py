"""`keel audit verify` on a real SQLite store: exit 5 with every finding named, table by table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from keel.cli.app import main
from keel.client import Client
from keel.settings import Settings


@pytest.fixture
def store(tmp_path: Path, fitted_model: Any) -> Iterator[tuple[list[str], Client]]:
    """cancer/1 and cancer/2, champion on 1; the CLI's arguments and a client on the store."""
    args = ["--store", f"sqlite:///{tmp_path / 'k.db'}", "--artifacts", str(tmp_path / "art")]
    client = Client(settings=Settings(store_url=args[1], artifacts=args[3], actor="ann"))
    client.register_model("cancer", fitted_model)
    client.register_model("cancer", fitted_model)
    client.set_alias("cancer", "champion", 1, reason="first")
    yield args, client
    client.close()


def sql(url: str, statement: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(statement))
    engine.dispose()


def test_an_untampered_store_exits_0_and_says_what_it_checked(
    store: tuple[list[str], Client], capsys: pytest.CaptureFixture[str]
) -> None:
    args, _ = store
    assert main([*args, "audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "audit chain intact: 3 entries verified" in out
    assert "keyed checkpoint at entry 3" in out
    assert "artifacts: " in out and "files hashed" in out
    assert "every alias, version, deployment and token matches the trail" in out


def test_state_changed_behind_the_trail_exits_5_naming_each_row(
    store: tuple[list[str], Client], capsys: pytest.CaptureFixture[str]
) -> None:
    args, _ = store
    sql(args[1], "UPDATE aliases SET version_id = (SELECT max(id) FROM model_versions)")
    sql(args[1], "UPDATE model_versions SET format = 'cloudpickle' WHERE version = 1")
    assert main([*args, "audit", "verify"]) == 5
    out = capsys.readouterr().out
    assert "2 finding(s)" in out
    for text in ("aliases", "cancer@champion", "version 2", "model_versions", "cancer/1 format"):
        assert text in out
    assert main([*args, "audit", "verify", "--json"]) == 5
    report = json.loads(capsys.readouterr().out)
    assert report["intact"] is False and report["chain_intact"] is True
    rows = {(f["table"], f["row"]): f for f in report["findings"]}
    assert rows[("aliases", "cancer@champion")]["found"] == "version 2"
    assert rows[("aliases", "cancer@champion")]["expected"].startswith("version 1 (seq 3)")
    assert rows[("model_versions", "cancer/1 format")]["expected"].startswith("skops")


def test_a_cut_off_trail_exits_5(
    store: tuple[list[str], Client], capsys: pytest.CaptureFixture[str]
) -> None:
    args, client = store
    second = client.audit_log(limit=2)[1]
    sql(args[1], "DELETE FROM aliases")  # the newest entry (the alias move) is cut off below
    sql(args[1], "DELETE FROM audit_log WHERE seq = 3")
    sql(args[1], f"UPDATE audit_head SET seq = 2, hash = '{second.hash}'")
    assert main([*args, "audit", "verify", "--json"]) == 5
    report = json.loads(capsys.readouterr().out)
    assert report["chain_intact"] is True
    assert report["checkpoint_seq"] == 3
    assert [(f["table"], f["row"]) for f in report["findings"]] == [("audit_head", "id 1")]


def test_artifacts_are_hashed_unless_told_not_to(
    store: tuple[list[str], Client], capsys: pytest.CaptureFixture[str]
) -> None:
    args, client = store
    path = Path(client.artifacts.location(client.get_version("cancer/1").artifact_sha256))
    path.write_bytes(b"not the model any more")
    assert main([*args, "audit", "verify", "--no-artifacts"]) == 0
    assert "artifact files not hashed (--no-artifacts)" in capsys.readouterr().out
    assert main([*args, "audit", "verify", "--artifacts"]) == 5
    out = capsys.readouterr().out
    assert "artifacts" in out and "a file whose SHA-256 is" in out
    assert main([*args, "audit", "verify"]) == 5  # on by default for a small store
