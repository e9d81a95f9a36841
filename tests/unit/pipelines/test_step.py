"""Steps: parameters become needs, named inputs only, the cache flag, and the code hash."""

from __future__ import annotations

import importlib.util
import pickle
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from keel.errors import InvalidInput
from keel.pipelines.step import Step, StepContext, step


def test_parameters_become_needs_in_signature_order() -> None:
    @step
    def train(window: list[int], features: list[str], context: StepContext, seed: int = 7) -> int:
        return seed

    assert isinstance(train, Step)
    assert train.name == "train"
    assert train.needs == ("window", "features", "context", "seed")
    assert train.defaults == {"seed": 7}
    assert train.wants_context
    assert train.cache


def test_a_step_without_parameters_needs_nothing_and_still_calls_through() -> None:
    @step
    def constant() -> int:
        return 41

    assert constant.needs == ()
    assert not constant.wants_context
    assert constant() + 1 == 42
    assert constant.fn() == 41


def test_keyword_only_parameters_are_needs_too() -> None:
    @step
    def scaled(window: list[float], *, factor: float = 2.0) -> list[float]:
        return [factor * w for w in window]

    assert scaled.needs == ("window", "factor")
    assert scaled([1.0], factor=3.0) == [3.0]


def test_name_and_cache_flag_from_the_decorator() -> None:
    @step(name="register", cache=False)
    def register_candidate(model: object) -> str:
        return "v2"

    assert register_candidate.name == "register"
    assert register_candidate.cache is False
    assert register_candidate.needs == ("model",)
    assert step(cache=True)(lambda rows: rows).cache is True


def test_a_plain_function_call_is_the_same_as_the_decorator() -> None:
    def window(rows: int) -> list[int]:
        return list(range(rows))

    made = step(window)
    assert made.fn is window
    assert made.name == "window"
    assert made(3) == [0, 1, 2]


@pytest.mark.parametrize(
    "source",
    [
        "def spread(*rows):\n    return rows\n",
        "def spread(**options):\n    return options\n",
        "def spread(window, *rest, **options):\n    return window\n",
    ],
)
def test_star_args_and_star_kwargs_are_refused(source: str) -> None:
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    with pytest.raises(InvalidInput, match=r"spread: a step's inputs are named") as caught:
        step(namespace["spread"])
    assert caught.value.field == "step"
    with pytest.raises(InvalidInput, match=r"\*args/\*\*kwargs"):
        step(name="other", cache=False)(namespace["spread"])


def test_something_that_is_not_a_function_is_refused() -> None:
    with pytest.raises(InvalidInput, match="is not a function") as caught:
        step(42)  # type: ignore[call-overload]
    assert caught.value.field == "step"


def test_a_step_context_is_picklable_and_keeps_its_fields() -> None:
    context = StepContext(
        run_id="r1",
        pipeline="retrain",
        step="train",
        store_url="sqlite:///keel.db",
        artifacts="/tmp/artifacts",
        actor="autopilot",
        params={"rows": 10},
    )
    copied = pickle.loads(pickle.dumps(context))
    assert copied == context
    assert copied.artifact_options == {}
    with pytest.raises(AttributeError):
        copied.run_id = "r2"  # type: ignore[misc]


# --- the code hash: editing a step invalidates what it computed before -------------------------


def _load_step(folder: Path, module: str, body: str) -> Step:
    """Write a module holding one step called ``train`` and import it under its own name."""
    path = folder / f"{module}.py"
    path.write_text(
        "from keel.pipelines.step import step\n\n\n"
        "@step\n"
        "def train(rows: int) -> int:\n" + textwrap.indent(textwrap.dedent(body), "    ")
    )
    spec = importlib.util.spec_from_file_location(module, path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    made = loaded.train
    assert isinstance(made, Step)
    return made


def test_the_code_hash_follows_the_source_text(tmp_path: Path) -> None:
    first = _load_step(tmp_path, "train_v1", "return rows * 2\n")
    same = _load_step(tmp_path, "train_v1_again", "return rows * 2\n")
    edited = _load_step(tmp_path, "train_v2", "return rows * 3\n")
    commented = _load_step(tmp_path, "train_v3", "# faster\nreturn rows * 2\n")
    assert first.code_hash == same.code_hash
    assert len(first.code_hash) == 64
    assert edited.code_hash != first.code_hash
    assert commented.code_hash != first.code_hash
    assert first.needs == edited.needs == ("rows",)


def _without_source(source: str) -> Callable[..., Any]:
    namespace: dict[str, Any] = {}
    exec(textwrap.dedent(source), namespace)  # no file behind it, as in a REPL
    fn: Callable[..., Any] = namespace["train"]
    return fn


def test_without_source_the_hash_comes_from_the_code_and_its_constants() -> None:
    one = step(_without_source("def train(rows):\n    return rows + 1\n"))
    one_again = step(_without_source("def train(rows):\n    return rows + 1\n"))
    two = step(_without_source("def train(rows):\n    return rows + 2\n"))
    renamed = step(_without_source("def train(rows):\n    return max(rows, 1)\n"))
    other_global = step(_without_source("def train(rows):\n    return min(rows, 1)\n"))
    assert one.code_hash == one_again.code_hash
    assert one.code_hash != two.code_hash  # same bytecode, different constant
    assert renamed.code_hash != other_global.code_hash  # same bytecode, different name


def test_without_source_an_edited_inner_function_changes_the_hash() -> None:
    source = """
    def train(rows):
        def scale(x):
            return x * {factor}
        return [scale(r) for r in range(rows)]
    """
    twice = step(_without_source(source.format(factor=2)))
    twice_again = step(_without_source(source.format(factor=2)))
    thrice = step(_without_source(source.format(factor=3)))
    assert twice.code_hash == twice_again.code_hash
    assert twice.code_hash != thrice.code_hash
