"""``keel``: the command-line face of the registry.

Every command takes ``--json`` for scripts; errors print one line and exit non-zero:
2 bad input, 3 not found, 4 conflict, 5 integrity, 6 store unavailable, 1 anything else.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from keel.cli import (
    alerts,
    aliases,
    autopilot,
    datasets,
    governance,
    models,
    monitoring,
    provenance,
    rollout,
    runs,
    serve,
    tokens,
    ui,
)
from keel.cli.context import Faces
from keel.cli.output import fail

app = typer.Typer(
    name="keel",
    help="Keel keeps machine-learning models accurate in production.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(models.models_app, name="models")
app.add_typer(models.versions_app, name="versions")
app.add_typer(datasets.app, name="datasets")
app.add_typer(aliases.app, name="alias")
app.add_typer(runs.app, name="runs")
app.add_typer(provenance.audit_app, name="audit")
app.command("history")(aliases.history)
app.command("lineage")(provenance.lineage)
app.command("reproduce")(provenance.reproduce)
app.add_typer(governance.policy_app, name="policy")
app.add_typer(governance.evaluations_app, name="evaluations")
app.command("evaluate")(governance.evaluate)
app.command("gate")(governance.gate)
app.command("approve")(governance.approve)
app.add_typer(monitoring.monitor_app, name="monitor")
app.add_typer(monitoring.labels_app, name="labels")
app.add_typer(monitoring.predictions_app, name="predictions")
app.add_typer(alerts.app, name="alerts")
app.command("deploy")(rollout.deploy)
app.command("promote")(rollout.promote)
app.command("rollback")(rollout.rollback)
app.add_typer(rollout.rollout_app, name="rollout")
app.command("serve")(serve.serve)
app.command("ui")(ui.ui)
app.command("autopilot")(autopilot.autopilot)
app.command("retrain")(autopilot.retrain)
app.add_typer(autopilot.retrains_app, name="retrains")
app.add_typer(autopilot.pipelines_app, name="pipelines")
app.add_typer(tokens.app, name="token")


@app.callback()
def _options(
    ctx: typer.Context,
    store: Annotated[
        str | None, typer.Option("--store", help="Metadata store URL (env KEEL_STORE_URL).")
    ] = None,
    artifacts: Annotated[
        str | None,
        typer.Option("--artifacts", help="Artifact root, fsspec URL (env KEEL_ARTIFACTS)."),
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Who acts (env KEEL_USER).")] = None,
) -> None:
    ctx.obj = Faces(store_url=store, artifacts=artifacts, actor=user)


@app.command("version")
def version() -> None:
    """Print Keel's version."""
    from keel._version import __version__

    typer.echo(__version__)


@app.command("demo")
def demo(
    data: Annotated[
        str | None, typer.Option("--data", help="A time-ordered CSV or Parquet table to replay.")
    ] = None,
    target: Annotated[str | None, typer.Option("--target", help="Its label column.")] = None,
    time: Annotated[str | None, typer.Option("--time", help="Its time column.")] = None,
    drop: Annotated[
        list[str] | None,
        typer.Option("--drop", help="A column that is not a feature (repeatable)."),
    ] = None,
    folder: Annotated[
        str, typer.Option("--folder", help="Where the demo's store goes.")
    ] = "keel-demo",
) -> None:
    """The closed loop on simulated time: a credit-risk model kept above 92% accuracy for 14
    months by the autopilot (or any time-ordered table with --data/--target/--time)."""
    from keel.demo.closed_loop import run_demo

    run_demo(data, target, time, folder, drop)


def _command_line_errors() -> tuple[tuple[type[Exception], ...], tuple[type[BaseException], ...]]:
    """The usage errors (unknown option, missing argument, bad value: exit 2 with click's
    message) and the aborts, from click and from the copy of click newer Typer releases ship."""
    import click
    import typer

    usage: list[type[Exception]] = [click.ClickException]
    aborts: list[type[BaseException]] = [click.exceptions.Abort, typer.Abort]
    try:
        from typer._click import exceptions as vendored
    except ImportError:  # a Typer that uses click itself
        pass
    else:
        usage.append(vendored.ClickException)
    return tuple(usage), tuple(aborts)


def _exit_code(exc: BaseException) -> int:
    from keel.errors import (
        Conflict,
        FrameworkMissing,
        GateFailed,
        IntegrityError,
        InvalidInput,
        NotFound,
        StoreError,
    )

    for kind, code in (
        (InvalidInput, 2),
        (NotFound, 3),
        (Conflict, 4),
        (GateFailed, 4),
        (IntegrityError, 5),
        (StoreError, 6),
        (FrameworkMissing, 7),
    ):
        if isinstance(exc, kind):
            return code
    return 1


def _undecodable(argv: list[str]) -> str | None:
    """The first argument holding bytes that are not UTF-8 (Python keeps them as surrogates,
    which no store, file name check or JSON encoder accepts), or None."""
    for argument in argv:
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError:
            return argument.encode("utf-8", "replace").decode()
    return None


def _os_exit_code(exc: OSError) -> int:
    """3 for a file that is not there, 2 for a path that cannot be one (a folder where a file
    was meant, a name too long, a file in the way of a folder), 1 for the rest (permissions,
    a full disk)."""
    import errno

    if isinstance(exc, FileNotFoundError):
        return 3
    if isinstance(exc, IsADirectoryError | NotADirectoryError | FileExistsError):
        return 2
    return 2 if exc.errno in (errno.ENAMETOOLONG, errno.EINVAL) else 1


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; Keel errors become one line on stderr and an exit code, never a traceback."""
    from keel.errors import KeelError

    usage_errors, aborts = _command_line_errors()
    undecodable = _undecodable(sys.argv[1:] if argv is None else argv)
    if undecodable is not None:
        fail(f"argument {undecodable!r} is not valid UTF-8 text")
        return 2
    try:
        result = app(args=argv, prog_name="keel", standalone_mode=False)
    except KeelError as exc:
        fail(exc.message)
        return _exit_code(exc)
    except aborts:
        fail("aborted")
        return 130
    except usage_errors as exc:
        exc.show()  # type: ignore[attr-defined]  # both clicks' ClickException have it
        return int(getattr(exc, "exit_code", 2))
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a path given on the command line that cannot be read or written
        fail(f"{exc.filename or 'a file'}: {exc.strerror or exc}")
        return _os_exit_code(exc)
    except Exception as exc:  # the last line of defence: say what failed, keep the trace opt-in
        if os.environ.get("KEEL_DEBUG"):
            raise
        fail(f"unexpected {type(exc).__name__}: {exc} (set KEEL_DEBUG=1 for the traceback)")
        return 70
    return result if isinstance(result, int) else 0


def entry() -> None:
    sys.exit(main())
