"""The loader refuses every artifact built to attack it, and nothing in them ever runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.domain.trust import TrustRequest, parse_trust
from keel.errors import InvalidInput, UntrustedArtifact
from keel.registry import serialization
from tests.hostile import Hostile, corpus, skops_reduce_call

CASES = corpus(Path("/nonexistent/marker"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_hostile_artifact_is_refused_and_runs_nothing(case: Hostile, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    hostile = next(c for c in corpus(marker) if c.name == case.name)
    with pytest.raises(UntrustedArtifact) as caught:
        serialization.load(hostile.data, hostile.format, sha256="a" * 64, ref="bad/1")
    assert set(hostile.names) <= set(caught.value.fields["types"])
    assert not marker.exists()


def test_a_prefix_is_never_a_trust_decision(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    data = skops_reduce_call("sklearn.utils._testing", "check_output", [["touch", str(marker)]])
    for name in ("sklearn", "sklearn.", "sklearn.*", "sklearn.utils.*", "sklearn..x"):
        with pytest.raises(InvalidInput) as refused:
            parse_trust([name])
        assert "exact type name" in refused.value.problem
    for name in ("sklearn.utils", "sklearn.utils._testing", "sklearn.utils._testing.check"):
        with pytest.raises(UntrustedArtifact):  # a well-formed name covers only itself
            serialization.load(data, "skops", sha256="a" * 64, trust=TrustRequest((name,)))
    assert not marker.exists()


identifier = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,11}", fullmatch=True)
dotted = st.lists(identifier, min_size=1, max_size=4).map(".".join)


@settings(max_examples=60)
@given(
    module=st.one_of(dotted, st.sampled_from(["sklearn", "sklearn.utils._testing", "os", "numpy"])),
    function=st.one_of(identifier, st.sampled_from(["system", "check_output", "eval", "Tree"])),
    loader=st.sampled_from(["LossNode", "TreeNode", "ObjectNode", "FunctionNode", "TypeNode"]),
)
def test_generated_schemas_naming_any_function_are_refused_untouched(
    module: str, function: str, loader: str
) -> None:
    """Whatever module and function a schema names, with any loader, loading it either refuses
    the name or fails to read the file, and never builds an object from it."""
    data = skops_reduce_call(module, function, ["echo"], loader)
    try:
        serialization.load(data, "skops", sha256="a" * 64)
    except UntrustedArtifact as refused:
        assert refused.fields["types"], "a refusal names what it refused"
    except InvalidInput as unreadable:
        assert unreadable.field == "model"
    else:  # only a name skops itself declares safe may load, and only as what it is
        pytest.fail(f"{module}.{function} via {loader} was loaded")
