"""The registry demo: data in, two trained versions, a promotion with a reason, full lineage.

It uses the embedded default store (``.keel/``), so everything it records can be explored later
with ``keel models list``, ``keel history cancer-risk`` or ``keel lineage cancer-risk@champion``.
"""

from __future__ import annotations

import sys
import time

from rich.console import Console

from keel.client import Client
from keel.errors import GateFailed
from keel.settings import Settings

MODEL = "cancer-risk"
POLICY = {
    "risk_profile": "medium",
    "suites": {
        "release": {
            "snapshots": [f"{MODEL}-holdout"],
            "target": "target",
            "slices": {"large-tumours": {"mean radius": {"ge": 15}}},
            "resamples": 1000,
        }
    },
    "gates": {
        "checks": [
            "accuracy >= 0.9",
            "accuracy beats baseline majority",
            "roc_auc not worse than champion by more than 0.005 at 95% confidence",
            "slice large-tumours: recall >= 0.5",
            "latency_p99_ms <= 50",
        ]
    },
    "monitoring": {
        "reference": f"{MODEL}-holdout",
        "target": "target",
        "window": {"rows": 150},
        "cooldown": "4h",
        "alerts": [
            "drifted_features >= 3",
            "accuracy < 0.9 over the last 100 labelled predictions",
            "estimated_accuracy < 0.9",
        ],
    },
}


def run_demo(settings: Settings | None = None) -> None:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    started = time.perf_counter()
    client = Client(settings=settings or Settings.load())
    console.print(
        f"[bold]Keel demo[/bold]  store {client.db.safe_url}  artifacts {client.artifacts.url}"
    )

    features, target = load_breast_cancer(return_X_y=True, as_frame=True)
    frame = features.assign(target=target)
    train, holdout = train_test_split(
        frame, test_size=0.3, random_state=7, stratify=frame["target"]
    )
    train_snap = client.register_snapshot(train, f"{MODEL}-train", description="70% split, seed 7")
    holdout_snap = client.register_snapshot(holdout, f"{MODEL}-holdout", description="30% split")
    console.print(
        f"1. registered data  {train_snap.ref} ({train_snap.rows} rows)  "
        f"{holdout_snap.ref} ({holdout_snap.rows} rows)"
    )

    x_train, y_train = train.drop(columns=["target"]), train["target"]
    x_hold, y_hold = holdout.drop(columns=["target"]), holdout["target"]

    def score(model: object, columns: list[str]) -> dict[str, float]:
        proba = model.predict_proba(x_hold[columns])[:, 1]  # type: ignore[attr-defined]
        return {
            "accuracy": float(accuracy_score(y_hold, proba >= 0.5)),
            "roc_auc": float(roc_auc_score(y_hold, proba)),
        }

    quick = ["mean radius", "mean texture", "mean smoothness"]
    with client.start_run("train-baseline", params={"model": "logistic", "features": 3}) as run:
        run.log_input(holdout_snap, "evaluation")
        baseline = LogisticRegression(max_iter=2000).fit(x_train[quick], y_train)
        baseline_metrics = score(baseline, quick)
        run.log_metrics(baseline_metrics)
        first = client.register_model(
            MODEL,
            baseline,
            training_data=train_snap,
            metrics=baseline_metrics,
            tags={"family": "linear"},
            description="baseline on three features",
        )
    console.print(f"2. trained and registered {first.ref}  {_fmt(baseline_metrics)}")
    current = {m.name: m.aliases for m in client.list_models()}.get(MODEL, {}).get("champion")
    if current is None:
        client.set_alias(MODEL, "champion", first.version, reason="first release of the model")
        console.print(f"3. {MODEL}@champion -> {first.ref}")
    else:  # a store that has run the demo before keeps its gated champion
        console.print(f"3. {MODEL}@champion stays {MODEL}/{current} (from an earlier run)")

    every = list(x_train.columns)
    with client.start_run("train-scaled-logistic", params={"model": "logistic", "C": 0.1}) as run:
        run.log_input(holdout_snap, "evaluation")
        challenger = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
        for step, fraction in enumerate((0.25, 0.5, 1.0)):
            rows = max(40, int(len(x_train) * fraction))
            challenger.fit(x_train.iloc[:rows], y_train.iloc[:rows])
            run.log_metrics(score(challenger, every), step=step)
        challenger_metrics = score(challenger, every)
        second = client.register_model(
            MODEL,
            challenger,
            training_data=train_snap,
            target="target",
            metrics=challenger_metrics,
            tags={"family": "linear"},
            parent=first.version,
            description="scaled logistic regression on all 30 features",
        )
    console.print(f"4. trained a challenger {second.ref}  {_fmt(challenger_metrics)}")
    client.set_alias(MODEL, "challenger", second.version, reason="candidate for promotion")

    client.set_policy(MODEL, POLICY, source="keel demo")
    console.print(
        "5. policy in force: medium risk profile; champion moves need a blessed gate result"
    )
    try:
        client.set_alias(MODEL, "champion", second.version, reason="looks better")
    except GateFailed as refused:
        console.print(f"   refused as expected: {refused.message}")
    evaluation, outcome = client.gate(second.ref)
    for check in outcome.checks:
        mark = "pass" if check["passed"] else "FAIL"
        value = check["value"]
        shown = f"{value:.4f}" if isinstance(value, float) else "-"
        console.print(f"   {mark:4}  {check['gate']:<72} {shown:>8}  {check['detail']}")
    console.print(f"   gate verdict for {second.ref}: {outcome.verdict}")
    if outcome.blessed:
        comparison = evaluation.snapshot()["comparison"]["differences"]["roc_auc"]
        client.set_alias(
            MODEL,
            "champion",
            second.version,
            reason=f"blessed; holdout ROC AUC {comparison['difference']:+.4f} against "
            f"{first.ref} (95% CI {comparison['ci95'][0]:+.4f} to {comparison['ci95'][1]:+.4f})",
        )
        client.delete_alias(MODEL, "challenger", reason="promoted to champion")
        console.print(f"   promoted {second.ref} to champion")
    loaded = client.load_model(f"models:/{MODEL}@champion")
    agreement = float((loaded.predict(x_hold) == y_hold).mean())
    console.print(
        f"6. champion is {loaded.version.ref}; loaded back by alias, "
        f"holdout accuracy {agreement:.4f}"
    )

    console.print("7. in production: eight hours of traffic, logged and monitored")
    from keel.demo.monitoring_act import monitor_production

    page = monitor_production(client, console, MODEL, holdout, "target")
    console.print(
        "   the size measurements drifted from hour 5 and the drift alert fired; realized and\n"
        "   estimated accuracy held, so no retraining is called for yet"
    )
    console.print(f"   monitoring report written to {page}  (keel monitor report {MODEL})")

    from keel.cli.app import main as cli

    console.print("\n[bold]Lineage of the champion[/bold]  (keel lineage cancer-risk@champion)")
    args = ["--store", client.settings.store_url, "--artifacts", client.settings.artifacts]
    cli([*args, "lineage", f"{MODEL}@champion"])
    console.print("\n[bold]Who was champion when[/bold]  (keel history cancer-risk)")
    cli([*args, "history", MODEL])
    result = client.verify_audit()
    console.print(
        f"\naudit chain {'intact' if result.intact else 'BROKEN'}: {result.checked} entries "
        f"verified.  Done in {time.perf_counter() - started:.1f} s."
    )
    client.close()


def _fmt(metrics: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())
