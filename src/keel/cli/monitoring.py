"""``keel monitor ...``, ``keel labels import`` and ``keel predictions import``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from keel.cli.context import JsonOption, client_of, limit_option
from keel.cli.output import console, listed, print_json, print_table, when
from keel.domain.names import MAX_VERSION

if TYPE_CHECKING:
    from keel.monitoring.window_summary import WindowSummary

monitor_app = typer.Typer(help="Production monitoring: windows, drift, estimates, alerts.")
labels_app = typer.Typer(help="Delayed labels (ground truth) for logged predictions.")
predictions_app = typer.Typer(help="The prediction log.")

PolicyOption = Annotated[
    Path | None,
    typer.Option("--policy", help="A policy file to apply first (default: the stored policy)."),
]


def _read_table(path: Path) -> Any:
    from keel.registry.snapshots import read_data

    frame, _ = read_data(str(path), "file")
    return frame


@monitor_app.command("run")
def run(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="The model to monitor.")],
    policy: PolicyOption = None,
    json: JsonOption = False,
) -> None:
    """Process new prediction-log data into windows; resumes where the last run stopped."""
    client = client_of(ctx)
    rules = None
    if policy is not None:
        from keel.policy_files import read_policy_file

        rules = read_policy_file(policy, model)
    result = client.monitor(model, policy=rules)
    if json:
        print_json(result)
        return
    console.print(
        f"{model}: {result.new_rows:,} new rows, {len(result.windows)} new windows, "
        f"{result.pending_rows:,} rows waiting for the next window, "
        f"{result.relabelled} windows with new labels"
    )
    for passed in result.skipped:
        console.print(
            f"passed over {passed['rows']:,} rows of {model}/{passed['version']}: "
            f"{passed['reason']}"
        )
    if result.windows:
        print_table(
            [
                "window",
                "version",
                "from",
                "to",
                "rows",
                "drifted",
                "est. accuracy",
                "p99 ms",
                "input issues",
            ],
            (
                [
                    w.id,
                    w.version,
                    when(w.start_at),
                    when(w.end_at),
                    f"{w.rows:,}",
                    ", ".join(w.drifted_features) or "-",
                    w.estimated_accuracy,
                    w.latency_p99_ms,
                    _input_issues(w),
                ]
                for w in result.windows
            ),
            title="new windows",
        )
    for change in result.alerts:
        console.print(f"alert {change.transition}: {change.alert.message}")


def _input_issues(window: WindowSummary) -> str:
    """Values never seen in training, per feature, and the rows rejected for them."""
    parts = [f"{i['column']} {i['code']} {i['rows']:,}" for i in window.input_issues]
    if window.rejected_rows:
        parts.append(f"{window.rejected_rows:,} rows rejected")
    return "; ".join(parts) or "-"


@monitor_app.command("windows")
def windows(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="The model.")],
    version: Annotated[
        int | None, typer.Option(help="Only this version.", min=1, max=MAX_VERSION)
    ] = None,
    limit: Annotated[int, limit_option(help="How many, newest first.")] = 20,
    json: JsonOption = False,
) -> None:
    """Stored windows: drift, estimated and realized accuracy, latency, cost."""
    found = client_of(ctx).monitor_windows(model, version=version, limit=limit)
    if json:
        print_json(found)
        return
    print_table(
        [
            "window",
            "version",
            "to",
            "rows",
            "labelled",
            "accuracy",
            "majority",
            "estimated",
            "reweighted",
            "drifted",
            "p99 ms",
            "cost/1k",
        ],
        (
            [
                w.id,
                w.version,
                when(w.end_at),
                f"{w.rows:,}",
                f"{w.labelled_rows:,}",
                w.performance.get("accuracy"),
                # "always the most frequent class" on the same labelled rows: the floor
                ((w.performance.get("baselines") or {}).get("majority") or {}).get("accuracy"),
                (w.estimate.get("metrics") or {}).get("accuracy"),
                # the inputs shifted: the estimate's calibration was refitted on held-out
                # rows weighted like the window's; this many rows' worth
                _reweighted(w.estimate),
                len(w.drifted_features),
                w.operations.get("latency_p99_ms"),
                w.operations.get("cost_per_1k"),
            ]
            for w in found
        ),
        title=f"windows of {model}",
    )


def _reweighted(estimate: dict[str, Any]) -> str:
    shift = estimate.get("shift") or {}
    return f"{shift['effective_rows']:,.0f} rows" if shift.get("weighted") else ""


@monitor_app.command("report")
def report(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="The model.")],
    window: Annotated[
        str | None,
        typer.Option(help="latest (default), a window id, or a time range START..END."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the reports.")] = Path(
        ".keel/reports"
    ),
    json: JsonOption = False,
) -> None:
    """Write a JSON and a self-contained HTML monitoring report (no network needed)."""
    import orjson

    from keel.monitoring.report_page import to_html

    report = client_of(ctx).monitor_report(model, window=window)
    out.mkdir(parents=True, exist_ok=True)
    chosen = report.window.id if report.window else "none"
    stem = f"monitor-{model}-{chosen}"
    (out / f"{stem}.json").write_bytes(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2))
    page = out / f"{stem}.html"
    page.write_text(to_html(report), encoding="utf-8")
    if json:
        print_json({"json": str(out / f"{stem}.json"), "html": str(page)})
        return
    console.print(
        f"{report.window_count} windows, {report.rows:,} predictions; report written to {page}"
    )


@labels_app.command("import")
def import_labels(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A .csv or .parquet file of labels.")],
    model: Annotated[str, typer.Option("--model", "-m", help="The model they label.")],
    id_column: Annotated[str, typer.Option(help="Column of request ids.")] = "request_id",
    label_column: Annotated[str, typer.Option(help="Column of labels.")] = "label",
    time_column: Annotated[
        str | None, typer.Option(help="Column of when each label became known.")
    ] = None,
    json: JsonOption = False,
) -> None:
    """Log labels for earlier predictions; ids that match no prediction are reported."""
    from keel.errors import InvalidInput

    frame = _read_table(path)
    for option, column in (("--id-column", id_column), ("--label-column", label_column)):
        if column not in frame.columns:
            raise InvalidInput(option, f"{column!r} is not a column of {path}")
    if time_column is not None and time_column not in frame.columns:
        raise InvalidInput("--time-column", f"{time_column!r} is not a column of {path}")
    report = client_of(ctx).log_labels(
        model,
        frame[id_column].to_numpy(),
        frame[label_column].to_numpy(),
        timestamps=frame[time_column].to_numpy() if time_column else None,
    )
    if json:
        print_json(report)
        return
    console.print(
        f"{report.rows:,} labels logged for {model}: {report.matched:,} matched a prediction, "
        f"{report.unknown_count:,} matched none, {report.duplicates:,} duplicate ids"
    )
    if report.unknown:
        shown = listed(report.unknown, 10, total=report.unknown_count)
        console.print(f"unknown request ids: {shown}")


@predictions_app.command("import")
def import_predictions(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A .csv or .parquet file of predictions.")],
    model: Annotated[str, typer.Option("--model", "-m", help="The model that made them.")],
    version: Annotated[
        str | None, typer.Option(help="Version number or alias (default: champion).")
    ] = None,
    json: JsonOption = False,
) -> None:
    """Append predictions made elsewhere (features plus a ``prediction`` column, and optionally
    ``score``, ``request_id``, ``timestamp``, ``latency_ms``) to the log."""
    receipt = client_of(ctx).log_predictions(model, _read_table(path), version=version)
    if json:
        print_json(
            {
                "model": receipt.model,
                "version": receipt.version,
                "part": receipt.part,
                "rows": receipt.rows,
            }
        )
        return
    console.print(f"{receipt.rows:,} predictions of {model}/{receipt.version} logged")
