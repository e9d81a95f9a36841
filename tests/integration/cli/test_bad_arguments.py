"""Malformed arguments get a usage error (exit 2) or another clean one-line error, never exit 70
("unexpected"); a store that is not there is reported ("no store at PATH", exit 3) by every
command that does not create one, and created, and said so, by those that do."""

from __future__ import annotations

import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main

from keel.cli.app import app, main
from keel.client import Client
from keel.errors import StoreNotFound
from keel.settings import Settings
from tests.integration.serving.conftest import free_port

HUGE = "99999999999999999999"  # beyond SQLite's and PostgreSQL's 64-bit integers


def faces(folder: Path) -> list[str]:
    return ["--store", f"sqlite:///{folder / 'k.db'}", "--artifacts", str(folder / "art")]


@pytest.fixture(scope="module")
def stored(
    tmp_path_factory: pytest.TempPathFactory, cancer_frame: Any, fitted_model: Any
) -> list[str]:
    """A store holding one model, `cancer`, with a champion."""
    folder = tmp_path_factory.mktemp("bad-arguments")
    settings = Settings(
        store_url=f"sqlite:///{folder / 'k.db'}", artifacts=str(folder / "art"), actor="ann"
    )
    with Client(settings=settings) as client:
        client.register_model("cancer", fitted_model, training_data=cancer_frame, target="target")
        client.set_alias("cancer", "champion", 1, reason="first")
    return faces(folder)


@pytest.fixture
def inside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a folder of the test's own: reports and policy lookups land there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("command", ["serve", "ui"])
@pytest.mark.parametrize("port", ["99999", "65536", "0", "-1"])
def test_a_port_outside_1_to_65535_is_a_usage_error(
    command: str, port: str, tmp_path: Path
) -> None:
    """In a process of its own: a server that starts anyway must not hang the suite."""
    keel = Path(sys.executable).with_name("keel")
    arguments = [str(keel), *faces(tmp_path), command, "--host", "127.0.0.1", "--port", port]
    try:
        done = subprocess.run(arguments, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"keel {command} --port {port} started a server")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--port" in done.stderr and "serving on" not in done.stdout


def test_more_workers_than_a_machine_could_run_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # a store nobody answers for: were the option accepted, the command would stop there
    # (exit 6) instead of starting a server with that many processes
    nowhere = ["--store", "postgresql://keel@127.0.0.1:1/none"]
    assert main([*nowhere, "serve", "--workers", HUGE]) == 2
    assert "--workers" in capsys.readouterr().err


READ_ONLY = [
    ["models", "list"],
    ["versions", "list", "cancer"],
    ["versions", "show", "cancer/1"],
    ["datasets", "list"],
    ["alias", "list", "cancer"],
    ["history", "cancer"],
    ["runs", "list"],
    ["audit", "list"],
    ["audit", "verify"],
    ["policy", "show", "cancer"],
    ["monitor", "windows", "cancer"],
    ["monitor", "run", "cancer"],
    ["alerts", "list"],
    ["rollout", "history", "cancer"],
    ["retrains"],
    ["token", "list"],
    ["token", "create", "--role", "predict", "--name", "ci"],
]


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_a_command_that_does_not_create_a_store_says_there_is_none(
    inside: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    missing = inside / "typo" / "k.db"
    arguments = ["--store", f"sqlite:///{missing}", "--artifacts", str(inside / "typo" / "art")]
    assert main([*arguments, *command]) == 3
    assert f"no store at {missing}" in capsys.readouterr().err
    assert not (inside / "typo").exists()


def test_a_missing_artifact_folder_beside_an_existing_store_is_reported(
    inside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Client(f"sqlite:///{inside / 'k.db'}", str(inside / "art")).close()
    elsewhere = ["--store", f"sqlite:///{inside / 'k.db'}", "--artifacts", "elsewhere"]
    assert main([*elsewhere, "models", "list"]) == 3
    assert f"no artifact store at {inside / 'elsewhere'}" in capsys.readouterr().err
    assert not (inside / "elsewhere").exists()


def test_registering_creates_the_store_and_says_so(
    inside: Path, cancer_frame: Any, fitted_model: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    table = inside / "data.csv"
    cancer_frame.to_csv(table, index=False)
    arguments = faces(inside / "new")
    assert main([*arguments, "datasets", "register", str(table), "-n", "c", "--json"]) == 0
    first = capsys.readouterr()
    assert "created a new store at sqlite:///" in first.err and '"name": "c"' in first.out
    assert main([*arguments, "datasets", "register", str(table), "-n", "c", "--json"]) == 0
    assert "created" not in capsys.readouterr().err
    assert main([*arguments, "models", "list"]) == 0


def test_the_sdk_creates_its_store_unless_told_not_to(tmp_path: Path) -> None:
    with pytest.raises(StoreNotFound, match="no store at"):
        Client(f"sqlite:///{tmp_path / 'a' / 'k.db'}", str(tmp_path / "a" / "art"), create=False)
    assert not (tmp_path / "a").exists()
    with Client(f"sqlite:///{tmp_path / 'b' / 'k.db'}", str(tmp_path / "b" / "art")) as client:
        assert client.db.created and client.artifacts.created
    with Client(f"sqlite:///{tmp_path / 'b' / 'k.db'}", str(tmp_path / "b" / "art")) as client:
        assert not client.db.created and not client.artifacts.created


def test_keel_serve_on_a_store_that_is_not_there_exits_3(tmp_path: Path) -> None:
    keel = Path(sys.executable).with_name("keel")
    command = [
        str(keel),
        *faces(tmp_path / "none"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(free_port()),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "no store at" in done.stderr and "serving on" not in done.stdout


def _commands() -> Iterator[tuple[list[str], Any]]:
    def walk(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])
        else:
            yield path, command

    yield from walk(typer.main.get_command(app), [])


def _annotation(parameter: Any) -> Any:
    annotation = parameter.type_descriptor.annotation
    inner = [a for a in typing.get_args(annotation) if a is not type(None)]
    if inner and typing.get_origin(annotation) is not list:
        annotation = inner[0]
    if typing.get_origin(annotation) is list:
        annotation = typing.get_args(annotation)[0]
    return annotation


def test_every_listing_limit_and_stored_id_beyond_64_bits_is_a_usage_error(
    stored: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    checked = []
    for path, command in _commands():
        if tuple(path) in SKIPPED:  # servers and loops: see the port and worker tests
            continue
        for parameter in command.params:
            if _annotation(parameter) is not int:
                continue
            arguments = _fill(command, skip=parameter)
            if parameter.param_type_name == "argument":
                arguments = _fill(command, replace={parameter.name: HUGE})
            else:
                arguments = [*arguments, parameter.opts[0], HUGE]
            code = main([*stored, *path, *arguments])
            assert code == 2, (path, parameter.name, capsys.readouterr())
            checked.append(" ".join([*path, parameter.name]))
    assert {"models list limit", "alerts ack alert_id", "evaluations report evaluation_id"} <= {
        c.replace("versions list limit", "models list limit") for c in checked
    }
    assert len(checked) >= 12


def _fill(command: Any, skip: Any = None, replace: dict[str, str] | None = None) -> list[str]:
    """Well-formed values for a command's required parameters."""
    values = replace or {}
    arguments: list[str] = []
    options: list[str] = []
    for parameter in command.params:
        if not parameter.required or parameter is skip:
            continue
        value = values.get(parameter.name) or _plausible(parameter)
        if parameter.param_type_name == "argument":
            arguments.append(value)
        else:
            options += [parameter.opts[0], value]
    return arguments + options


def _plausible(parameter: Any) -> str:
    annotation = _annotation(parameter)
    if annotation in (int, float):
        return "1"
    if annotation is Path:
        return "missing.csv"
    return {"ref": "cancer/1", "role": "predict"}.get(parameter.name, "cancer")


#: long-running commands (servers, loops) and those that train models
SKIPPED = {("serve",), ("ui",), ("demo",), ("autopilot",), ("rollout", "watch"), ("retrain",)}


def test_no_malformed_argument_makes_any_command_fail_unexpectedly(
    stored: list[str], inside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = inside / "binary.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    malformed: dict[Any, list[str]] = {
        int: [HUGE, "-" + HUGE, "x"],
        float: ["1e400", "nan", "-inf"],
        Path: [str(binary), str(inside), str(inside / ("x" * 300)), ""],
        str: ["\udcff", "", "x" * 300, "models:/x@@y", "cancer/" + HUGE, "%s%n"],
    }
    calls = 0
    for path, command in _commands():
        if tuple(path) in SKIPPED:
            continue
        for parameter in command.params:
            if getattr(parameter, "is_flag", False) or parameter.name == "help":
                continue
            for value in malformed.get(_annotation(parameter), malformed[str]):
                if parameter.param_type_name == "argument":
                    arguments = _fill(command, replace={parameter.name: value})
                else:
                    arguments = [*_fill(command, skip=parameter), parameter.opts[0], value]
                code = main([*stored, *path, *arguments])
                calls += 1
                output = capsys.readouterr()
                assert code != 70 and "unexpected" not in output.err, (path, value, output)
    assert calls > 200


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("rollout:\n  strategy: canary\n  steps: [5, 1e400]\n", "rollout.steps"),
        ("rollout:\n  interval: 99999999999999999999d\n", "rollout.interval"),
        ("gates:\n  checks: ['accuracy >= 1e400']\n", "gates.checks[0]"),
    ],
)
def test_policy_check_refuses_what_deploy_would_refuse(
    inside: Path, text: str, field: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (inside / "p.yaml").write_text(text)
    assert main(["policy", "check", "p.yaml"]) == 2
    assert f"p.yaml.{field}" in capsys.readouterr().err


def test_unreadable_policy_files_and_undecodable_arguments_are_usage_errors(
    inside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (inside / "binary.yaml").write_bytes(b"\x7fELF\x02\x01\x01\x00\xd0\xff" * 10)
    assert main(["policy", "check", "binary.yaml"]) == 2
    assert "not a UTF-8 text file" in capsys.readouterr().err
    (inside / "folder.yaml").mkdir()
    assert main(["policy", "check", "folder.yaml"]) in (2, 3)
    assert main(["models", "list", "\udcff"]) == 2
    assert "not valid UTF-8" in capsys.readouterr().err
