"""Checking a gradient-boosted model's trees before its framework follows them.

LightGBM and XGBoost trust the node indices in a model file: a child index past the end of a
tree, a split on a feature the model does not have or a categorical split naming a missing
bitset makes ``predict`` read outside memory and crash the process (and a LightGBM text whose
``tree_sizes`` disagree with its trees aborts it while loading). A crafted file could so take a
server down, with every request in it. So a file's trees are read as text or JSON, never by the
framework, and each node is checked the way ``reviewed_types`` checks scikit-learn's trees:
internal children point forward inside the tree (which rules out cycles), leaves exist, features
exist, categorical splits name existing category sets.
"""

from __future__ import annotations

from typing import Any

#: LightGBM's decision_type bit that marks a categorical split
_CATEGORICAL = 1


def lightgbm_problems(text: str) -> list[str]:
    """Why LightGBM should not be given this model text (empty when every tree is sound)."""
    header, _, body = text.partition("\nTree=")
    fields = _fields(header)
    try:
        features = int(fields.get("max_feature_idx", "-1")) + 1
    except ValueError:
        return ["max_feature_idx is not a number"]
    if not body:
        return [] if "Tree=" not in header else ["no tree section"]
    trees_text = "Tree=" + body.split("\nend of trees", 1)[0]
    blocks = trees_text.split("\nTree=")
    problems = _sizes_problem(fields.get("tree_sizes"), trees_text)
    for index, block in enumerate(blocks):
        found = _lightgbm_tree(_fields(block), features)
        if found:
            problems.append(f"tree {index}: {found}")
    return problems


def _fields(block: str) -> dict[str, str]:
    out = {}
    for line in block.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _sizes_problem(sizes: str | None, trees_text: str) -> list[str]:
    """LightGBM reads the trees in parallel by the byte sizes the header gives."""
    if sizes is None:
        return []
    try:
        declared = [int(s) for s in sizes.split()]
    except ValueError:
        return ["tree_sizes are not numbers"]
    actual = len((trees_text + "\n").encode("utf-8"))
    if sum(declared) != actual - 1 and sum(declared) != actual:
        return ["tree_sizes do not match the trees"]
    return []


def _ints(fields: dict[str, str], key: str) -> list[int] | None:
    text = fields.get(key, "")
    try:
        return [int(v) for v in text.split()] if text else []
    except ValueError:
        return None


def _lightgbm_tree(fields: dict[str, str], features: int) -> str | None:
    try:
        leaves = int(fields.get("num_leaves", ""))
        categories = int(fields.get("num_cat", "0"))
    except ValueError:
        return "num_leaves or num_cat is not a number"
    if leaves < 1 or categories < 0:
        return "num_leaves or num_cat is out of range"
    inner = leaves - 1
    left, right = _ints(fields, "left_child"), _ints(fields, "right_child")
    split, kinds = _ints(fields, "split_feature"), _ints(fields, "decision_type")
    if left is None or right is None or split is None or kinds is None:
        return "a node array holds something that is not a number"
    if leaves > 1 and not (len(left) == len(right) == len(split) == len(kinds) == inner):
        return "node arrays differ in length from num_leaves - 1"
    if len(fields.get("leaf_value", "").split()) != leaves:
        return "leaf_value differs in length from num_leaves"
    for node in range(inner if leaves > 1 else 0):
        for child in (left[node], right[node]):
            if child >= 0 and not node < child < inner:
                return "a child points outside the tree or backwards"
            if child < 0 and ~child >= leaves:
                return "a child names a leaf the tree does not have"
        if not 0 <= split[node] < features:
            return "a split names a feature the model does not have"
    return _lightgbm_categories(fields, kinds, categories)


def _lightgbm_categories(fields: dict[str, str], kinds: list[int], count: int) -> str | None:
    categorical = [k & _CATEGORICAL for k in kinds]
    if not any(categorical):
        return None
    boundaries = _ints(fields, "cat_boundaries")
    sets = len(fields.get("cat_threshold", "").split())
    if boundaries is None or len(boundaries) != count + 1:
        return "cat_boundaries differ in length from num_cat + 1"
    if boundaries[0] != 0 or boundaries[-1] != sets or boundaries != sorted(boundaries):
        return "cat_boundaries do not index cat_threshold"
    try:
        thresholds = [float(t) for t in fields.get("threshold", "").split()]
    except ValueError:
        return "a threshold is not a number"
    for kind, threshold in zip(categorical, thresholds, strict=False):
        if kind and not (threshold.is_integer() and 0 <= threshold < count):
            return "a categorical split names a category set that does not exist"
    return None


def xgboost_problems(document: dict[str, Any]) -> list[str]:
    """Why XGBoost should not predict with this model (its JSON form; empty when sound)."""
    try:
        learner = document["learner"]
        features = int(learner["learner_model_param"]["num_feature"])
        booster = learner["gradient_booster"]
        if booster.get("name") == "gblinear":  # weights, no trees to follow
            return []
        model = booster.get("gbtree", booster)["model"]
        trees = model["trees"]
    except (KeyError, TypeError, ValueError):
        return ["not an XGBoost tree model"]
    problems = []
    for index, tree in enumerate(trees):
        found = _xgboost_tree(tree, features)
        if found:
            problems.append(f"tree {index}: {found}")
    return problems


def _xgboost_tree(tree: dict[str, Any], features: int) -> str | None:
    try:
        left, right = list(tree["left_children"]), list(tree["right_children"])
        split = list(tree["split_indices"])
        count = int(tree["tree_param"]["num_nodes"])
        categorical_nodes = list(tree.get("categories_nodes", []))
        segments = list(tree.get("categories_segments", []))
        sizes = list(tree.get("categories_sizes", []))
        categories = len(tree.get("categories", []))
    except (KeyError, TypeError, ValueError):
        return "the tree's node arrays are missing"
    if not (len(left) == len(right) == len(split) == count):
        return "node arrays differ in length from num_nodes"
    for node in range(count):
        if (left[node] == -1) != (right[node] == -1):
            return "a node has one child"
        for child in (left[node], right[node]):
            if child != -1 and not node < child < count:
                return "a child points outside the tree or backwards"
        if left[node] != -1 and not 0 <= split[node] < features:
            return "a split names a feature the model does not have"
    if not (len(categorical_nodes) == len(segments) == len(sizes)):
        return "categorical split arrays differ in length"
    for node, start, size in zip(categorical_nodes, segments, sizes, strict=True):
        if not (0 <= node < count and start >= 0 and size >= 0 and start + size <= categories):
            return "a categorical split names categories that do not exist"
    return None
