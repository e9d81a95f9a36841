"""``keel evaluate``, ``keel gate``, ``keel approve`` and ``keel policy ...``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from keel.cli.context import JsonOption, client_of, id_argument
from keel.cli.output import console, print_json, print_table
from keel.domain.metric_specs import shown_in

if TYPE_CHECKING:
    from keel.client import Client
    from keel.evaluation.gates import GateOutcome
    from keel.evaluation.runner import Evaluation

policy_app = typer.Typer(help="Model policies: risk profile, suites, gates.", no_args_is_help=True)

OutOption = Annotated[Path, typer.Option("--out", help="Folder for the JSON and HTML reports.")]
#: the columns of ``keel evaluate``'s table: the metrics declared for it
_HEADLINE = tuple(spec.name for spec in shown_in("evaluation_table"))


def _apply_file_policy(client: Client, model: str) -> str | None:
    """Keep the stored policy in step with the files, so the CLI always acts on what is on disk."""
    from keel.policy_files import find_policy

    found = find_policy(model)
    if found is None:
        return None
    policy, source = found
    client.set_policy(model, policy, source=source)
    return source


def _write_reports(evaluation: Evaluation, outcome: GateOutcome | None, out: Path) -> Path:
    import orjson

    from keel.evaluation.report import to_html, to_json

    out.mkdir(parents=True, exist_ok=True)
    stem = f"{evaluation.model.replace('/', '-')}-{evaluation.suite}-{evaluation.id or 'adhoc'}"
    (out / f"{stem}.json").write_bytes(
        orjson.dumps(to_json(evaluation, outcome), option=orjson.OPT_INDENT_2)
    )
    page = out / f"{stem}.html"
    page.write_text(to_html(evaluation, outcome), encoding="utf-8")
    return page


def _show_evaluation(evaluation: Evaluation) -> None:
    if evaluation.status != "finished":
        console.print(f"[bold red]evaluation failed[/bold red]: {evaluation.error}")
    for snap in evaluation.results.get("snapshots", []):
        baselines = snap.get("baselines", {})
        comparison = snap.get("comparison") or {}
        champion = comparison.get("champion_metrics", {})
        columns = ["metric", "model", *baselines]
        if champion:
            columns += [f"champion {evaluation.results.get('champion')}", "difference [95% CI]"]
        rows: list[list[Any]] = []
        for metric in _HEADLINE:
            value = snap["metrics"].get(metric)
            if value is None:
                continue
            row: list[Any] = [metric, value, *(b.get(metric) for b in baselines.values())]
            if champion:
                diff = comparison.get("differences", {}).get(metric, {})
                ci = diff.get("ci95")
                interval = f" [{ci[0]:+.4f}, {ci[1]:+.4f}]" if ci else ""
                change = diff.get("difference")
                row += [
                    champion.get(metric),
                    f"{change:+.4f}{interval}" if change is not None else "",
                ]
            rows.append(row)
        print_table(
            columns, rows, title=f"{evaluation.model} on {snap['ref']} ({snap['rows']:,} rows)"
        )
        _warn_baselines(snap)
        if snap.get("slices"):
            print_table(
                ["slice", "rows", "accuracy", "recall", "roc_auc", "mae"],
                (
                    [
                        n,
                        s.get("rows"),
                        s.get("accuracy"),
                        s.get("recall"),
                        s.get("roc_auc"),
                        s.get("mae"),
                    ]
                    for n, s in snap["slices"].items()
                ),
                title="slices",
            )
        for issue in snap.get("quality", []):
            console.print(f"[yellow]data quality:[/yellow] {issue}")
    cost = evaluation.results.get("cost")
    if cost:
        _show_cost(cost, evaluation.results.get("cost_detail") or {})


def _show_cost(cost: dict[str, Any], detail: dict[str, Any]) -> None:
    """Medians with their spread, beside the champion's and the ratio when it was measured."""
    spread, champion = detail.get("spread", {}), detail.get("champion") or {}
    ratio = detail.get("ratio", {})
    rows = []
    for key, value in cost.items():
        low_high = spread.get(key)
        rows.append(
            [
                key,
                value,
                f"{low_high[0]:.4g}-{low_high[1]:.4g}" if low_high else "",
                champion.get(key),
                f"{ratio[key]:.3g}x" if key in ratio else "",
            ]
        )
    runs = detail.get("runs")
    title = f"cost (median of {runs} runs, interleaved with the champion)" if runs else "cost"
    print_table(["cost", "median", "min-max", "champion", "ratio"], rows, title=title)
    if detail.get("champion_error"):
        console.print(f"[yellow]champion cost:[/yellow] {detail['champion_error']}", markup=False)


def _warn_baselines(snap: dict[str, Any]) -> None:
    """Say it loudly when a naive baseline does as well as the model."""
    for name, baseline in snap.get("baselines", {}).items():
        for metric in ("accuracy", "mae"):
            mine, theirs = snap["metrics"].get(metric), baseline.get(metric)
            if mine is None or theirs is None:
                continue
            worse = mine <= theirs if metric == "accuracy" else mine >= theirs
            if worse:
                console.print(
                    f"[bold yellow]warning:[/bold yellow] the {name} baseline scores {metric} "
                    f"{theirs:.4f}, the model {mine:.4f}: the model does not beat it"
                )


def evaluate(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="MODEL/VERSION or MODEL@ALIAS")],
    suite: Annotated[
        str | None, typer.Option("--suite", "-s", help="Suite name from the policy.")
    ] = None,
    out: OutOption = Path(".keel/reports"),
    json: JsonOption = False,
) -> None:
    """Run an evaluation suite; stores the results and writes JSON and HTML reports."""
    client = client_of(ctx)
    from keel.domain.names import parse_model_ref

    _apply_file_policy(client, parse_model_ref(ref).name)
    evaluation = client.evaluate(ref, suite)
    page = _write_reports(evaluation, None, out)
    if json:
        print_json(evaluation.to_dict())
    else:
        _show_evaluation(evaluation)
        console.print(f"report: {page}")
    if evaluation.status != "finished":
        raise typer.Exit(1)


def gate(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="MODEL/VERSION or MODEL@ALIAS")],
    out: OutOption = Path(".keel/reports"),
    json: JsonOption = False,
) -> None:
    """Run the policy's suite and gates; records blessed/rejected; exits 4 when rejected."""
    client = client_of(ctx)
    from keel.domain.names import parse_model_ref

    _apply_file_policy(client, parse_model_ref(ref).name)
    evaluation, outcome = client.gate(ref)
    page = _write_reports(evaluation, outcome, out)
    if json:
        print_json({"evaluation": evaluation.to_dict(), "gates": outcome.to_dict()})
    else:
        if evaluation.reused:
            console.print(
                f"reused evaluation {evaluation.id}: the same version, suite and snapshots, "
                "compared with the same champion, younger than gates.reuse_evaluation "
                "(set it to off to evaluate every time)",
                markup=False,
            )
        _show_cost_only(evaluation)
        print_table(
            ["gate", "snapshot", "value", "threshold", "verdict", "detail"],
            (
                [
                    c["gate"],
                    c["snapshot"] or "(model)",
                    c["value"],
                    c["threshold"],
                    "pass" if c["passed"] else "FAIL",
                    c["detail"],
                ]
                for c in outcome.checks
            ),
            title=f"gates of {evaluation.model} ({outcome.risk_profile} risk profile)",
        )
        colour = "green" if outcome.blessed else "red"
        against = f"champion {outcome.champion}" if outcome.champion else "no champion"
        console.print(
            f"[bold {colour}]{evaluation.model} {outcome.verdict}[/bold {colour}] "
            f"(compared with {against})"
        )
        for reason in outcome.reasons:
            console.print(f"  - {reason}", markup=False)
        console.print(f"report: {page}")
    if not outcome.blessed:
        raise typer.Exit(4)


def _show_cost_only(evaluation: Evaluation) -> None:
    cost = evaluation.results.get("cost")
    if cost:
        _show_cost(cost, evaluation.results.get("cost_detail") or {})


def approve(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="MODEL/VERSION")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why you approve it.")],
) -> None:
    """Record your approval of a version for promotion (name and reason go to the audit trail)."""
    client = client_of(ctx)
    client.approve(ref, reason=reason)
    console.print(f"approved {ref} as {client.actor}")


@policy_app.command("show")
def show_policy(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model name.")],
    json: JsonOption = False,
) -> None:
    """The policy in force for MODEL (after its risk profile's presets)."""
    policy = client_of(ctx).get_policy(model)
    if policy is None:
        console.print(
            f"{model} has no policy; add policies/{model}.yaml and run `keel policy apply {model}`"
        )
        raise typer.Exit(3)
    if json:
        print_json(policy.to_dict())
        return
    data = policy.to_dict()
    print_table(
        ["field", "value"],
        [
            ["risk profile", data["risk_profile"]],
            ["suites", ", ".join(data["suites"]) or "-"],
            ["gates", "\n".join(data["gates"]["checks"]) or "-"],
            ["promotion", ", ".join(f"{k}={v}" for k, v in data["promotion"].items())],
            ["rollout", ", ".join(f"{k}={v}" for k, v in data["rollout"].items())],
            ["monitoring", ", ".join(f"{k}={v}" for k, v in data["monitoring"].items())],
            ["retraining", ", ".join(f"{k}={v}" for k, v in data["retraining"].items()) or "-"],
            ["inputs", ", ".join(f"{k}={v}" for k, v in data["inputs"].items())],
        ],
        title=f"policy of {model}",
    )


@policy_app.command("apply")
def apply_policy(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model name.")],
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Policy file to read.")] = None,
) -> None:
    """Validate MODEL's policy file (policies/MODEL.yaml or keel.yaml) and put it in force."""
    client = client_of(ctx)
    if file is not None:
        from keel.policy_files import read_policy_file

        if not file.is_file():
            from keel.errors import NotFound

            raise NotFound("file", str(file))
        policy = read_policy_file(file, model if file.name == "keel.yaml" else None)
        client.set_policy(model, policy, source=str(file))
        source: str | None = str(file)
    else:
        source = _apply_file_policy(client, model)
    if source is None:
        console.print(f"no policy found for {model} in policies/{model}.yaml or keel.yaml")
        raise typer.Exit(3)
    stored = client.get_policy(model)
    profile = stored.risk_profile if stored else "?"
    console.print(f"policy of {model} from {source} is in force ({profile} risk profile)")


@policy_app.command("check")
def check_policy(
    file: Annotated[Path, typer.Argument(help="Policy file to validate.")],
    model: Annotated[str | None, typer.Option(help="Model section, for keel.yaml.")] = None,
) -> None:
    """Validate a policy file without applying it."""
    from keel.errors import NotFound
    from keel.policy_files import read_policy_file

    if not file.is_file():
        raise NotFound("file", str(file))
    policy = read_policy_file(file, model)
    console.print(
        f"{file}: valid ({policy.risk_profile} risk profile, {len(policy.gates.checks)} gates)"
    )


evaluations_app = typer.Typer(help="Stored evaluations and their reports.", no_args_is_help=True)


@evaluations_app.command("list")
def list_evaluations(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="MODEL or MODEL/VERSION")],
    json: JsonOption = False,
) -> None:
    """Evaluations of a model or version, newest first, with the gate verdict if gated."""
    from keel.cli.output import when
    from keel.domain.names import parse_model_ref

    parsed = parse_model_ref(ref)
    found = client_of(ctx).list_evaluations(parsed.name, parsed.version)
    if json:
        print_json(found)
        return
    print_table(
        ["id", "version", "suite", "status", "gate", "snapshots", "by", "at"],
        (
            [
                e.id,
                e.version,
                e.suite,
                e.status,
                e.verdict or "-",
                ", ".join(s["ref"] for s in e.snapshots),
                e.author,
                when(e.created_at),
            ]
            for e in found
        ),
        title=f"evaluations of {ref}",
    )


@evaluations_app.command("report")
def report(
    ctx: typer.Context,
    evaluation_id: Annotated[int, id_argument("Id from `keel evaluations list`.")],
    out: OutOption = Path(".keel/reports"),
) -> None:
    """Write the JSON and HTML reports of a stored evaluation again, from the store alone."""
    evaluation, outcome = client_of(ctx).get_evaluation(evaluation_id)
    page = _write_reports(evaluation, outcome, out)
    console.print(f"report: {page}")
