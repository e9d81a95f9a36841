"""The user documentation under docs/: it builds, and it covers the CLI and the policy schema.

- ``mkdocs build --strict`` succeeds (broken links, missing anchors and pages left out of the
  navigation are errors, see ``validation`` in mkdocs.yml);
- every top-level command of the Typer app has a page ``docs/cli/NAME.md`` that names each of
  its options (subcommands included);
- every field of the policy models is named, in backticks, somewhere in ``docs/policy/``;
- the complete example in ``docs/policy/index.md`` is a policy Keel accepts.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
import typer.main
from pydantic import BaseModel

from keel.cli.app import app
from keel.domain.alert_rules import AlertRule
from keel.domain.policy import Gate, Policy
from keel.domain.retraining import Trigger

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

#: written as sentences in a policy file, not as mappings: their fields are parsed, not typed
SENTENCES = (Gate, AlertRule, Trigger)


def test_mkdocs_builds_strictly(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(tmp_path / "site"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "index.html").is_file()


def _top_level_commands() -> list[str]:
    names = [
        command.name or command.callback.__name__.replace("_", "-")
        for command in app.registered_commands
        if command.callback is not None
    ]
    names += [group.name or str(group.typer_instance.info.name) for group in app.registered_groups]
    return sorted(names)


def test_the_walk_finds_the_commands() -> None:
    names = _top_level_commands()
    assert {"models", "deploy", "serve", "autopilot", "monitor"} <= set(names)
    assert len(names) == len(set(names))


@pytest.mark.parametrize("name", _top_level_commands())
def test_every_command_has_a_page_naming_its_options(name: str) -> None:
    page = DOCS / "cli" / f"{name}.md"
    assert page.is_file(), f"docs/cli/{name}.md is missing"
    text = page.read_text(encoding="utf-8")
    index = (DOCS / "cli" / "index.md").read_text(encoding="utf-8")
    assert f"({name}.md)" in index, f"docs/cli/index.md does not link to {name}.md"
    missing = [
        f"{' '.join(path)} {option}"
        for path, option in _options(_click_commands()[name], [name])
        if option not in text
    ]
    assert not missing, f"docs/cli/{name}.md does not mention: {', '.join(missing)}"


@functools.cache
def _click_commands() -> dict[str, Any]:
    # Typer may build on its own copy of Click, so commands are read by their attributes
    return dict(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def _options(command: Any, path: list[str]) -> list[tuple[list[str], str]]:
    """(command path, longest option name) for every option of a command and its subcommands."""
    out = [
        (path, max(param.opts, key=len))
        for param in command.params
        if param.param_type_name == "option" and "--help" not in param.opts
    ]
    for sub_name, sub in getattr(command, "commands", {}).items():
        out += _options(sub, [*path, sub_name])
    return out


def _policy_fields(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[str]:
    if model in seen or issubclass(model, SENTENCES):
        return set()
    seen.add(model)
    fields: set[str] = set()
    for name, info in model.model_fields.items():
        fields.add(info.alias or name)
        for inner in _models_in(info.annotation):
            fields |= _policy_fields(inner, seen)
    return fields


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) is not None or get_args(annotation):
        return [m for arg in get_args(annotation) for m in _models_in(arg)]
    return []


def test_every_policy_field_is_documented() -> None:
    fields = _policy_fields(Policy, set())
    assert {"risk_profile", "min_rows_per_step", "numeric_effect", "recent_rows", "in"} <= fields
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted((DOCS / "policy").glob("*.md")))
    missing = sorted(f for f in fields if f"`{f}`" not in text)
    assert not missing, f"docs/policy/ does not mention: {', '.join(missing)}"


def test_the_complete_example_policy_is_valid() -> None:
    text = (DOCS / "policy" / "index.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, "docs/policy/index.md has no yaml example"
    import yaml

    policy = Policy.parse(yaml.safe_load(blocks[0]), "docs/policy/index.md")
    assert policy.gates.checks
    assert policy.monitoring.alerts
    assert policy.retraining.triggers
