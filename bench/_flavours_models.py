"""The models of ``bench/flavours.py``: the bank-marketing table, one classifier per flavour, each
framework's own save and load, and the ONNX conversions.

The table: ``../shared/data/bank_marketing/bank_additional_full.csv`` (41,188 calls of a
Portuguese bank's telemarketing campaigns; target ``target``, 11% positive). ``duration`` is left
out (it is known only after the call), and so are the label ``y`` and the derived ``row_id``,
``year_derived`` and ``year_month_derived``. Its 10 text columns become pandas ``category``
columns; the dots in three column names (``emp.var.rate``...) become underscores, the names
skl2onnx gives the graph's inputs, so every flavour and the bare ONNX endpoint see the same
names. The rows are split 75/25, stratified, seed 0.

The models, all with the frameworks' defaults but for the tree count:

- ``sklearn``: a Pipeline of a ColumnTransformer (``OneHotEncoder(handle_unknown="ignore")`` on
  the categories, the numbers passed through) and ``GradientBoostingClassifier(100 trees)``;
- ``lightgbm``: ``LGBMClassifier(n_estimators=100)`` on the ``category`` columns;
- ``xgboost``: ``XGBClassifier(n_estimators=100, enable_categorical=True)``;
- ``catboost``: ``CatBoostClassifier(iterations=100, cat_features=<the categories>)``;
- ``onnx``: the scikit-learn pipeline converted by ``keel models convert`` (skl2onnx; one graph
  input per column, text for the categories), run by onnxruntime through Keel's ``OnnxModel``;
  ``flavours.py`` makes it;
- ``python``: ``ThresholdModel``, a custom class (the LightGBM classifier behind a decision
  threshold of 0.3) kept with cloudpickle, so registered with ``trust="code"``.

Each framework's own persistence (``NATIVE``): scikit-learn and the custom class with pickle
(cloudpickle to save the custom class), LightGBM's ``booster_.save_model`` / ``lgb.Booster``,
XGBoost's ``save_model`` (UBJSON) / ``XGBClassifier().load_model``, CatBoost's ``.cbm``, ONNX's
``onnx.save_model`` / ``onnxruntime.InferenceSession``; files in a local folder, not fsynced.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "bank_marketing" / "bank_additional_full.csv"
TARGET = "target"
DROPPED = ("row_id", "duration", "y", "year_derived", "year_month_derived")
FLAVOURS = ("sklearn", "lightgbm", "xgboost", "catboost", "onnx", "python")
TREES = 100


@dataclass(frozen=True)
class Table:
    """The training frame (with ``target``), the held-out features and labels, the categories."""

    train: Any
    test: Any
    test_target: Any
    categories: dict[str, list[str]]
    rows: int

    @property
    def features(self) -> Any:
        return self.train.drop(columns=TARGET)


def load_table(path: Path = DATA, train_rows: int | None = None) -> Table:
    """The bank-marketing table as described above; ``train_rows`` caps the training rows
    (``--quick``), taken from the stratified training split."""
    import pandas as pd
    from sklearn.model_selection import train_test_split

    frame = pd.read_csv(path).drop(columns=list(DROPPED))
    frame.columns = [clean_name(c) for c in frame.columns]
    text = [c for c in frame.columns if c != TARGET and not pd.api.types.is_numeric_dtype(frame[c])]
    categories = {c: sorted(frame[c].dropna().unique().tolist()) for c in text}
    for column, values in categories.items():
        frame[column] = pd.Categorical(frame[column], categories=values)
    train, test = train_test_split(frame, test_size=0.25, stratify=frame[TARGET], random_state=0)
    if train_rows is not None and train_rows < len(train):
        train, _ = train_test_split(
            train, train_size=train_rows, stratify=train[TARGET], random_state=0
        )
    test_target = test.pop(TARGET)
    return Table(train.reset_index(drop=True), test, test_target, categories, len(frame))


def clean_name(name: str) -> str:
    """A column name as skl2onnx names the graph input: dots become underscores."""
    return name.replace(".", "_")


def inside_training(table: Table) -> Any:
    """Held-out rows inside the training range on every number and with seen categories (a
    clean request: nothing flagged), as a boolean mask."""
    features = table.features
    mask = np.ones(len(table.test), dtype=bool)
    for column in table.test.columns:
        values = table.test[column]
        if column in table.categories:
            mask &= values.isin(set(features[column].dropna().unique())).to_numpy()
        else:
            low, high = features[column].min(), features[column].max()
            mask &= ((values >= low) & (values <= high)).to_numpy()
    return mask


# -- the models ---------------------------------------------------------------------------------
class ThresholdModel:
    """A custom Python model: a classifier's probabilities behind a decision threshold."""

    def __init__(self, inner: Any, threshold: float = 0.3) -> None:
        self.inner = inner
        self.threshold = threshold

    @property
    def classes_(self) -> Any:
        return self.inner.classes_

    def predict_proba(self, frame: Any) -> Any:
        return self.inner.predict_proba(frame)

    def predict(self, frame: Any) -> Any:
        return self.classes_[(self.predict_proba(frame)[:, 1] >= self.threshold).astype(int)]


def fit(flavour: str, table: Table, fitted: dict[str, Any]) -> Any:
    """The flavour's model (not onnx: ``keel models convert`` makes it from sklearn's);
    ``fitted`` holds those fitted before (python wraps lightgbm's)."""
    features, target = table.features, table.train[TARGET]
    cats = list(table.categories)
    if flavour == "sklearn":
        from sklearn.compose import make_column_transformer
        from sklearn.ensemble import GradientBoostingClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder

        encode = make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), cats), remainder="passthrough"
        )
        model = make_pipeline(
            encode, GradientBoostingClassifier(n_estimators=TREES, random_state=0)
        )
        return model.fit(features, target)
    if flavour == "lightgbm":
        import lightgbm

        return lightgbm.LGBMClassifier(n_estimators=TREES, verbose=-1).fit(features, target)
    if flavour == "xgboost":
        import xgboost

        model = xgboost.XGBClassifier(n_estimators=TREES, enable_categorical=True)
        return model.fit(features, target)
    if flavour == "catboost":
        import catboost

        model = catboost.CatBoostClassifier(
            iterations=TREES, cat_features=cats, verbose=0, allow_writing_files=False
        )
        return model.fit(features, target)
    if flavour == "python":
        import cloudpickle

        cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the server cannot import us
        return ThresholdModel(fitted.get("lightgbm") or fit("lightgbm", table, fitted))
    raise ValueError(f"unknown flavour {flavour!r}")


def session(model: bytes | str) -> Any:
    """An onnxruntime session on a graph's bytes or file, with onnxruntime's defaults (threads
    included) and its warnings silenced."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


# -- each framework's own persistence -----------------------------------------------------------
@dataclass(frozen=True)
class Native:
    """How the framework saves a model to a file and loads it back."""

    format: str
    suffix: str
    save: Callable[[Any, Path], None]
    load: Callable[[Path], Any]


def _pickle_save(model: Any, path: Path) -> None:
    with open(path, "wb") as file:
        pickle.dump(model, file, protocol=pickle.HIGHEST_PROTOCOL)


def _cloudpickle_save(model: Any, path: Path) -> None:
    import cloudpickle

    with open(path, "wb") as file:
        cloudpickle.dump(model, file, protocol=pickle.HIGHEST_PROTOCOL)


def _pickle_load(path: Path) -> Any:
    with open(path, "rb") as file:
        return pickle.load(file)


def _lightgbm_load(path: Path) -> Any:
    import lightgbm

    return lightgbm.Booster(model_file=str(path))


def _xgboost_load(path: Path) -> Any:
    import xgboost

    model = xgboost.XGBClassifier()
    model.load_model(str(path))
    return model


def _catboost_load(path: Path) -> Any:
    import catboost

    return catboost.CatBoostClassifier().load_model(str(path))


def _onnx_save(model: Any, path: Path) -> None:
    import onnx

    onnx.save_model(onnx.load_model_from_string(model.model_bytes), str(path))


NATIVE: dict[str, Native] = {
    "sklearn": Native("pickle", ".pkl", _pickle_save, _pickle_load),
    "lightgbm": Native(
        "LightGBM model text",
        ".txt",
        lambda m, p: m.booster_.save_model(str(p)),
        _lightgbm_load,
    ),
    "xgboost": Native("XGBoost UBJSON", ".ubj", lambda m, p: m.save_model(str(p)), _xgboost_load),
    "catboost": Native("CatBoost .cbm", ".cbm", lambda m, p: m.save_model(str(p)), _catboost_load),
    "onnx": Native("ONNX", ".onnx", _onnx_save, lambda p: session(str(p))),
    "python": Native("cloudpickle", ".pkl", _cloudpickle_save, _pickle_load),
}
