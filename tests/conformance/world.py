"""A world (one table's store and server) and a loop (one flavour going round it on that
table, each stage run once and remembered)."""

from __future__ import annotations

import contextlib
import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from keel.client import Client
from keel.settings import Settings
from tests.conformance.flavour_case import FlavourCase
from tests.conformance.tables import Table
from tests.integration.serving.conftest import Server, start_server, stop_server

#: what the suite reports beside pass/fail (e.g. ONNX's distance from its source), by case
NOTES: dict[str, list[str]] = {}


@dataclass
class World:
    """One table's store and server."""

    table: Table
    folder: Path
    settings: Settings
    server_: Server | None = None
    starting: threading.Thread | None = None
    start_error: BaseException | None = None
    #: rows the server answered, per model (what its prediction log must come to hold)
    answered: dict[str, int] = field(default_factory=dict)

    def client(self) -> Client:
        return Client(settings=self.settings)

    def cli(self, *args: str) -> tuple[int, str, str]:
        """``keel ARGS`` in this process against the world's store: (exit code, stdout,
        stderr)."""
        from keel.cli.app import main

        out, err = io.StringIO(), io.StringIO()
        store = ["--store", self.settings.store_url, "--artifacts", self.settings.artifacts]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([*store, "--user", "conformance", *args])
        return code, out.getvalue(), err.getvalue()

    def cli_json(self, *args: str) -> Any:
        """``keel ARGS --json``, which must succeed: its document (a list for JSON lines)."""
        code, out, err = self.cli(*args, "--json")
        assert code == 0, f"keel {' '.join(args)} exited {code}: {err}{out}"
        try:
            return json.loads(out)
        except json.JSONDecodeError:
            return [json.loads(line) for line in out.splitlines() if line.strip()]

    def start(self) -> None:
        """Start the server in the background: it loads each model as it is deployed, while
        the cases register and gate theirs."""

        def run() -> None:
            try:
                self.server_ = start_server(self.settings, self.folder, "--poll", "0.2")
            except BaseException as exc:  # reported by server()
                self.start_error = exc

        self.starting = threading.Thread(target=run, name=f"start-{self.table.name}")
        self.starting.start()

    def server(self) -> Server:
        if self.starting is None:
            self.start()
        assert self.starting is not None
        self.starting.join()
        if self.start_error is not None:
            raise AssertionError(f"keel serve did not start: {self.start_error}")
        assert self.server_ is not None
        return self.server_

    def stop(self) -> None:
        if self.starting is not None:
            self.starting.join()
        if self.server_ is not None:
            stop_server(self.server_)
            self.server_ = None

    def server_log(self) -> str:
        """What the server wrote to stderr so far."""
        return self.server_.stderr.read_text() if self.server_ is not None else ""


@dataclass
class Loop:
    """One flavour on one table going round the loop; each stage runs once."""

    world: World
    case: FlavourCase
    done: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def table(self) -> Table:
        return self.world.table

    @property
    def model(self) -> str:
        return f"{self.table.name}-{self.case.name}"

    @property
    def version(self) -> int:
        """The version the loop starts from (registered, or converted from what was)."""
        from tests.conformance.stages import register

        return int(self.stage("register", register)["version"].version)

    def stage(self, name: str, run: Callable[[Loop], Any]) -> Any:
        """The result of stage ``name``, running it now if it has not run; a stage that failed
        before skips whoever needs it."""
        if name in self.failed:
            pytest.skip(f"{self.model}: stage {name!r} failed: {self.failed[name]}")
        if name not in self.done:
            try:
                self.done[name] = run(self)
            except BaseException as exc:
                if not isinstance(exc, pytest.skip.Exception):
                    self.failed[name] = f"{type(exc).__name__}: {str(exc)[:300]}"
                raise
        return self.done[name]

    def note(self, text: str) -> None:
        NOTES.setdefault(self.model, []).append(text)
