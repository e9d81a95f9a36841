"""The version page's data: its lineage as a graph (data snapshots, training run, parent,
children, deployments), its evaluations and gates, its signature and how to load it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from keel.domain.metric_specs import shown_in

if TYPE_CHECKING:
    from keel.domain.deployments import Deployment
    from keel.domain.entities import Lineage
    from keel.evaluation.runner import Evaluation
    from keel.services import Services


def version_page(services: Services, name: str, version: int) -> dict[str, Any]:
    found = services.registry.lineage(name, version, max_ancestors=1)
    record = found.version
    deployment_rows = services.rollouts.version_deployments(name, version, limit=50)
    evaluations = [e.to_dict() for e in services.governance.list_evaluations(name, version)]
    latest = services.governance.newest_evaluation(name, version)
    return {
        "name": name,
        "version": record.to_dict(),
        "run": found.run.to_dict() if found.run is not None else None,
        "snapshots": found.snapshots,
        "parents": [p.version for p in found.parents],
        "children": found.children,
        "alias_periods": [p.to_dict() for p in found.alias_periods],
        "gates": [g.to_dict() for g in found.gates],
        "approvals": [a.to_dict() for a in found.approvals],
        "evaluations": evaluations,
        "evaluation_summary": evaluation_summary(latest),
        "deployments": [
            {
                "id": row.id,
                "strategy": row.strategy,
                "role": "candidate" if row.candidate_version == version else "stable",
                "status": row.status,
                "reason": row.reason,
                "created_at": row.created_at,
                "ended_at": row.finished_at,
            }
            for row in deployment_rows
        ],
        "graph": lineage_graph(found, deployment_rows),
        "load": how_to_load(name, version),
    }


def lineage_graph(
    found: Lineage, deployment_rows: Sequence[Deployment]
) -> dict[str, list[dict[str, Any]]]:
    """Nodes in columns, left to right: data -> run -> this version (its parent above it) ->
    deployments and children; edges name how two nodes relate."""
    record = found.version
    me = f"v{record.version}"
    nodes: list[dict[str, Any]] = [
        {"id": me, "label": f"{record.name}/{record.version}", "kind": "version", "column": 2}
    ]
    edges: list[dict[str, Any]] = []
    for snapshot in found.snapshots:
        node = f"data:{snapshot['ref']}:{snapshot['role']}"
        label = f"{snapshot['ref']} ({snapshot['role']}, {snapshot['rows']:,} rows)"
        nodes.append({"id": node, "label": label, "kind": "data", "column": 0})
        edges.append(
            {
                "from": node,
                "to": f"run:{found.run.id}" if found.run else me,
                "label": snapshot["role"],
            }
        )
    if found.run is not None:
        node = f"run:{found.run.id}"
        nodes.append(
            {
                "id": node,
                "label": f"run {found.run.name} ({found.run.status})",
                "kind": "run",
                "column": 1,
            }
        )
        edges.append({"from": node, "to": me, "label": "trained"})
    if found.parents:  # drawn above the version, in its column
        parent = found.parents[0]
        node = f"v{parent.version}"
        label = f"parent {parent.name}/{parent.version}"
        nodes.insert(
            0,
            {
                "id": node,
                "label": label,
                "kind": "parent",
                "column": 2,
                "href": f"versions/{parent.version}",
            },
        )
        edges.append({"from": node, "to": me, "label": "parent of"})
    for child in found.children[:20]:
        node = f"v{child}"
        nodes.append(
            {
                "id": node,
                "label": f"{record.name}/{child}",
                "kind": "child",
                "column": 3,
                "href": f"versions/{child}",
            }
        )
        edges.append({"from": me, "to": node, "label": "parent of"})
    for row in deployment_rows[:20]:
        node = f"deployment:{row.id}"
        role = "candidate" if row.candidate_version == record.version else "stable"
        nodes.append(
            {
                "id": node,
                "label": f"deployment #{row.id} {row.strategy}: {row.status}",
                "kind": "deployment",
                "column": 3,
            }
        )
        edges.append({"from": me, "to": node, "label": role})
    return {"nodes": nodes, "edges": edges}


def how_to_load(name: str, version: int) -> dict[str, str]:
    return {
        "python": (
            "import keel\n"
            f'model = keel.Client().load_model("models:/{name}/{version}")\n'
            "model.predict(frame)  # checks the input against the signature"
        ),
        "cli": f'keel lineage {name}/{version}\nkeel deploy {name} {version} --reason "..."',
        "http": (
            f"curl -X POST http://HOST:PORT/v1/models/{name}/predict \\\n"
            "  -H 'Content-Type: application/json' -d '{\"records\": [{...}]}'"
        ),
    }


#: the metrics a version page shows from its newest evaluation (the full report has them all)
SUMMARY_METRICS = tuple(spec.name for spec in shown_in("version_summary"))


def evaluation_summary(evaluation: Evaluation | None) -> list[dict[str, Any]]:
    """Per evaluated snapshot: this version's headline metrics beside the champion's and the
    naive baselines' on the same rows."""
    if evaluation is None or evaluation.status != "finished":
        return []
    out = []
    for snap in (evaluation.results or {}).get("snapshots", []):
        mine = snap.get("metrics") or {}
        champion = (snap.get("comparison") or {}).get("champion_metrics") or {}
        baselines = snap.get("baselines") or {}
        rows = []
        for metric in SUMMARY_METRICS:
            if metric not in mine:
                continue
            rows.append(
                {
                    "metric": metric,
                    "version": mine.get(metric),
                    "champion": champion.get(metric),
                    "baselines": {b: m.get(metric) for b, m in baselines.items()},
                }
            )
        out.append(
            {
                "ref": snap.get("ref"),
                "rows": snap.get("rows"),
                "metrics": rows,
                "baselines": sorted(baselines),
            }
        )
    return out
