"""``keel serve``: the serving app under uvicorn, one or several worker processes.

Worker processes import the app by name, so the command hands its settings to them through
environment variables (``KEEL_STORE_URL``, ``KEEL_ARTIFACTS``, ``KEEL_USER`` and
``KEEL_SERVE_*``) that ``app_factory`` reads at start-up: configuration is still read at the
edge, once per process. With several workers, prometheus-client's multiprocess mode is switched
on (a fresh ``PROMETHEUS_MULTIPROC_DIR``, removed at exit) so ``/metrics`` sums every worker.

Each model's policy says what happens to a value never seen in training (``inputs``: flag, the
default, answers and marks the row; reject logs it unanswered); the server reads it from the
store and follows changes. ``--no-range-check`` skips the training-range check altogether.

Served predictions are logged through a write-ahead log by default (``--wal``): one shared
fsync per batch before the answers go out, and the rows reach the Parquet prediction log within
a second; ``--no-wal`` writes one Parquet part per batch instead.

Run without the ``keel`` entry point: ``python -m keel.cli.serve --port 8000``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import TYPE_CHECKING, Annotated

import typer

from keel.cli.context import Faces, PortOption, open_store

if TYPE_CHECKING:
    from fastapi import FastAPI

    from keel.settings import Settings

#: environment variables the command sets for its workers
ENV_LOG = "KEEL_SERVE_LOG"
ENV_POLL = "KEEL_SERVE_POLL"
ENV_RANGES = "KEEL_SERVE_CHECK_RANGES"
ENV_OPTIONS = "KEEL_SERVE_ARTIFACT_OPTIONS"
ENV_WAL = "KEEL_SERVE_WAL"
ENV_PRIVATE = "KEEL_SERVE_PRIVATE_METRICS"
ENV_MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"
#: more worker processes than this is a typo, not a plan (each holds every served model)
MAX_WORKERS = 256


def _settings(ctx: typer.Context | None) -> Settings:
    from keel.settings import Settings

    faces = ctx.find_root().obj if ctx is not None else None
    if not isinstance(faces, Faces):
        faces = Faces()
    return Settings.load(store_url=faces.store_url, artifacts=faces.artifacts, actor=faces.actor)


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: PortOption = 8000,
    workers: Annotated[
        int, typer.Option("--workers", "-w", help="Worker processes.", min=1, max=MAX_WORKERS)
    ] = 1,
    no_log: Annotated[
        bool, typer.Option("--no-log", help="Do not write the prediction log (benchmarks).")
    ] = False,
    poll: Annotated[
        float, typer.Option("--poll", help="Seconds between checks for a new serving plan.")
    ] = 1.0,
    no_range_check: Annotated[
        bool,
        typer.Option(
            "--no-range-check",
            help="Do not compare numbers with the training range at all (overrides the "
            "policy's inputs.out_of_range: nothing is flagged or rejected for it).",
        ),
    ] = False,
    wal: Annotated[
        str | None,
        typer.Option(
            "--wal",
            help="Local folder of the write-ahead log (default: <artifacts>/log/wal for a "
            "local artifact root, else .keel/wal/<hash of the artifact URL>).",
        ),
    ] = None,
    no_wal: Annotated[
        bool,
        typer.Option(
            "--no-wal", help="Write one Parquet part per batch instead (slower; no local state)."
        ),
    ] = False,
    private_metrics: Annotated[
        bool,
        typer.Option(
            "--private-metrics",
            help="Put /healthz, /readyz and /metrics behind the predict role once tokens exist "
            "(they name the models and versions served).",
        ),
    ] = False,
) -> None:
    """Serve every deployed model over HTTP (predict, models, health, metrics, docs)."""
    import uvicorn

    if not 0 < poll <= 3600:  # also NaN; an infinite poll would never see a new plan
        raise typer.BadParameter("must be a number of seconds in (0, 3600]", param_hint="--poll")
    settings = _settings(ctx)
    open_store(settings, create=False)  # migrate once here, not in every worker at once
    os.environ.update(
        {
            "KEEL_STORE_URL": settings.store_url,
            "KEEL_ARTIFACTS": settings.artifacts,
            "KEEL_USER": settings.actor,
            ENV_OPTIONS: json.dumps(settings.artifact_options),
            ENV_LOG: "0" if no_log else "1",
            ENV_POLL: str(poll),
            ENV_RANGES: "0" if no_range_check else "1",
            ENV_PRIVATE: "1" if private_metrics else "0",
        }
    )
    if not no_wal and not no_log:
        os.environ[ENV_WAL] = os.path.abspath(wal or default_wal_folder(settings))
    else:
        os.environ.pop(ENV_WAL, None)
    own_folder = None
    if workers > 1 and not os.environ.get(ENV_MULTIPROC):
        own_folder = tempfile.mkdtemp(prefix="keel-metrics-")
        os.environ[ENV_MULTIPROC] = own_folder
    typer.echo(
        f"keel serving on http://{host}:{port} ({workers} worker(s)); docs at /docs, "
        "dashboard at /ui/"
    )
    try:
        uvicorn.run(
            "keel.cli.serve:app_factory",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=10,
        )
    finally:
        if own_folder is not None:
            os.environ.pop(ENV_MULTIPROC, None)
            shutil.rmtree(own_folder, ignore_errors=True)


def default_wal_folder(settings: Settings) -> str:
    """Where the write-ahead log lives by default: beside the log it feeds when the artifact
    root is a local folder, so a restart on any store finds its own segments and no other's."""
    import hashlib

    url = settings.artifacts
    if "://" not in url or url.startswith("file://"):
        return os.path.join(url.removeprefix("file://"), "log", "wal")
    return os.path.join(".keel", "wal", hashlib.sha256(url.encode()).hexdigest()[:12])


def app_factory() -> FastAPI:
    """The app of one worker, from the variables ``serve`` set (uvicorn calls this)."""
    from keel.serving.app import create_app
    from keel.settings import Settings
    from keel.web.dashboard import create_dashboard
    from keel.web.management import router

    options = json.loads(os.environ.get(ENV_OPTIONS) or "{}")
    settings = Settings.load(artifact_options=options or None)
    app = create_app(
        settings,
        log_predictions=os.environ.get(ENV_LOG, "1") != "0",
        poll_s=float(os.environ.get(ENV_POLL) or 1.0),
        check_ranges=os.environ.get(ENV_RANGES, "1") != "0",
        wal=os.environ.get(ENV_WAL) or None,
        private_metrics=os.environ.get(ENV_PRIVATE, "0") == "1",
    )
    app.include_router(router)
    app.mount("/ui", create_dashboard(settings, serving=app))  # over the app's own stores
    return app


def main() -> None:
    """``python -m keel.cli.serve``: the command without the ``keel`` entry point."""
    typer.run(serve)


if __name__ == "__main__":
    main()
