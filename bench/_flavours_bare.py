"""The bare endpoint of ``bench/flavours.py``: each framework's own predict behind FastAPI.

``_flavours_bare.py --spec PATH --port PORT`` loads the models ``PATH`` (JSON, written by
``flavours.py``) lists and serves them with uvicorn (one worker, in this process, its default
event loop and HTTP parser, no access log) on 127.0.0.1, as ``bench/_serving_bare.py`` serves
its one model:

- ``POST /v1/models/{name}/predict`` with ``{"records": [{feature: value, ...}, ...]}``, the body
  Keel takes, validated by a pydantic model (``list[dict[str, float | str]]``), turned into the
  input the framework's documentation shows for the model and answered with its own
  ``predict_proba`` as ``{"predictions": [[p0, p1], ...]}`` (FastAPI's encoder from the declared
  return type). No logging, no routing, no signature checks. The endpoint is ``async``: the
  model runs on the event loop, with no thread hop.
- ``GET /readyz`` answers 200 once every model is loaded.

The input per model (``kind`` in the spec):

- ``frame``: a pandas DataFrame with the training dtypes: each category column a
  ``pd.Categorical`` with the training categories in their order (LightGBM and XGBoost need
  exactly those to map a label to the code they were trained with), numbers as their training
  dtype. For the scikit-learn pipeline (its ColumnTransformer selects columns by name), LightGBM,
  XGBoost and the custom Python model. The same fitted object Keel serves, unpickled.
- ``rows``: a list of rows, each a list of values in training order (CatBoost takes it as it is,
  and it is CatBoost's quickest container for one row: it skips pandas altogether).
- ``onnx``: one NumPy array per graph input, shape ``(rows, 1)``, text or float32 as the graph
  declares, given to an onnxruntime session (its default options) built from the same graph
  bytes Keel stores; the probabilities output is the answer.
"""

from __future__ import annotations

import argparse
import json
import pickle
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel


class Body(BaseModel):
    records: list[dict[str, float | str]]


class Answer(BaseModel):
    predictions: list[list[float]]


# -- the inputs (pure; tested in tests/unit/bench/test_flavours_bench.py) -----------------------
def frame_of(
    records: list[dict[str, Any]],
    columns: list[str],
    categories: dict[str, list[Any]],
    dtypes: dict[str, str],
) -> Any:
    """The records as a DataFrame with the training dtypes, in training column order."""
    import pandas as pd

    data: dict[str, Any] = {}
    for column in columns:
        values = [record[column] for record in records]
        if column in categories:
            data[column] = pd.Categorical(values, categories=categories[column])
        else:
            data[column] = np.array(values, dtype=dtypes.get(column, "float64"))
    return pd.DataFrame(data, columns=columns)


def rows_of(records: list[dict[str, Any]], columns: list[str]) -> list[list[Any]]:
    """The records as lists of values in training order."""
    return [[record[column] for column in columns] for record in records]


def feeds_of(records: list[dict[str, Any]], inputs: dict[str, str]) -> dict[str, Any]:
    """One ``(rows, 1)`` array per graph input: ``inputs`` maps a name to ``"text"`` or
    ``"float"``."""
    return {
        name: np.array(
            [[record[name]] for record in records],
            dtype=object if kind == "text" else np.float32,
        ).reshape(len(records), 1)
        for name, kind in inputs.items()
    }


# -- the server ---------------------------------------------------------------------------------
def predictor(entry: dict[str, Any]) -> Callable[[list[dict[str, Any]]], Any]:
    """``records -> probabilities`` for one model of the spec."""
    kind, path = entry["kind"], Path(entry["path"])
    if kind == "onnx":
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(
            path.read_bytes(), options, providers=["CPUExecutionProvider"]
        )
        inputs, output = entry["inputs"], [entry["probabilities"]]
        return lambda records: session.run(output, feeds_of(records, inputs))[0]
    model = pickle.loads(path.read_bytes())
    columns = entry["columns"]
    if kind == "rows":
        return lambda records: model.predict_proba(rows_of(records, columns))
    categories, dtypes = entry["categories"], entry["dtypes"]
    return lambda records: model.predict_proba(frame_of(records, columns, categories, dtypes))


def build_app(models: dict[str, Callable[[list[dict[str, Any]]], Any]]) -> Any:
    from fastapi import FastAPI, HTTPException

    app = FastAPI()

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/v1/models/{name}/predict")
    async def predict(name: str, body: Body) -> Answer:
        model = models.get(name)
        if model is None:
            raise HTTPException(404, f"no model {name}")
        return Answer(predictions=np.asarray(model(body.records)).tolist())

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    import uvicorn

    spec = json.loads(args.spec.read_text())
    models = {name: predictor(entry) for name, entry in spec["models"].items()}
    uvicorn.run(
        build_app(models),
        host="127.0.0.1",
        port=args.port,
        workers=1,
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
