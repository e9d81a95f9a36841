"""Types Keel loads from skops files beyond skops' safe list, and the checks that make them safe.

skops leaves scikit-learn's tree structures untrusted: their node arrays hold raw child and feature
indices that scikit-learn follows without bounds checks, so a crafted file could crash (or hang)
the process the first time it predicts. Random forests and gradient boosting are too common to
make every user trust them by hand, so Keel trusts these two exact types and, before a loaded
model is returned, checks every node of every such tree: children point forward inside the tree
(which also rules out cycles), features exist, categorical splits name an existing bitset. A tree
that fails is refused as untrusted.

A scikit-learn Pipeline or ColumnTransformer often ends in a LightGBM or XGBoost estimator, which
skops saves as the wrapper plus its booster (the booster's ``__getstate__`` is the model text or
raw bytes). Rebuilding them runs only their ``__setstate__``, which hands that text or buffer to
the framework's parser and sets plain attributes; so these exact wrapper and booster names are
trusted too (``FRAMEWORK_TYPES``), and every booster found in a loaded model must hold a handle
its framework built (a booster whose state held none is refused).
"""

from __future__ import annotations

from typing import Any

import numpy as np

TREE = "sklearn.tree._tree.Tree"
HIST_PREDICTOR = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"

LIGHTGBM_BOOSTER = "lightgbm.basic.Booster"
XGBOOST_BOOSTER = "xgboost.core.Booster"
#: LightGBM and XGBoost estimators as skops saves them inside scikit-learn pipelines
FRAMEWORK_TYPES = frozenset(
    {
        LIGHTGBM_BOOSTER,
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
        "lightgbm.sklearn.LGBMRanker",
        "collections.OrderedDict",  # LightGBM keeps its evaluation results in one
        XGBOOST_BOOSTER,
        "xgboost.sklearn.XGBClassifier",
        "xgboost.sklearn.XGBRegressor",
        "xgboost.sklearn.XGBRanker",
    }
)

#: exact type names trusted on top of skops' defaults, each checked by ``malformed_trees``
REVIEWED_TYPES = frozenset({TREE, HIST_PREDICTOR}) | FRAMEWORK_TYPES

#: how deep the object graph is searched for trees (pipelines of ensembles are a few levels);
#: a model nested deeper is refused, since a tree below would go unchecked
_MAX_DEPTH = 64


def _type_name(value: Any) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _tree_problem(tree: Any) -> str | None:
    count = int(tree.node_count)
    left = np.asarray(tree.children_left)
    right = np.asarray(tree.children_right)
    feature = np.asarray(tree.feature)
    if not (len(left) == len(right) == len(feature) == count):
        return "node arrays differ in length from node_count"
    index = np.arange(count)
    leaf = left == -1
    if np.any(right[leaf] != -1):
        return "a leaf has a right child"
    inner = ~leaf
    for name, child in (("left", left), ("right", right)):
        if np.any((child[inner] <= index[inner]) | (child[inner] >= count)):
            return f"a {name} child points outside the tree or backwards"
    if np.any((feature[inner] < 0) | (feature[inner] >= int(tree.n_features))):
        return "a split names a feature the tree does not have"
    return None


def _predictor_problem(predictor: Any, n_features: int | None) -> str | None:
    nodes = predictor.nodes
    count = len(nodes)
    index = np.arange(count)
    inner = ~nodes["is_leaf"].astype(bool)
    for name in ("left", "right"):
        child = nodes[name].astype(np.int64)
        if np.any((child[inner] <= index[inner]) | (child[inner] >= count)):
            return f"a {name} child points outside the tree or backwards"
    if n_features is None:
        return "the tree is not inside an estimator that says how many features it takes"
    feature = nodes["feature_idx"].astype(np.int64)
    if np.any((feature[inner] < 0) | (feature[inner] >= n_features)):
        return "a split names a feature the model does not have"
    categorical = inner & nodes["is_categorical"].astype(bool)
    bitsets = min(len(predictor.raw_left_cat_bitsets), len(predictor.binned_left_cat_bitsets))
    bitset = nodes["bitset_idx"].astype(np.int64)
    if np.any((bitset[categorical] < 0) | (bitset[categorical] >= bitsets)):
        return "a categorical split names a bitset that does not exist"
    return None


def _booster_problem(name: str, booster: Any) -> str | None:
    """A booster is sound when its framework built its handle from the saved model."""
    import ctypes

    handle = getattr(booster, "_handle" if name == LIGHTGBM_BOOSTER else "handle", None)
    if not isinstance(handle, ctypes.c_void_p) or not handle.value:
        return "the booster holds no model its framework loaded"
    from keel.registry.flavours.booster_checks import lightgbm_problems
    from keel.registry.flavours.xgboost import malformed_booster

    if name == LIGHTGBM_BOOSTER:
        problems = lightgbm_problems(booster.model_to_string())
    else:
        problems = malformed_booster(booster)
    return "; ".join(problems[:3]) or None


def _estimator_problem(value: Any, n_features: int | None) -> str | None:
    flags = getattr(value, "is_categorical_", None)
    if flags is not None and n_features is not None and len(flags) != n_features:
        return "is_categorical_ does not match n_features_in_"
    return None


def malformed_trees(model: Any) -> list[str]:
    """Problems found in the reviewed tree structures inside ``model`` (empty when sound)."""
    problems: list[str] = []
    seen: set[int] = set()

    def visit(value: Any, n_features: int | None, depth: int) -> None:
        if id(value) in seen:
            return
        if depth > _MAX_DEPTH:  # a tree nested this deep would go unchecked: refuse instead
            problems.append(f"{_type_name(value)}: nested more than {_MAX_DEPTH} levels deep")
            return
        seen.add(id(value))
        name = _type_name(value)
        if name == TREE:
            found = _tree_problem(value)
        elif name == HIST_PREDICTOR:
            found = _predictor_problem(value, n_features)
        elif name in (LIGHTGBM_BOOSTER, XGBOOST_BOOSTER):
            found = _booster_problem(name, value)
        else:
            found = None
        if found:
            problems.append(f"{name}: {found}")
            return
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list | tuple):
            children = value
        elif isinstance(value, np.ndarray) and value.dtype == object:
            children = value.ravel().tolist()
        elif hasattr(value, "__dict__") and not callable(value):
            own = getattr(value, "n_features_in_", None)
            n_features = int(own) if isinstance(own, int | np.integer) else n_features
            estimator = _estimator_problem(value, n_features)
            if estimator:
                problems.append(f"{name}: {estimator}")
            children = vars(value).values()
        else:
            return
        for child in children:
            visit(child, n_features, depth + 1)

    visit(model, None, 0)
    return problems
