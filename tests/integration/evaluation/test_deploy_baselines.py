"""A deployment records how the version compares with the naive baselines its evaluation scored,
under every profile, and says so (SDK result, CLI warning) when the model does not beat them."""

from __future__ import annotations

import json

import typer
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from keel.cli import rollout as rollout_cli
from keel.cli.context import Faces
from keel.client import Client

from .conftest import HOLDOUT_SUITE, Cancer

POLICY = {"risk_profile": "low", "suites": {"holdout": HOLDOUT_SUITE}}


def test_a_deployment_records_the_comparison_and_says_when_the_model_loses(
    registered: Client, cancer: Cancer
) -> None:
    registered.set_policy("cancer", POLICY)
    registered.evaluate("cancer/2")
    made = registered.deploy("cancer", 2, strategy="replace", reason="weak but useful")
    assert made.baselines is not None and made.baselines["beats"] is True
    row = next(r for r in made.baselines["rows"] if r["baseline"] == "majority")
    share = float(cancer.holdout["target"].mean())
    assert row["value"] == max(share, 1 - share)
    assert row["margin"] == row["model"] - row["value"] > 0
    entry = registered.audit_log(action="deployment.start", limit=1)[0]
    assert entry.details["baselines"] == made.baselines  # kept in the store, not just returned

    # a model trained on flipped labels: "always the most frequent class" beats it easily
    x, y = cancer.train[cancer.features], cancer.train["target"]
    flipped = LogisticRegression(max_iter=5000).fit(x, 1 - y)
    train = registered.get_snapshot("cancer-train")
    registered.register_model("cancer", flipped, training_data=train, target="target")
    registered.evaluate("cancer/3")
    app = typer.Typer()
    app.command("deploy")(rollout_cli.deploy)
    app.command("other")(lambda: None)  # two commands, so "deploy" is named on the line
    faces = Faces(
        store_url=registered.settings.store_url,
        artifacts=registered.settings.artifacts,
        actor="bob",
    )
    try:
        result = CliRunner().invoke(
            app, ["deploy", "cancer", "--version", "3", "--strategy", "replace", "--json"],
            obj=faces,
        )  # fmt: skip
    finally:
        if faces._client is not None:
            faces._client.close()
    assert result.exit_code == 0, result.exception
    assert "warning: v3 does not beat the majority baseline on holdout/1: accuracy" in (
        result.stderr
    )
    assert json.loads(result.stdout)["baselines"]["beats"] is False

    never = registered.deploy("cancer", 1, strategy="replace", reason="back to the first")
    assert never.baselines is not None and never.baselines["beats"] is None
    assert "never evaluated" in never.baselines["summary"]

    # a refit (training.refit) is compared through the evaluation of the version it refits
    registered.register_model(
        "cancer", cancer.weak, training_data=train, target="target", tags={"refit_of": "2"}
    )
    refit = registered.deploy("cancer", 4, strategy="replace", reason="the refit of v2")
    assert refit.baselines is not None and refit.baselines["beats"] is True
    assert refit.baselines["measured_on"] == 2
    assert refit.baselines["summary"].endswith("(as measured on v2, which it refits)")
