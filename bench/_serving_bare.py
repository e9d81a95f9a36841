"""The bare endpoint of ``bench/serving.py``: the least a FastAPI service does to serve the model.

``_serving_bare.py --model PATH --port PORT`` loads the pickled scikit-learn classifier and serves
it with uvicorn (one worker, in this process, its default event loop and HTTP parser, no access
log) on 127.0.0.1:

- ``POST /v1/models/{name}/predict`` with ``{"records": [{feature: value, ...}, ...]}``, the body
  Keel takes, validated by a pydantic model (``list[dict[str, float]]``), turned into a NumPy array
  in the model's column order and answered with ``predict_proba`` as
  ``{"predictions": [[p0, p1], ...]}``, serialized by FastAPI from the declared return type
  (pydantic's encoder, FastAPI's fast path; it deprecates ``ORJSONResponse``). No logging, no
  routing, no version lookups. The endpoint is ``async``: the model runs on the event loop, with
  no thread hop (the quickest choice for a sub-millisecond model).
- ``GET /readyz`` answers 200 once the model is loaded.

Arrays rather than one-row DataFrames because that is what a hand-written endpoint does once it
has measured: the model was fitted on a DataFrame, and a one-row DataFrame costs scikit-learn
about 0.8 ms of feature-name checks against about 0.1 ms for an array (``bench/serving.py``
reports both). The "X does not have valid feature names" warning that an array earns is silenced
once at start-up.
"""

from __future__ import annotations

import argparse
import pickle
import warnings
from pathlib import Path
from typing import Any

from pydantic import BaseModel


class Body(BaseModel):
    records: list[dict[str, float]]


class Answer(BaseModel):
    predictions: list[list[float]]


def build_app(model: Any) -> Any:
    import numpy as np
    from fastapi import FastAPI

    columns = [str(c) for c in model.feature_names_in_]
    app = FastAPI()

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/v1/models/{name}/predict")
    async def predict(name: str, body: Body) -> Answer:
        rows = np.array([[record[c] for c in columns] for record in body.records])
        return Answer(predictions=model.predict_proba(rows).tolist())

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    import uvicorn

    model = pickle.loads(args.model.read_bytes())
    uvicorn.run(
        build_app(model),
        host="127.0.0.1",
        port=args.port,
        workers=1,
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
