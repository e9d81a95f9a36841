"""The stages of the loop, each a function of a ``Loop`` (``tests.conformance.world``) that
checks what it did and returns what later stages need; ``Loop.stage`` runs each once.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from keel.errors import ArtifactCorrupted
from keel.registry.clock import utcnow
from keel.rollout.results import RolloutStep
from tests.conformance.http import (
    BATCH_ROWS,
    Sent,
    post,
    post_many,
    records_of,
    wait_logged,
    wait_serving,
)
from tests.conformance.world import Loop

#: labels equal, probabilities within this of the native object's
PROBABILITY_TOLERANCE = 1e-9
#: the value a client sends for a category the model never saw
UNSEEN = "never-seen-in-training"
#: every table's gate: a model that ranks better than chance on the held-out rows (on the bank
#: table's later rows the small models rank at 0.56-0.62, which a gate must not call chance)
GATE = "roc_auc > 0.5"


def policy(loop: Loop) -> dict[str, Any]:
    table = loop.table
    rules: dict[str, Any] = {
        "risk_profile": "low",
        "suites": {
            "holdout": {
                "snapshots": [f"{table.name}-holdout"],
                "target": table.target,
                "resamples": 0,
                "measure_cost": False,
            }
        },
        "gates": {"suite": "holdout", "checks": [GATE]},
        "promotion": {"require_blessing": True},
        "rollout": {
            "strategy": "canary",
            "steps": [50, 100],
            "interval": "1s",
            "auto_rollback": True,
            "min_rows_per_step": 40,
            "min_labelled_rows": 30,
            # the candidate is the same kind of model as the stable one; a shared 2-core machine
            # can jitter one variant's p99 by several times
            "max_latency_p99_ratio": 20.0,
            # the analysis compares labelled accuracy, but this suite checks the way to a
            # promotion, not the retrained model's quality: on a few dozen rows of the bank's
            # crisis months a retrain can trail its champion by 20 points, which the rollout
            # tests' rollbacks cover; only a collapse rolls back here
            "max_accuracy_drop": 0.5,
        },
        "monitoring": {"target": table.target, "window": {"rows": BATCH_ROWS + 3}},
        "retraining": {"training": {"recent_rows": 2000, "holdout": 0.25}, "max_attempts": 1},
        "inputs": {"out_of_range": "flag", "unseen_category": "flag"},
    }
    if loop.case.trainer:
        rules["retraining"]["trainer"] = loop.case.trainer
    return rules


def native_answers(loop: Loop, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    native = loop.stage("register", register)["native"]
    typed = loop.table.typed(rows)
    if loop.case.categories_as_labels:
        for column in loop.table.categorical:
            typed[column] = rows[column].astype(str).to_numpy()
    return np.asarray(native.predict(typed)).ravel(), np.asarray(native.predict_proba(typed))


# -- stages ---------------------------------------------------------------------------------
def register(loop: Loop) -> dict[str, Any]:
    """Register the trained object (a case that converts registers its source, then converts it
    with ``keel models convert``): the flavour detected, the native class loaded, the signature
    with each category's training categories in order and each number's training range."""
    table, case = loop.table, loop.case
    trained = case.train(table)
    with loop.world.client() as client:
        version = client.register_model(
            loop.model,
            trained.model,
            training_data=table.train,
            target=table.target,
            trust=case.trust,
            description=f"conformance: {case.name} on {table.name}",
        )
    source = trained.source
    if case.convert is not None:
        source = trained.model
        converted = loop.world.cli_json(
            "models",
            "convert",
            version.ref,
            "--to",
            case.convert,
            "--tolerance",
            str(case.source_tolerance),
        )
        with loop.world.client() as client:
            version = client.get_version(f"{loop.model}/{converted['version']['version']}")
        assert version.parent_version == 1 and version.tags["converted_from"] == f"{loop.model}/1"
        loop.note(
            f"keel models convert: max abs difference of probabilities "
            f"{version.metrics['conversion_max_abs_diff']:.3g} on "
            f"{version.metrics['conversion_rows']:.0f} training rows"
        )
    with loop.world.client() as client:
        loaded = client.load_model(version.ref)
    assert version.flavour == case.flavour, version.format
    if case.trust is None:  # kept in a format Keel reads without anyone trusting code or types
        assert version.trust is None, version.trust
    assert type(loaded.model).__name__ == case.native_class
    assert version.training_snapshot is not None
    assert version.signature is not None
    specs = {spec.name: spec for spec in version.signature.inputs}
    assert list(specs) == table.features
    for column in table.categorical:
        assert specs[column].type == "category", specs[column]
        assert specs[column].categories == tuple(table.categories(column)), column
    for column in table.numeric:
        assert specs[column].type in ("int", "float"), specs[column]
        assert specs[column].minimum == table.train[column].min()
        assert specs[column].maximum == table.train[column].max()
    native = loaded.model if case.convert is not None else trained.model
    return {"version": version, "native": native, "source": source}


def hash_checked(loop: Loop, tmp_path: Any) -> None:
    """Every load verifies the artifact's hash: a copy of this version whose stored bytes
    changed is refused (in a store of its own, so the world's store stays intact)."""
    from keel.client import Client
    from keel.settings import Settings

    native = loop.stage("register", register)["native"]
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'keel.db'}",
        artifacts=str(tmp_path / "artifacts"),
        actor="conformance",
    )
    with Client(settings=settings) as client:
        version = client.register_model(
            loop.model,
            native,
            training_data=loop.table.train.head(200),
            target=loop.table.target,
            trust=loop.case.trust,
        )
        client.load_model(version.ref)  # intact: loads
        path = client.artifacts.location(version.artifact_sha256)
        with open(path, "r+b") as stored:
            data = bytearray(stored.read())
            data[len(data) // 2] ^= 0xFF
            stored.seek(0)
            stored.write(data)
        with pytest.raises(ArtifactCorrupted):
            client.load_model(version.ref)


def predictions(loop: Loop) -> None:
    """``load_model(...).predict`` equals the native object on the same rows, whether given the
    typed holdout or plain rows (categories as text), in and out of the training range."""
    table = loop.table
    registered = loop.stage("register", register)
    with loop.world.client() as client:
        loaded = client.load_model(f"{loop.model}/{loop.version}")
    later = table.production
    unseen_rows = {r for r, _, code in table.expected_warnings(later) if code == "unseen_category"}
    seen = np.array([i not in unseen_rows for i in range(len(later))])
    for rows, given in (
        (table.holdout, table.holdout[table.features]),  # typed, as trained
        (table.holdout, records_frame(table, table.holdout)),  # plain values, categories as text
        (later[seen], records_frame(table, later[seen])),  # later rows: many out of range
    ):
        labels, proba = native_answers(loop, rows)
        np.testing.assert_array_equal(loaded.predict(given), labels)
        np.testing.assert_allclose(
            loaded.predict_proba(given), proba, rtol=0, atol=PROBABILITY_TOLERANCE
        )
    source = registered["source"]
    if source is not None:
        typed = table.typed(table.holdout)
        distance = float(
            np.abs(
                np.asarray(source.predict_proba(typed)) - native_answers(loop, table.holdout)[1]
            ).max()
        )
        loop.note(f"max |P(native) - P(source)| on the holdout = {distance:.3g}")
        assert loop.case.source_tolerance is not None
        assert distance <= loop.case.source_tolerance, distance


def records_frame(table: Any, rows: pd.DataFrame) -> pd.DataFrame:
    """``rows``' features as a client has them: plain values, categories as text."""
    return pd.DataFrame(records_of(table, rows), columns=table.features)


def gate(loop: Loop) -> dict[str, Any]:
    """``keel evaluate`` and ``keel gate`` on the held-out rows: blessed, and measuring what the
    native object's predictions score."""
    from sklearn.metrics import accuracy_score, roc_auc_score

    loop.stage("register", register)
    world, table = loop.world, loop.table
    with world.client() as client:
        if not client.list_snapshots(f"{table.name}-holdout"):
            client.register_snapshot(table.holdout, f"{table.name}-holdout")
        client.set_policy(loop.model, policy(loop))
    out = world.folder / "reports" / loop.model
    ref = f"{loop.model}/{loop.version}"
    evaluation = world.cli_json("evaluate", ref, "--out", str(out))
    gated = world.cli_json("gate", ref, "--out", str(out))
    labels, proba = native_answers(loop, table.holdout)
    truth = table.holdout[table.target].to_numpy()
    for result in (evaluation, gated):
        metrics = _metrics(result)
        assert metrics["accuracy"] == pytest.approx(accuracy_score(truth, labels), abs=1e-12)
        assert metrics["roc_auc"] == pytest.approx(roc_auc_score(truth, proba[:, 1]), abs=1e-9)
    assert _verdict(gated) == "blessed", gated
    loop.note(
        "gate on the held-out rows: "
        + "; ".join(f"{c['gate']} -> {c['value']:.3f}" for c in gated["gates"]["checks"])
    )
    return gated


def _metrics(result: dict[str, Any]) -> dict[str, float]:
    """The metrics of an evaluation's (first) snapshot, from ``keel evaluate``'s JSON or the
    ``evaluation`` part of ``keel gate``'s."""
    evaluation = result.get("evaluation", result)
    assert evaluation["status"] == "finished", evaluation
    return dict(evaluation["snapshots"][0]["metrics"])


def _verdict(result: dict[str, Any]) -> str:
    return str(result["gates"]["verdict"])


def deploy(loop: Loop) -> None:
    loop.stage("gate", gate)
    deployed = loop.world.cli_json(
        "deploy",
        loop.model,
        "--version",
        str(loop.version),
        "--strategy",
        "replace",
        "--reason",
        "conformance",
    )
    assert deployed["status"] == "completed", deployed
    with loop.world.client() as client:
        assert client.get_version(f"{loop.model}@champion").version == loop.version


def serve(loop: Loop) -> list[Sent]:
    """Over HTTP: one row, a 500-row batch of later rows (categories as text, many numbers out
    of the training range, some categories never seen), an out-of-range number and an unseen
    category: every row answered, flagged rows with warnings, and each answer on a row without
    an unseen category equal to the native object's."""
    loop.stage("deploy", deploy)
    world, table = loop.world, loop.table
    wait_serving(world.server(), loop.model, loop.version)
    sent: list[Sent] = []
    holdout = table.holdout

    # one row, in range
    one = post(world, loop.model, records_of(table, holdout.iloc[[0]])[0])
    sent += _check_answers(loop, one, holdout.iloc[[0]], expected=set())

    # a batch of later rows, as clients send them
    batch_rows = table.production.iloc[:BATCH_ROWS]
    expected = table.expected_warnings(batch_rows)
    assert expected, "the later rows should hold values the model never saw"
    batch = post(world, loop.model, {"records": records_of(table, batch_rows)})
    sent += _check_answers(loop, batch, batch_rows, expected=expected)

    # one number beyond the training range, one category never seen
    number = table.numeric[0]
    beyond = holdout.iloc[[1]].assign(**{number: table.train[number].max() + 10})
    answer = post(world, loop.model, records_of(table, beyond)[0])
    sent += _check_answers(loop, answer, beyond, expected={(0, number, "out_of_range")})
    category = table.categorical[0]
    unseen = holdout.iloc[[2]].astype({category: object}).assign(**{category: UNSEEN})
    answer = post(world, loop.model, records_of(table, unseen)[0])
    sent += _check_answers(loop, answer, unseen, expected={(0, category, "unseen_category")})
    assert len(sent) == BATCH_ROWS + 3
    return sent


def _check_answers(
    loop: Loop, answer: Any, rows: pd.DataFrame, *, expected: set[tuple[int, str, str]]
) -> list[Sent]:
    assert answer.status_code == 200, f"{answer.status_code}: {answer.text[:2000]}"
    body = answer.json()
    assert body["version"] == loop.version and body["model"] == loop.model
    many = "predictions" in body
    answered = body["predictions"] if many else [body["prediction"]]
    scores = body["scores"] if many else [body["score"]]
    ids = body["row_ids"] if many else [body["request_id"]]
    warnings = body.get("warnings") if many else [body.get("warnings")]
    assert body.get("rejected") is None, body.get("rejected")
    assert len(answered) == len(rows)
    found = {
        (position, w["field"], w["code"])
        for position, row in enumerate(warnings or [None] * len(rows))
        for w in row or []
    }
    assert found == expected, sorted(found ^ expected)[:20]
    unseen = {position for position, _, code in expected if code == "unseen_category"}
    labels, proba = native_answers(loop, rows)
    comparable = np.array([i not in unseen for i in range(len(rows))])
    assert set(answered) <= {0, 1}, set(answered)
    assert all(0.0 <= s <= 1.0 for s in scores)
    np.testing.assert_array_equal(np.asarray(answered)[comparable], labels[comparable])
    np.testing.assert_allclose(
        np.asarray(scores)[comparable], proba[comparable, 1], rtol=0, atol=PROBABILITY_TOLERANCE
    )
    truth = rows[loop.table.target].to_numpy()
    return [
        Sent(
            row_id=ids[i],
            record=records_of(loop.table, rows.iloc[[i]])[0],
            truth=int(truth[i]),
            prediction=answered[i],
            score=scores[i],
            flagged=sorted({w["field"] for w in (warnings or [None] * len(rows))[i] or []}),
        )
        for i in range(len(rows))
    ]


def prediction_log(loop: Loop) -> None:
    """The served rows in the prediction log, read by pandas and by DuckDB, given back the
    signature's types: equal to what was sent, with the answers and the flagged fields."""
    import duckdb

    from keel.registry.frames import restore_types

    sent = loop.stage("serve", serve)
    world, table = loop.world, loop.table
    folder = wait_logged(world, loop.model, len(sent))
    with loop.world.client() as client:
        signature = client.get_version(f"{loop.model}/{loop.version}").signature
    assert signature is not None
    by_pandas = pd.read_parquet(folder)
    by_duckdb = duckdb.sql(  # type: ignore[union-attr]
        f"SELECT * FROM read_parquet('{folder}/*/*.parquet', hive_partitioning = true)"
    ).df()
    sent_frame = pd.DataFrame([s.record for s in sent], columns=table.features)
    expected = table.typed(sent_frame).set_axis([s.row_id for s in sent])
    for reader, logged in (("pandas", by_pandas), ("duckdb", by_duckdb)):
        logged = logged.set_index("request_id").loc[[s.row_id for s in sent]]
        for column in table.categorical:  # kept as text, whatever was sent
            assert logged[column].astype(str).tolist() == sent_frame[column].astype(str).tolist()
        typed = restore_types(signature, logged[table.features])
        for column in table.features:
            assert typed[column].dtype == table.train[column].dtype, (reader, column)
        pd.testing.assert_frame_equal(typed, expected, check_names=False, obj=reader)
        assert logged["prediction"].tolist() == [s.prediction for s in sent], reader
        np.testing.assert_allclose(logged["score"], [s.score for s in sent], rtol=0, atol=0)
        flagged = [
            sorted({w["field"] for w in json.loads(text)}) if isinstance(text, str) else []
            for text in logged["warnings"]
        ]
        assert flagged == [s.flagged for s in sent], reader
        assert set(logged["status"]) == {"ok"}, reader


def monitor(loop: Loop) -> dict[str, Any]:
    """Labels for every served row, then ``keel monitor run``: one window of the served rows with
    drift per feature, the CBPE estimate and the accuracy the labels give."""
    sent = loop.stage("serve", serve)
    loop.stage("log", prediction_log)
    world = loop.world
    labels = world.folder / f"{loop.model}-labels.csv"
    pd.DataFrame({"request_id": [s.row_id for s in sent], "label": [s.truth for s in sent]}).to_csv(
        labels, index=False
    )
    imported = world.cli_json("labels", "import", str(labels), "--model", loop.model)
    assert imported["matched"] == len(sent), imported
    ran = world.cli_json("monitor", "run", loop.model)
    assert ran["new_rows"] == len(sent), ran
    assert len(ran["windows"]) == 1, ran
    [window] = world.cli_json("monitor", "windows", loop.model)
    table = loop.table
    assert (window["rows"], window["labelled_rows"]) == (len(sent), len(sent)), window
    # drift: a test per feature, and the table's known shift found
    assert {f["feature"] for f in window["drift"]["features"]} == set(table.features)
    drifted = window["drift"]["drifted"]
    loop.note(f"drifted: {', '.join(drifted)}")
    assert set(table.shifted) <= set(drifted), drifted
    # the label-free estimate, and the accuracy the labels give
    assert window["estimate"]["method"] == "cbpe", window["estimate"]
    assert 0.0 <= window["estimate"]["metrics"]["accuracy"] <= 1.0
    accuracy = float(np.mean([s.prediction == s.truth for s in sent]))
    assert window["performance"]["accuracy"] == pytest.approx(accuracy, abs=1e-12)
    # the flagged values, counted per feature as data-quality issues
    served = pd.DataFrame([s.record for s in sent])
    flagged = Counter((field, code) for _, field, code in table.expected_warnings(served))
    counted = {
        (issue["column"], issue["code"]): issue["rows"]
        for issue in window["quality"]["issues"]
        if issue["code"] in ("out_of_range", "unseen_category")
    }
    assert counted == dict(flagged), (counted, flagged)
    return {"run": ran, "window": window}


def retrain(loop: Loop) -> dict[str, Any]:
    """``keel retrain`` with the default pipeline: a candidate of the same flavour fitted on the
    labelled rows, gated on the newest of them, and rolled out as a canary."""
    loop.stage("monitor", monitor)
    world = loop.world
    decisions = world.cli_json("retrain", loop.model, "--reason", "conformance: later rows")
    actions = [d["action"] for d in decisions]
    assert "blessed" in actions and "deploy" in actions, decisions
    with world.client() as client:
        [attempt] = client.retrains(loop.model)
        assert attempt.state == "rolling_out", attempt
        candidate = client.get_version(f"{loop.model}/{attempt.candidate_version}")
        assert candidate.flavour == loop.case.flavour
        assert candidate.parent_version == loop.version
        if loop.case.convert is not None:  # refit through its source, which it still names
            champion = client.get_version(f"{loop.model}/{loop.version}")
            assert candidate.tags["converted_from"] == champion.tags["converted_from"]
        [running, *_] = client.deployments(loop.model)
        assert (running.status, running.strategy) == ("running", "canary")
        assert running.candidate_version == candidate.version
        loaded = client.load_model(candidate.ref)
        [gated] = client.gate_history(candidate.ref)
    assert type(loaded.model).__name__ == loop.case.native_class
    loop.note(
        "retrain gate on the newest labelled rows: "
        + "; ".join(f"{c['gate']} -> {c['value']:.3f}" for c in gated.checks)
    )
    return {"version": candidate.version, "retrain": attempt.id}


def canary(loop: Loop) -> None:
    """Traffic through the real server moves the canary a step, then promotes the candidate; the
    autopilot closes the retrain as promoted."""
    retrained = loop.stage("retrain", retrain)
    world, table = loop.world, loop.table
    server = world.server()
    version = retrained["version"]
    wait_serving(server, loop.model, version)
    # later rows the serve stage did not send; the canary compares the versions on rows both
    # know (the serve stage sends the unseen categories)
    later = table.production.iloc[BATCH_ROWS:]
    unseen = {r for r, _, code in table.expected_warnings(later) if code == "unseen_category"}
    rows = later.iloc[[i for i in range(len(later)) if i not in unseen]]
    traffic = Traffic(loop, rows)
    step = traffic.until_decided()
    assert step.action == "step", step
    server.wait(lambda: set(traffic.send(8)) == {version}, what="all traffic on the candidate")
    done = traffic.until_decided()
    assert done.action == "promote", done
    with world.client() as client:
        assert client.get_version(f"{loop.model}@champion").version == version
    passes = world.cli_json("autopilot", "--once", "--model", loop.model)
    with world.client() as client:
        [attempt] = client.retrains(loop.model)
    assert attempt.state == "promoted", (attempt, passes)


class Traffic:
    """Rows sent a few per request, eight requests at a time (each request goes to one variant),
    and labelled as soon as they are answered."""

    ROWS_PER_REQUEST = 4

    def __init__(self, loop: Loop, rows: pd.DataFrame) -> None:
        self.loop, self.rows, self.next = loop, rows, 0

    def send(self, requests: int) -> list[int]:
        """Send ``requests`` requests; the version that answered each."""
        table, world, model = self.loop.table, self.loop.world, self.loop.model
        frames = []
        for _ in range(requests):
            positions = [(self.next + i) % len(self.rows) for i in range(self.ROWS_PER_REQUEST)]
            self.next += self.ROWS_PER_REQUEST
            frames.append(self.rows.iloc[positions])
        answers = post_many(world, model, [{"records": records_of(table, f)} for f in frames])
        with world.client() as client:
            client.log_labels(
                model,
                [row_id for answer in answers for row_id in answer["row_ids"]],
                np.concatenate([f[table.target].to_numpy() for f in frames]),
            )
        return [answer["version"] for answer in answers]

    def until_decided(self) -> RolloutStep:
        """Advance once every answered request is logged (a step's interval is 1 s; the
        controller is asked as if it had passed); while it waits for rows, send more."""
        world, model = self.loop.world, self.loop.model
        for _ in range(6):
            self.send(30)
            wait_logged(world, model, None)
            with world.client() as client:
                decision = client.advance_rollout(model, now=utcnow() + timedelta(seconds=2))
            if decision.action != "wait":
                break
        return decision
