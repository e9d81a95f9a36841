"""A monitor run that makes several windows judges each of them in order, so the alerts it
raises and resolves are the ones one run per window would have."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from keel.client import Client
from keel.domain.entities import ModelVersion
from keel.settings import Settings
from tests.integration.monitoring.test_monitor_run import log, production

POLICY: dict[str, Any] = {
    "monitoring": {
        "window": {"rows": 100},
        "alerts": ["drifted_features >= 3"],
        "cooldown": "1h",
    }
}
START = datetime(2026, 11, 5, tzinfo=UTC)
#: five windows: calm, shifted, shifted, calm, calm (the newest is calm)
SHIFTS = [0.0, 0.6, 0.6, 0.0, 0.0]


def _chunks(cancer_frame: pd.DataFrame) -> list[pd.DataFrame]:
    return [
        production(cancer_frame, 100, seed=10 + i, shift=shift)[0] for i, shift in enumerate(SHIFTS)
    ]


def _trail(client: Client) -> list[tuple[str, str]]:
    return [
        (e.action, e.details.get("rule", ""))
        for e in reversed(client.audit_log(limit=100))
        if e.action.startswith("alert.")
    ]


def test_one_run_over_five_windows_raises_what_five_runs_would(
    client: Client,
    cancer_version: ModelVersion,
    cancer_frame: pd.DataFrame,
    fitted_model: Any,
    tmp_path: Path,
) -> None:
    chunks = _chunks(cancer_frame)
    for index, chunk in enumerate(chunks):
        log(client, fitted_model, chunk, START + timedelta(minutes=10 * index))
    together = client.monitor("cancer", policy=POLICY, sinks=[])
    assert len(together.windows) == 5
    assert [a.transition for a in together.alerts] == ["fired", "resolved"]

    separate = Settings(
        store_url=f"sqlite:///{tmp_path / 'apart.db'}", artifacts=str(tmp_path / "apart")
    )
    with Client(settings=separate, create=True) as apart:
        snapshot = apart.register_snapshot(cancer_frame, "cancer-train")
        apart.register_model("cancer", fitted_model, training_data=snapshot, target="target")
        apart.set_alias("cancer", "champion", 1, reason="first release")
        apart.set_policy("cancer", POLICY)
        transitions = []
        for index, chunk in enumerate(chunks):
            log(apart, fitted_model, chunk, START + timedelta(minutes=10 * index))
            run = apart.monitor("cancer", sinks=[])
            transitions += [a.transition for a in run.alerts]
        assert transitions == ["fired", "resolved"]
        assert _trail(apart) == _trail(client)
        assert [a.state for a in apart.list_alerts("cancer")] == [
            a.state for a in client.list_alerts("cancer")
        ]
