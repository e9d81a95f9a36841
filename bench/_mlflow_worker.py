"""MLflow's half of ``bench/registry.py``; run by the MLflow venv's python, never by Keel's.

It does the same work as the Keel half on one MLflow store (``--store sqlite``: MLflow's default
``sqlite:///mlflow.db`` in the working folder; ``--store file``: the ``./mlruns`` file store, which
MLflow 3 only opens with ``MLFLOW_ALLOW_FILE_STORE=true``) and prints one JSON object on stdout.
Progress goes to stderr, prefixed with ``[mlflow-<store>]``. The working folder is a temporary
folder chosen by the caller.

The file store numbers a new version by reading every existing version's ``meta.yaml``, so filling
it with thousands of versions through the API is quadratic; past ``--file-api-versions`` the big
model's versions are written as copies of the last API-created version's files (what the API would
have written), and only the API-created ones are timed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from _timing import accuracy, mean_ms, median_ms

PREFIX = "[mlflow-{store}]"
BIG_MODEL = "big"


def log(store: str, message: str) -> None:
    print(f"{PREFIX.format(store=store)} {message}", file=sys.stderr, flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", choices=["sqlite", "file"], required=True)
    parser.add_argument("--versions", type=int, required=True)
    parser.add_argument("--infer-versions", type=int, required=True)
    parser.add_argument("--big", type=int, required=True)
    parser.add_argument("--file-api-versions", type=int, required=True)
    parser.add_argument("--loads", type=int, required=True)
    parser.add_argument("--moves", type=int, required=True)
    parser.add_argument("--metrics", type=int, required=True)
    parser.add_argument("--batch-metrics", type=int, required=True)
    parser.add_argument("--list-reps", type=int, required=True)
    parser.add_argument("--budget-s", type=float, required=True)
    return parser.parse_args()


def quiet() -> None:
    warnings.filterwarnings("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)


def configure_store(store: str) -> str:
    """Point MLflow at the store; sqlite is MLflow's own default, left unset on purpose."""
    import mlflow

    if store == "file":
        mlflow.set_tracking_uri((Path.cwd() / "mlruns").as_uri())
    uri = mlflow.get_tracking_uri()
    if store == "sqlite" and not uri.startswith("sqlite:"):
        raise SystemExit(f"expected MLflow's default store to be SQLite, got {uri}")
    return uri


def default_tracking_uri() -> str | None:
    """The URI MLflow uses when none is set (read from MLflow, which may move it)."""
    try:
        from mlflow.store.tracking import DEFAULT_TRACKING_URI
    except ImportError:
        return None
    return str(DEFAULT_TRACKING_URI)


def training() -> tuple[Any, Any, list[str]]:
    """The fitted model, its signature and explicit pip requirements."""
    import sklearn
    from mlflow.models import infer_signature
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    features, target = load_breast_cancer(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=5000).fit(features, target)
    signature = infer_signature(features, model.predict(features))
    return model, signature, [f"scikit-learn=={sklearn.__version__}"]


def measure_register(
    args: argparse.Namespace, model: Any, signature: Any, requirements: list[str]
) -> dict[str, Any]:
    """log_model + registration in one run: inferred requirements (default) and given ones."""
    import mlflow
    import mlflow.sklearn

    def register(name: str, **kwargs: Any) -> Any:
        return mlflow.sklearn.log_model(
            model, name="model", registered_model_name=name, signature=signature, **kwargs
        )

    inferred = None
    with mlflow.start_run():
        register("warmup", pip_requirements=requirements)
        if args.infer_versions:
            log(args.store, f"registering {args.infer_versions} versions, requirements inferred")
            inferred = mean_ms(lambda _: register("m-inferred"), args.infer_versions)
        log(args.store, f"registering {args.versions} versions, requirements given")
        given = mean_ms(lambda _: register("m", pip_requirements=requirements), args.versions)
    return {
        "register_ms": inferred,
        "register_infer_versions": args.infer_versions,
        "register_reqs_given_ms": given,
    }


def search_all(client: Any, filter_string: str, page_size: int) -> list[Any]:
    """Every model version matching ``filter_string``, following page tokens."""
    found: list[Any] = []
    token = None
    while True:
        page = client.search_model_versions(filter_string, max_results=page_size, page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            return found


def measure_list(args: argparse.Namespace, client: Any) -> dict[str, Any]:
    versions = search_all(client, "name='m'", args.versions)
    if len(versions) != args.versions:
        raise SystemExit(f"expected {args.versions} versions of m, found {len(versions)}")
    ms = median_ms(
        lambda _: search_all(client, "name='m'", args.versions), args.list_reps, args.budget_s
    )
    return {"list_versions_ms": ms}


def measure_aliases(args: argparse.Namespace, client: Any) -> dict[str, Any]:
    """Load by alias (median, after one warm-up load) and move the alias (median per move)."""
    import mlflow.sklearn

    client.set_registered_model_alias("m", "champion", args.versions)
    mlflow.sklearn.load_model("models:/m@champion")
    log(args.store, f"loading by alias x{args.loads}, moving the alias x{args.moves}")
    load = median_ms(
        lambda _: mlflow.sklearn.load_model("models:/m@champion"), args.loads, args.budget_s
    )
    move = median_ms(
        lambda i: client.set_registered_model_alias("m", "champion", i % args.versions + 1),
        args.moves,
        args.budget_s,
    )
    return {"load_alias_ms": load, "set_alias_ms": move}


def measure_metrics(args: argparse.Namespace) -> dict[str, Any]:
    """Single ``log_metric`` calls and one ``log_metrics`` batch, in ms per metric."""
    import mlflow

    log(args.store, f"logging {args.metrics} metrics one by one, {args.batch_metrics} in a batch")
    with mlflow.start_run():
        single = mean_ms(lambda i: mlflow.log_metric("loss", 1 / (i + 1), step=i), args.metrics)
        batch = {f"m{i}": i / args.batch_metrics for i in range(args.batch_metrics)}
        start = time.perf_counter()
        mlflow.log_metrics(batch, step=0)
        per_metric = (time.perf_counter() - start) * 1000 / args.batch_metrics
    return {"log_metric_ms": single, "log_metrics_batch_ms": per_metric}


def version_tags(i: int) -> dict[str, str]:
    return {"acc_over_half": "true" if accuracy(i) > 0.5 else "false"}


def fill_big(
    args: argparse.Namespace, client: Any, model: Any, requirements: list[str]
) -> dict[str, Any]:
    """Create the big model's versions from one logged model (the fast path)."""
    import mlflow
    import mlflow.sklearn

    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, name="model", pip_requirements=requirements)
    source = client.get_logged_model(info.model_id).artifact_location
    client.create_registered_model(BIG_MODEL)
    through_api = args.big if args.store == "sqlite" else min(args.big, args.file_api_versions)
    log(args.store, f"creating {through_api} versions of {BIG_MODEL} with create_model_version")

    def create(i: int) -> None:
        client.create_model_version(BIG_MODEL, source, run_id=run.info.run_id, tags=version_tags(i))

    per_version = mean_ms(create, through_api)
    if through_api < args.big:
        log(args.store, f"copying version files up to {args.big} (the API is quadratic here)")
        clone_file_versions(through_api, args.big)
    return {
        "big_create_ms": per_version,
        "big_create_method": "api" if through_api == args.big else f"api x{through_api}, copies",
    }


def clone_file_versions(existing: int, total: int) -> None:
    """Write versions ``existing+1..total`` of the big model as the file store would."""
    folder = Path.cwd() / "mlruns" / "models" / BIG_MODEL
    template = folder / f"version-{existing}"
    meta = (template / "meta.yaml").read_text()
    line = f"\nversion: {existing}\n"
    tag_names = sorted(p.name for p in (template / "tags").iterdir())
    if line not in meta or tag_names != sorted(version_tags(0)):
        raise SystemExit(f"unexpected file store layout in {template}")
    for number in range(existing + 1, total + 1):
        target = folder / f"version-{number}"
        (target / "tags").mkdir(parents=True)
        (target / "meta.yaml").write_text(meta.replace(line, f"\nversion: {number}\n"))
        for key, value in version_tags(number - 1).items():
            (target / "tags" / key).write_text(value)


def measure_big(args: argparse.Namespace, client: Any) -> dict[str, Any]:
    """List every version of the big model and search the ones with accuracy over 0.5."""
    name_filter = f"name='{BIG_MODEL}'"
    search_filter = f"{name_filter} and tags.acc_over_half = 'true'"
    page = min(args.big, 200_000)
    found: dict[str, int] = {}

    def timed(label: str, filter_string: str) -> float:
        def action(_: int) -> None:
            found[label] = len(search_all(client, filter_string, page))

        return median_ms(action, args.list_reps, args.budget_s)

    log(args.store, f"listing and searching {args.big} versions (up to x{args.list_reps})")
    figures = {
        "big_list_ms": timed("list", name_filter),
        "big_search_ms": timed("search", search_filter),
        "big_search_hits": found["search"],
    }
    if found["list"] != args.big:
        raise SystemExit(f"expected {args.big} versions of {BIG_MODEL}, found {found['list']}")
    return figures


def main() -> None:
    args = parse_args()
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # anything MLflow prints must not corrupt the JSON answer
    started = time.perf_counter()
    import mlflow
    from mlflow import MlflowClient

    quiet()  # after the import: MLflow sets up its own logging then

    uri = configure_store(args.store)
    log(args.store, f"MLflow {mlflow.__version__} on {uri} in {os.getcwd()}")
    model, signature, requirements = training()
    results: dict[str, Any] = {
        "mlflow_version": mlflow.__version__,
        "default_tracking_uri": default_tracking_uri(),
        "tracking_uri": uri,
    }
    results.update(measure_register(args, model, signature, requirements))
    client = MlflowClient()
    results.update(measure_list(args, client))
    results.update(measure_aliases(args, client))
    results.update(measure_metrics(args))
    results.update(fill_big(args, client, model, requirements))
    results.update(measure_big(args, client))
    results["wall_s"] = time.perf_counter() - started
    print(json.dumps(results), file=real_stdout, flush=True)


if __name__ == "__main__":
    main()
