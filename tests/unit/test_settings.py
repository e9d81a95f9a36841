"""Settings precedence: arguments, then KEEL_* variables, then keel.yaml, then the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel.errors import InvalidInput
from keel.settings import DEFAULT_ARTIFACTS, DEFAULT_STORE, Settings

YAML = """
store:
  url: sqlite:///from-yaml.db
  artifacts: /yaml/artifacts
  artifact_options:
    anon: true
user: yaml-user
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "keel.yaml"
    path.write_text(YAML)
    return path


def test_defaults_need_nothing(tmp_path: Path) -> None:
    settings = Settings.load(environ={}, config_file=tmp_path / "absent.yaml")
    assert settings.store_url == DEFAULT_STORE == "sqlite:///.keel/keel.db"
    assert settings.artifacts == DEFAULT_ARTIFACTS == ".keel/artifacts"
    assert settings.actor
    assert settings.artifact_options == {}


def test_yaml_overrides_defaults(config: Path) -> None:
    settings = Settings.load(environ={}, config_file=config)
    assert settings.store_url == "sqlite:///from-yaml.db"
    assert settings.artifacts == "/yaml/artifacts"
    assert settings.actor == "yaml-user"
    assert settings.artifact_options == {"anon": True}


def test_environment_overrides_yaml(config: Path) -> None:
    environ = {
        "KEEL_STORE_URL": "postgresql://db/keel",
        "KEEL_ARTIFACTS": "s3://bucket/keel",
        "KEEL_USER": "env-user",
    }
    settings = Settings.load(environ=environ, config_file=config)
    assert settings.store_url == "postgresql://db/keel"
    assert settings.artifacts == "s3://bucket/keel"
    assert settings.actor == "env-user"
    assert settings.artifact_options == {"anon": True}  # only in the file


def test_arguments_override_environment(config: Path) -> None:
    environ = {"KEEL_STORE_URL": "postgresql://db/keel", "KEEL_USER": "env-user"}
    settings = Settings.load(
        environ=environ, config_file=config, store_url="sqlite:///arg.db", actor=None
    )
    assert settings.store_url == "sqlite:///arg.db"
    assert settings.actor == "env-user"  # None arguments are ignored
    assert settings.artifacts == "/yaml/artifacts"


def test_empty_environment_variables_are_ignored(config: Path) -> None:
    settings = Settings.load(environ={"KEEL_STORE_URL": ""}, config_file=config)
    assert settings.store_url == "sqlite:///from-yaml.db"


def test_os_environment_and_working_folder_are_read_by_default(
    tmp_path: Path, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KEEL_USER", "os-env-user")
    monkeypatch.delenv("KEEL_STORE_URL", raising=False)
    monkeypatch.delenv("KEEL_ARTIFACTS", raising=False)
    settings = Settings.load()
    assert settings.actor == "os-env-user"
    assert settings.store_url == "sqlite:///from-yaml.db"


def test_config_file_none_skips_the_file(config: Path) -> None:
    settings = Settings.load(environ={}, config_file=None)
    assert settings.store_url == DEFAULT_STORE


@pytest.mark.parametrize(
    "text", ["store: [unclosed", "store:\n  url: x\n bad-indent: y", "a: b: c", "\tkey: value"]
)
def test_invalid_yaml_raises_invalid_input(tmp_path: Path, text: str) -> None:
    path = tmp_path / "keel.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInput) as caught:
        Settings.load(environ={}, config_file=path)
    assert caught.value.field == str(path)
    assert "YAML" in caught.value.problem


@pytest.mark.parametrize(
    ("text", "field_end"), [("- a\n- b\n", "keel.yaml"), ("store: 3", "store")]
)
def test_misshapen_yaml_raises_invalid_input(tmp_path: Path, text: str, field_end: str) -> None:
    path = tmp_path / "keel.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInput) as caught:
        Settings.load(environ={}, config_file=path)
    assert caught.value.field.endswith(field_end)


def test_an_empty_file_means_defaults(tmp_path: Path) -> None:
    path = tmp_path / "keel.yaml"
    path.write_text("")
    assert Settings.load(environ={}, config_file=path).store_url == DEFAULT_STORE


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"store_url": ""}, "store_url"), ({"actor": ""}, "actor"), ({"colour": "red"}, "colour")],
)
def test_invalid_values_raise_invalid_input_naming_the_field(
    tmp_path: Path, overrides: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        Settings.load(environ={}, config_file=tmp_path / "absent.yaml", **overrides)
    assert caught.value.field == field


def test_settings_are_frozen() -> None:
    settings = Settings(store_url="sqlite:///x.db", artifacts="/a", actor="ann")
    with pytest.raises(ValueError, match="frozen"):
        settings.actor = "bob"  # type: ignore[misc]


def test_the_audit_key_and_folder_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    defaults = Settings.load(environ={}, config_file=None)
    assert defaults.audit_key is None
    assert defaults.audit_dir == str(tmp_path / "xdg" / "keel")  # outside any store
    environ = {"KEEL_AUDIT_KEY": "a secret of some length", "KEEL_AUDIT_DIR": "/etc/keel"}
    settings = Settings.load(environ=environ, config_file=None)
    assert settings.audit_key is not None
    assert settings.audit_key.get_secret_value() == "a secret of some length"
    assert "a secret" not in repr(settings)  # never printed
    assert settings.audit_dir == "/etc/keel"


def test_the_audit_key_is_never_read_from_keel_yaml(tmp_path: Path) -> None:
    path = tmp_path / "keel.yaml"
    path.write_text("audit:\n  dir: /srv/audit\n")
    assert Settings.load(environ={}, config_file=path).audit_dir == "/srv/audit"
    path.write_text("audit:\n  key: a secret of some length\n")
    with pytest.raises(InvalidInput) as caught:
        Settings.load(environ={}, config_file=path)
    assert caught.value.field.endswith("audit.key")


def test_a_short_audit_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        Settings.load(environ={"KEEL_AUDIT_KEY": "short"}, config_file=None)
    assert caught.value.field == "audit_key"
    assert "short" not in str(caught.value)


def test_the_retrain_heartbeat_comes_from_arguments_or_the_environment(tmp_path: Path) -> None:
    absent = tmp_path / "absent.yaml"
    default = Settings.load(environ={}, config_file=absent)
    assert (default.retrain_heartbeat_s, default.retrain_heartbeat_misses) == (5.0, 3)
    environ = {"KEEL_RETRAIN_HEARTBEAT_S": "2.5", "KEEL_RETRAIN_HEARTBEAT_MISSES": "4"}
    found = Settings.load(environ=environ, config_file=absent)
    assert (found.retrain_heartbeat_s, found.retrain_heartbeat_misses) == (2.5, 4)
    assert (
        Settings.load(
            environ=environ, config_file=absent, retrain_heartbeat_s=1
        ).retrain_heartbeat_s
        == 1
    )
    for bad in ({"KEEL_RETRAIN_HEARTBEAT_S": "0"}, {"KEEL_RETRAIN_HEARTBEAT_MISSES": "1"}):
        with pytest.raises(InvalidInput):
            Settings.load(environ=bad, config_file=absent)


@pytest.mark.parametrize(
    ("text", "field", "suggested"),
    [
        ("stroe:\n  url: sqlite:///x.db\n", "stroe", "'store'"),
        ("store:\n  ulr: sqlite:///x.db\n", "store.ulr", "'url'"),
        ("audit:\n  dri: /var/keel\n", "audit.dri", "'dir'"),
        ("usr: ci\n", "usr", "'user'"),
    ],
)
def test_a_misspelt_key_in_keel_yaml_is_refused_naming_the_closest(
    tmp_path: Path, text: str, field: str, suggested: str
) -> None:
    """A typo must not silently leave the store at ./.keel."""
    path = tmp_path / "keel.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInput) as caught:
        Settings.load(environ={}, config_file=path)
    assert caught.value.field == f"{path}: {field}"
    assert f"did you mean {suggested}?" in caught.value.problem
