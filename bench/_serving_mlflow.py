"""MLflow's half of ``bench/serving.py``; run by the MLflow venv's python, never by Keel's.

``_serving_mlflow.py --model PKL --out DIR`` reads the pickled scikit-learn classifier that every
server of the benchmark serves and saves it with ``mlflow.sklearn.save_model`` in ``DIR`` (which
must not exist), in MLflow's default serialization, with ``pyfunc_predict_fn="predict_proba"`` so
``/invocations`` does the same work as the other servers, and a signature of one double column per
feature (what ``infer_signature`` gives for the training frame), which MLflow's scoring server
enforces on every request. ``mlflow models serve --env-manager local -m DIR`` then serves it.
Prints one JSON line: MLflow's version and the saved model's flavour configuration.
"""

from __future__ import annotations

import argparse
import json
import logging
import pickle
import warnings
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    import mlflow
    import mlflow.sklearn
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    model = pickle.loads(args.model.read_bytes())
    columns = [str(c) for c in model.feature_names_in_]
    signature = ModelSignature(inputs=Schema([ColSpec("double", c) for c in columns]))
    mlflow.sklearn.save_model(
        model, str(args.out), signature=signature, pyfunc_predict_fn="predict_proba"
    )
    flavor = (args.out / "MLmodel").read_text()
    print(json.dumps({"version": mlflow.__version__, "mlmodel": flavor}), flush=True)


if __name__ == "__main__":
    main()
