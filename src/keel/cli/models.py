"""``keel models ...`` and ``keel versions ...``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from keel.cli.context import JsonOption, ReasonOption, client_of, limit_option, stored_int
from keel.cli.output import console, listed, pairs, print_json, print_table, short, when

models_app = typer.Typer(help="Registered models.", no_args_is_help=True)
versions_app = typer.Typer(help="Versions of a model.", no_args_is_help=True)


@models_app.command("list")
def list_models(ctx: typer.Context, json: JsonOption = False) -> None:
    """Every model with its latest version and aliases."""
    found = client_of(ctx).list_models()
    if json:
        print_json(found)
        return
    print_table(
        ["model", "latest", "aliases", "created"],
        ([m.name, m.latest_version, pairs(m.aliases, 6), when(m.created_at)] for m in found),
        title="models",
    )


@versions_app.command("list")
def list_versions(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model name.")],
    filter: Annotated[
        str,
        typer.Option("--filter", "-f", help="e.g. \"metrics.auc > 0.8 and tags.team = 'risk'\""),
    ] = "",
    status: Annotated[str | None, typer.Option(help="ready or archived.")] = None,
    limit: Annotated[int, limit_option()] = 50,
    json: JsonOption = False,
) -> None:
    """Versions of MODEL, newest first."""
    found = client_of(ctx).list_versions(model, filter=filter, status=status, limit=limit)
    if json:
        print_json(found)
        return
    print_table(
        ["version", "status", "class", "metrics", "training data", "author", "created"],
        (
            [
                v.version,
                v.status,
                v.model_class.rsplit(".", 1)[-1],
                pairs(v.metrics),
                v.training_snapshot,
                v.author,
                when(v.created_at),
            ]
            for v in found
        ),
        title=f"versions of {model}",
    )


@versions_app.command("show")
def show_version(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="MODEL/VERSION, MODEL@ALIAS or models:/...")],
    json: JsonOption = False,
) -> None:
    """Everything recorded about one version."""
    version = client_of(ctx).get_version(ref)
    if json:
        print_json(version)
        return
    code = version.code_version
    commit = f"{short(code.get('commit'))}{' (dirty)' if code.get('dirty') else ''}" or "-"
    rows = [
        ("version", version.ref),
        ("status", version.status),
        ("class", version.model_class),
        ("format", f"{version.format}, {version.size_bytes:,} bytes"),
        ("sha256", version.artifact_sha256),
        ("author", version.author),
        ("created", when(version.created_at)),
        ("training data", version.training_snapshot or "-"),
        ("run", version.run_id or "-"),
        ("parent", f"{version.name}/{version.parent_version}" if version.parent_version else "-"),
        ("code", commit),
        ("python", version.environment.get("python", "-")),
        ("params", pairs(version.params, 8) or "-"),
        ("metrics", pairs(version.metrics, 8) or "-"),
        ("tags", pairs(version.tags, 8) or "-"),
        ("trust", _trust_summary(version.trust)),
    ]
    print_table(["field", "value"], rows, title=version.uri)
    if version.signature is not None:
        print_table(
            ["feature", "kind", "dtype", "range / categories"],
            (
                [
                    f.name,
                    f.kind,
                    f.dtype,
                    f"{f.minimum:.4g} .. {f.maximum:.4g}"
                    if f.minimum is not None and f.maximum is not None
                    else listed(f.categories or (), 6),
                ]
                for f in version.signature.inputs
            ),
            title="signature",
        )


@versions_app.command("archive")
def archive_version(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="MODEL/VERSION")],
    reason: ReasonOption = "",
) -> None:
    """Archive a version: it stays loadable for audits but can no longer take an alias."""
    version = client_of(ctx).archive_version(ref, reason)
    console.print(f"archived {version.ref}")


def _trust_summary(trust: dict[str, Any] | None) -> str:
    if not trust:
        return "default types only"
    what = "code" if trust.get("code") else ", ".join(trust.get("types", []))
    source = f", carried from {trust['inherited_from']}" if trust.get("inherited_from") else ""
    return f"{what} (by {trust.get('by')} at {trust.get('at')}{source})"


TrustTypesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--trust",
        help="An exact type name the file needs beyond the defaults, that you trust (repeatable).",
    ),
]
TrustCodeOption = Annotated[
    bool,
    typer.Option(
        "--trust-code",
        help="Trust a pickled model's code: loading it runs that code (recorded and audited).",
    ),
]


@models_app.command("register")
def register_model(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name.")],
    path: Annotated[str, typer.Argument(help="A .skops file, or a pickle with --trust-code.")],
    training_data: Annotated[
        str | None, typer.Option(help="Snapshot reference (NAME or NAME/VERSION).")
    ] = None,
    target: Annotated[str | None, typer.Option(help="Label column of the snapshot.")] = None,
    description: Annotated[str, typer.Option(help="What this version is.")] = "",
    trust: TrustTypesOption = None,
    trust_code: TrustCodeOption = False,
    json: JsonOption = False,
) -> None:
    """Register the model in PATH as the next version of NAME."""
    from keel.domain.trust import parse_trust
    from keel.registry.model_files import read_model_file

    request = parse_trust("code" if trust_code else list(trust or []), "--trust")
    model, format = read_model_file(path, request)
    version = client_of(ctx, create=True).register_model(
        name,
        model,
        training_data=training_data,
        target=target,
        description=description,
        format=format,
        trust="code" if trust_code else (list(request.types) or None),
    )
    if json:
        print_json(version)
        return
    console.print(
        f"registered {version.ref}: a {version.flavour} model ({version.model_class}), "
        f"saved as {version.format}"
    )


@models_app.command("trust")
def trust_version(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="MODEL/VERSION")],
    types: Annotated[
        list[str] | None,
        typer.Option("--type", help="An exact type name to trust (repeatable)."),
    ] = None,
    code: Annotated[
        bool, typer.Option("--code", help="Trust the code of a pickled version.")
    ] = False,
    reason: ReasonOption = "",
) -> None:
    """Record that you trust what a stored version needs to load; audited, honoured by every
    later load (gates, serving, monitoring, retraining)."""
    record = client_of(ctx).trust_version(ref, types=types, code=code, reason=reason)
    if record is None:
        console.print(f"{ref} needs only the default trusted types; nothing recorded")
        return
    console.print(f"{ref}: trusted {_trust_summary(record.to_dict())}")


@models_app.command("convert")
def convert_model(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="MODEL/VERSION, MODEL@ALIAS or models:/...")],
    to: Annotated[str, typer.Option("--to", help="The format to convert to: onnx.")] = "onnx",
    tolerance: Annotated[
        float,
        typer.Option(
            help="Largest absolute difference of probabilities (regressors: predictions) "
            "allowed on the training snapshot.",
            min=0.0,
        ),
    ] = 1e-4,
    max_rows: Annotated[
        int,
        typer.Option(
            help="Compare on at most this many rows (a fixed sample beyond).",
            callback=stored_int,
        ),
    ] = 10_000,
    json: JsonOption = False,
) -> None:
    """Convert a version to ONNX and register it as the next version of the same model, only if
    it answers like the original on its training snapshot."""
    conversion = client_of(ctx).convert_model(ref, to=to, tolerance=tolerance, max_rows=max_rows)
    if json:
        print_json(conversion)
        return
    agreement = conversion.agreement
    console.print(
        f"converted {conversion.source} to ONNX as {conversion.version.ref} "
        f"({conversion.converter}; parent {conversion.source})",
        markup=False,
    )
    figures = [f"{agreement.rows:,} rows of {conversion.data} compared"]
    if agreement.max_abs_diff is not None:
        figures.append(
            f"max abs difference of {agreement.compared} {agreement.max_abs_diff:.3g} "
            f"(tolerance {conversion.tolerance:g})"
        )
    if agreement.label_agreement is not None:
        figures.append(f"labels agree on {agreement.label_agreement:.2%}")
    console.print("; ".join(figures), markup=False)
    if agreement.speedup is not None:
        console.print(
            f"ONNX predicted them in {agreement.onnx_seconds * 1000:.1f} ms against "
            f"{agreement.original_seconds * 1000:.1f} ms: {agreement.speedup:.1f}x "
            "(one timing)",
            markup=False,
        )
