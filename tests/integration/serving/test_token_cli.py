"""``keel token create|list|revoke`` against a real store (mounted on a root with keel's global
options, as ``keel.cli.app`` mounts it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from keel.cli import tokens as token_cli
from keel.cli.app import _options
from keel.client import Client
from keel.errors import NotFound, StoreNotFound
from keel.registry import tokens
from keel.store.database import Database


def root() -> typer.Typer:
    app = typer.Typer()
    app.callback()(_options)
    app.add_typer(token_cli.app, name="token")
    return app


def test_create_list_and_revoke(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    store = ["--store", url, "--artifacts", str(tmp_path / "art"), "--user", "ann"]
    runner = CliRunner()
    command = ["token", "create", "--role", "deploy", "--name", "ci", "--json"]
    missing = runner.invoke(root(), [*store, *command])  # a token for a store that is not there
    assert isinstance(missing.exception, StoreNotFound) and not (tmp_path / "k.db").exists()
    Client(url, str(tmp_path / "art")).close()
    created = runner.invoke(root(), [*store, *command])
    assert created.exit_code == 0, created.output
    made = json.loads(created.stdout)
    assert made["role"] == "deploy" and made["name"] == "ci" and made["created_by"] == "ann"
    db = Database(url)
    try:
        assert tokens.verify(db, made["token"]) is not None
        listed = runner.invoke(root(), [*store, "token", "list"])
        assert listed.exit_code == 0 and made["prefix"] in listed.stdout
        assert made["token"] not in listed.stdout  # only ever shown once
        revoked = runner.invoke(root(), [*store, "token", "revoke", made["prefix"]])
        assert revoked.exit_code == 0 and "revoked" in revoked.stdout
        assert tokens.verify(db, made["token"]) is None
        refused = runner.invoke(root(), [*store, "token", "create", "--role", "root"])
        assert refused.exit_code != 0
    finally:
        db.close()


def test_the_sdk_and_the_cli_share_the_token_service(tmp_path: Path) -> None:
    """``client.create_token`` and ``keel token`` are the same operation: the same record, the
    same audit entries, and a token either made is one the other lists and revokes."""
    url = f"sqlite:///{tmp_path / 'k.db'}"
    store = ["--store", url, "--artifacts", str(tmp_path / "art"), "--user", "ann"]
    with Client(url, str(tmp_path / "art"), actor="bob") as client:
        token, record = client.create_token("predict", "batch-job")
        assert record.created_by == "bob" and record.role == "predict"
        assert client.tokens.create_token.__doc__ == client.create_token.__doc__
        listed = CliRunner().invoke(root(), [*store, "token", "list", "--json"])
        assert [t["prefix"] for t in json.loads(listed.stdout)] == [record.prefix]
        revoked = CliRunner().invoke(root(), [*store, "token", "revoke", record.prefix])
        assert revoked.exit_code == 0, revoked.output
        (seen,) = client.list_tokens()
        assert seen.revoked_at is not None and tokens.verify(client.db, token) is None
        trail = [(e.action, e.actor) for e in client.audit_log(subject=f"token:{record.prefix}")]
        assert trail == [("token.revoke", "ann"), ("token.create", "bob")]
        with pytest.raises(NotFound, match="nope"):
            client.revoke_token("nope")
