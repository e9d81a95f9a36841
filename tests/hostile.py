"""Artifacts built to attack the loader: each runs a command that creates a marker file if it is
ever deserialized, so a test proves "nothing ran" by the file's absence.

- skops files whose reduce nodes name a function under a trusted-looking prefix
  (``sklearn.utils._testing.check_output`` is ``subprocess.check_output`` re-exported) or plainly
  (``os.system``): skops calls the named "type" with the file's arguments while loading;
- a skops file whose function node names such a function inside a genuine pipeline;
- plain pickles whose unpickling calls ``os.system`` or ``subprocess.check_output``;
- a random forest whose tree nodes point outside the tree (it would crash ``predict``);
- a pipeline ending in LightGBM whose booster's saved model is removed (its handle would be
  whatever the file says);
- LightGBM and XGBoost models whose trees point a child past the end of the tree (``predict``
  would read outside memory and crash the server), natively and inside a skops pipeline;
- ONNX graphs that reach beyond the file: weights read from a path on the server's disk
  (external data), and an operator from a custom domain (a native library).
"""

from __future__ import annotations

import io
import json
import pickle
import shlex
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SKOPS_PROTOCOL = 2


def _json_node(value: Any) -> dict[str, Any]:
    return {
        "__class__": type(value).__name__ if value is not None else "str",
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
    }


def _empty_dict_node() -> dict[str, Any]:
    return {
        "__class__": "dict",
        "__module__": "builtins",
        "__loader__": "DictNode",
        "content": {},
        "key_types": {
            "__class__": "list",
            "__module__": "builtins",
            "__loader__": "ListNode",
            "content": [],
        },
    }


def _zip_schema(schema: dict[str, Any], extra: dict[str, bytes] | None = None) -> bytes:
    schema = {**schema, "protocol": SKOPS_PROTOCOL, "_skops_version": "0.16.0"}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def skops_reduce_call(
    module: str, function: str, args: list[Any], loader: str = "LossNode"
) -> bytes:
    """A skops file whose top node tells the loader to call ``module.function(*args)``
    (``args`` are JSON values)."""
    return _zip_schema(
        {
            "__class__": function,
            "__module__": module,
            "__loader__": loader,
            "__reduce__": {
                "args": {
                    "__class__": "tuple",
                    "__module__": "builtins",
                    "__loader__": "TupleNode",
                    "content": [_json_node(a) for a in args],
                }
            },
            "content": _empty_dict_node(),
        }
    )


class _Call:
    """Unpickling this calls ``function(*args)``: what every pickle-based exploit does."""

    def __init__(self, function: Any, *args: Any) -> None:
        self.function = function
        self.args = args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.function, self.args


@dataclass(frozen=True)
class Hostile:
    name: str
    data: bytes
    format: str  # the format a store would record: "skops", "cloudpickle", "onnx"
    #: the type names the refusal must name (a subset check)
    names: tuple[str, ...]


def corpus(marker: Path) -> list[Hostile]:
    """Every hostile artifact, each creating ``marker`` if it is ever deserialized."""
    import os
    import subprocess

    touch = ["touch", str(marker)]
    shell = f"touch {shlex.quote(str(marker))}"
    return [
        Hostile(
            "skops-reduce-sklearn-prefixed-check_output",
            skops_reduce_call("sklearn.utils._testing", "check_output", [touch]),
            "skops",
            ("sklearn.utils._testing.check_output",),
        ),
        Hostile(
            "skops-reduce-os-system",
            skops_reduce_call("os", "system", [shell]),
            "skops",
            ("os.system",),
        ),
        Hostile(
            "skops-tree-node-naming-a-function",
            skops_reduce_call("sklearn.utils._testing", "check_output", [touch], "TreeNode"),
            "skops",
            ("sklearn.utils._testing.check_output",),
        ),
        Hostile(
            "skops-function-in-pipeline",
            _pipeline_with_function("sklearn.utils._testing", "check_output"),
            "skops",
            ("sklearn.utils._testing.check_output",),
        ),
        Hostile(
            "pickle-os-system",
            pickle.dumps(_Call(os.system, shell)),
            "cloudpickle",
            (f"{os.system.__module__}.system",),
        ),
        Hostile(
            "pickle-subprocess-check-output",
            pickle.dumps(_Call(subprocess.check_output, touch), protocol=0, fix_imports=False),
            "cloudpickle",
            ("subprocess.check_output",),
        ),
        Hostile(
            "skops-forest-with-wild-tree",
            wild_forest(),
            "skops",
            ("sklearn.tree._tree.Tree",),
        ),
        Hostile(
            "skops-lightgbm-booster-without-model",
            lightgbm_without_model(),
            "skops",
            ("lightgbm.basic.Booster",),
        ),
        Hostile(
            "lightgbm-child-past-the-tree",
            _bundle("lightgbm", "model.txt", lightgbm_wild_text().encode()),
            "lightgbm",
            ("lightgbm.basic.Booster",),
        ),
        Hostile(
            "skops-lightgbm-child-past-the-tree",
            skops_lightgbm_with_text(lightgbm_wild_text()),
            "skops",
            ("lightgbm.basic.Booster",),
        ),
        Hostile(
            "xgboost-child-past-the-tree",
            _bundle("xgboost", "model.ubj", xgboost_wild_ubj()),
            "xgboost",
            ("xgboost.core.Booster",),
        ),
        Hostile(
            "onnx-external-data-from-server-disk",
            onnx_bundle(onnx_graph(external="/etc/passwd")),
            "onnx",
            ("onnx.external_data:/etc/passwd",),
        ),
        Hostile(
            "onnx-external-data-inside-a-branch",
            onnx_bundle(onnx_branch_reading("keel.yaml")),
            "onnx",
            ("onnx.external_data:keel.yaml",),
        ),
        Hostile(
            "skops-wild-tree-nested-past-the-search",
            wild_forest_nested(25),
            "skops",
            (),  # refused for its depth, whatever type sits at the limit
        ),
        Hostile(
            "onnx-custom-operator-domain",
            onnx_bundle(onnx_graph(domain="evil.ops")),
            "onnx",
            ("onnx.custom_domain:evil.ops",),
        ),
    ]


def _pipeline_with_function(module: str, function: str) -> bytes:
    """A genuine fitted pipeline whose FunctionTransformer's function is swapped in the file."""
    import skops.io
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    features = np.random.default_rng(0).normal(size=(30, 2))
    labels = (features[:, 0] > 0).astype(int)
    model = make_pipeline(FunctionTransformer(np.tanh), LogisticRegression()).fit(features, labels)
    data = skops.io.dumps(model)
    return _rewrite_schema(
        data,
        lambda text: text.replace(
            '"__class__": "tanh", "__module__": "numpy"',
            f'"__class__": "{function}", "__module__": "{module}"',
        ),
    )


def wild_forest() -> bytes:
    """A fitted random forest whose first tree's root points past the end of its nodes."""
    import skops.io
    from sklearn.ensemble import RandomForestClassifier

    features = np.random.default_rng(0).normal(size=(60, 3))
    labels = (features[:, 0] > 0).astype(int)
    forest = RandomForestClassifier(n_estimators=2, max_depth=3, random_state=0)
    forest.fit(features, labels)
    data = skops.io.dumps(forest)
    archive = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(archive.read("schema.json"))
    tree = schema["content"]["content"]["estimators_"]["content"][0]["content"]["content"]["tree_"]
    nodes_file = tree["content"]["content"]["nodes"]["file"]
    nodes = np.load(io.BytesIO(archive.read(nodes_file)), allow_pickle=False)
    nodes["left_child"][0] = 10_000_000
    out = io.BytesIO()
    np.save(out, nodes, allow_pickle=False)
    files = {name: archive.read(name) for name in archive.namelist() if name != "schema.json"}
    files[nodes_file] = out.getvalue()
    return _zip_schema_raw(archive.read("schema.json"), files)


def lightgbm_without_model() -> bytes:
    """A skops LGBMClassifier whose booster's state lost its model text."""
    import lightgbm
    import skops.io

    features = np.random.default_rng(0).normal(size=(60, 3))
    labels = (features[:, 0] > 0).astype(int)
    model = lightgbm.LGBMClassifier(n_estimators=2, verbose=-1).fit(features, labels)
    archive = zipfile.ZipFile(io.BytesIO(skops.io.dumps(model)))
    schema = json.loads(archive.read("schema.json"))
    booster = schema["content"]["content"]["_Booster"]
    del booster["content"]["content"]["_handle"]
    files = {name: archive.read(name) for name in archive.namelist() if name != "schema.json"}
    return _zip_schema_raw(json.dumps(schema).encode(), files)


def _lightgbm_model() -> Any:
    import lightgbm

    features = np.random.default_rng(0).normal(size=(200, 3))
    labels = (features[:, 0] + features[:, 1] > 0).astype(int)
    return lightgbm.LGBMClassifier(n_estimators=2, num_leaves=4, verbose=-1).fit(features, labels)


def lightgbm_wild_text() -> str:
    """LightGBM model text whose first tree's first inner child points past the tree (the text
    keeps its length, so ``tree_sizes`` still agree)."""
    lines = _lightgbm_model().booster_.model_to_string().split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("left_child="))
    children = lines[at].removeprefix("left_child=").split(" ")
    inner = next(i for i, c in enumerate(children) if not c.startswith("-"))
    children[inner] = "9"
    lines[at] = "left_child=" + " ".join(children)
    return "\n".join(lines)


def skops_lightgbm_with_text(text: str) -> bytes:
    """A skops LGBMClassifier whose booster's saved model text is ``text``."""
    import skops.io

    archive = zipfile.ZipFile(io.BytesIO(skops.io.dumps(_lightgbm_model())))
    schema = json.loads(archive.read("schema.json"))
    handle = schema["content"]["content"]["_Booster"]["content"]["content"]["_handle"]
    handle["content"] = json.dumps(text)
    files = {name: archive.read(name) for name in archive.namelist() if name != "schema.json"}
    return _zip_schema_raw(json.dumps(schema).encode(), files)


def xgboost_wild_ubj() -> bytes:
    """An XGBoost booster whose first tree's root has a child a million nodes away."""
    import xgboost

    features = np.random.default_rng(0).normal(size=(200, 3))
    labels = (features[:, 0] > 0).astype(int)
    model = xgboost.XGBClassifier(n_estimators=2, max_depth=2).fit(features, labels)
    document = json.loads(bytes(model.get_booster().save_raw("json")))
    tree = document["learner"]["gradient_booster"]["model"]["trees"][0]
    tree["left_children"][0] = 10**6
    booster = xgboost.Booster()
    booster.load_model(bytearray(json.dumps(document).encode()))
    return bytes(booster.save_raw("ubj"))


def _bundle(flavour: str, member: str, payload: bytes) -> bytes:
    from keel.registry.flavours import bundle

    return bundle.write(flavour, member, payload, {"wrapper": "Booster"})


def onnx_graph(*, external: str | None = None, domain: str = "") -> bytes:
    """A one-node ONNX graph (y = x + w); its weight read from ``external`` or its operator
    taken from ``domain`` when given."""
    from onnx import TensorProto, helper

    weight = helper.make_tensor("w", TensorProto.FLOAT, [1, 2], [1.0, 2.0])
    if external is not None:
        weight.ClearField("float_data")
        weight.data_location = TensorProto.EXTERNAL
        for key, value in (("location", external), ("offset", "0"), ("length", "8")):
            entry = weight.external_data.add()
            entry.key, entry.value = key, value
    node = helper.make_node("Add", ["x", "w"], ["y"], domain=domain)
    graph = helper.make_graph(
        [node],
        "attack",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
        initializer=[weight],
    )
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    return bytes(helper.make_model(graph, opset_imports=opsets).SerializeToString())


def onnx_branch_reading(path: str) -> bytes:
    """An ``If`` node whose branch returns a tensor stored as external data at ``path`` (a
    file of the server's working directory, read by the runtime and answered)."""
    from onnx import TensorProto, helper

    secret = helper.make_tensor("secret", TensorProto.UINT8, [16], [0] * 16)
    secret.ClearField("int32_data")
    secret.data_location = TensorProto.EXTERNAL
    for key, value in (("location", path), ("offset", "0"), ("length", "16")):
        entry = secret.external_data.add()
        entry.key, entry.value = key, value
    output = helper.make_tensor_value_info("out", TensorProto.UINT8, [16])
    branch = helper.make_graph(
        [helper.make_node("Identity", ["secret"], ["out"])], "branch", [], [output], [secret]
    )
    graph = helper.make_graph(
        [helper.make_node("If", ["x"], ["y"], then_branch=branch, else_branch=branch)],
        "attack",
        [helper.make_tensor_value_info("x", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, [16])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return bytes(model.SerializeToString())


def wild_forest_nested(levels: int) -> bytes:
    """The wild forest inside ``levels`` nested pipelines, deeper than a search that stops at
    some depth would look."""
    import skops.io
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline

    forest = skops.io.loads(wild_forest(), trusted=["sklearn.tree._tree.Tree"])
    model: Any = forest
    for _ in range(levels):
        model = Pipeline([("inner", model)])
    assert isinstance(forest, RandomForestClassifier)
    return bytes(skops.io.dumps(model))


def onnx_bundle(graph: bytes) -> bytes:
    """``graph`` as Keel stores an ONNX version."""
    from keel.registry.flavours import bundle

    return bundle.write("onnx", "model.onnx", graph, {"wrapper": "OnnxModel"})


def _rewrite_schema(data: bytes, change: Any) -> bytes:
    archive = zipfile.ZipFile(io.BytesIO(data))
    text = json.dumps(json.loads(archive.read("schema.json")))
    changed = change(text)
    assert changed != text, "the rewrite found nothing to change"
    files = {name: archive.read(name) for name in archive.namelist() if name != "schema.json"}
    return _zip_schema_raw(changed.encode(), files)


def _zip_schema_raw(schema: bytes, files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", schema)
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()
