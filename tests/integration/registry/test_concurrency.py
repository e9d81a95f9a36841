"""Many processes, and processes killed mid-way, on both back ends: numbers stay consecutive."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from keel.client import Client
from keel.settings import Settings

pytestmark = pytest.mark.slow

#: the model every worker registers; defined in the script, so cloudpickle saves it by value
_MODEL = """
class Echo:
    def __init__(self, tag):
        self.tag = tag

    def predict(self, frame):
        return frame
"""

_WORKER = (
    """
import json, sys, time
from pathlib import Path
from keel.client import Client
from keel.settings import Settings
"""
    + _MODEL
    + """
spec = json.loads(sys.argv[1])
client = Client(settings=Settings(**spec["settings"]))
Path(spec["ready"], spec["settings"]["actor"]).touch()
go = Path(spec["go"])
deadline = time.monotonic() + 120
while not go.exists():
    if time.monotonic() > deadline:
        sys.exit("never told to go")
    time.sleep(0.002)
numbers = []
for k in range(spec["count"]):
    tag = spec["settings"]["actor"] + "-" + str(k)
    made = client.register_model(spec["model"], Echo(tag), tags={"by": tag}, trust="code")
    numbers.append(made.version)
client.close()
print(json.dumps(numbers))
"""
)

_CRASHER = (
    """
import json, os, sys
import sqlalchemy as sa
import keel.registry.audit
from keel.client import Client
from keel.settings import Settings
from keel.store.schema import model_versions
"""
    + _MODEL
    + """
spec = json.loads(sys.argv[1])


def die_before_commit(conn, actor, action, subject, details=None):
    # the version row is in this transaction: prove it, then die without committing
    count = conn.execute(sa.select(sa.func.count()).select_from(model_versions)).scalar()
    print(json.dumps({"subject": subject, "rows_seen": count}), flush=True)
    os._exit(17)


keel.registry.audit.append = die_before_commit
client = Client(settings=Settings(**spec["settings"]))
client.register_model(spec["model"], Echo("doomed"), trust="code")
sys.exit("the registration was supposed to die")
"""
)


def _settings_dict(settings: Settings, actor: str) -> dict[str, Any]:
    return {"store_url": settings.store_url, "artifacts": settings.artifacts, "actor": actor}


def test_eight_processes_get_distinct_consecutive_numbers(
    settings: Settings, tmp_path: Path
) -> None:
    workers, per_worker = 8, 3
    ready, go = tmp_path / "ready", tmp_path / "go"
    ready.mkdir()
    processes = []
    for index in range(workers):
        spec = {
            "settings": _settings_dict(settings, f"worker{index}"),
            "ready": str(ready),
            "go": str(go),
            "model": "shared",
            "count": per_worker,
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", _WORKER, json.dumps(spec)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        deadline = time.monotonic() + 120
        while len(list(ready.iterdir())) < workers:  # all have opened the (fresh) store
            assert all(p.poll() is None for p in processes), [p.communicate() for p in processes]
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.02)
        go.touch()
        results = [p.communicate(timeout=120) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_, err) in zip(processes, results, strict=True):
        assert p.returncode == 0, err
    numbers = [n for out, _ in results for n in json.loads(out)]
    total = workers * per_worker
    assert sorted(numbers) == list(range(1, total + 1))
    for out, _ in results:  # each worker's own registrations come back in increasing order
        mine = json.loads(out)
        assert mine == sorted(mine)

    with Client(settings=settings) as client:
        versions = client.list_versions("shared")
        assert [v.version for v in versions] == list(range(total, 0, -1))
        assert {v.author for v in versions} == {f"worker{i}" for i in range(workers)}
        assert client.list_models()[0].latest_version == total
        audit = client.verify_audit()
        assert audit.intact, audit
        assert audit.checked == total
        subjects = sorted(e.subject for e in client.audit_log(limit=None))
        assert subjects == sorted(f"model:shared/{n}" for n in range(1, total + 1))


def test_a_process_killed_mid_registration_leaves_no_version(
    settings: Settings, client: Client, fitted_model: Any
) -> None:
    first = client.register_model("crashy", fitted_model)
    assert first.version == 1
    spec = {"settings": _settings_dict(settings, "doomed"), "model": "crashy"}
    done = subprocess.run(
        [sys.executable, "-c", _CRASHER, json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 17, done.stderr
    seen = json.loads(done.stdout)
    assert seen == {"subject": "model:crashy/2", "rows_seen": 2}  # inserted, never committed

    assert [v.version for v in client.list_versions("crashy")] == [1]
    assert client.list_models()[0].latest_version == 1
    with pytest.raises(Exception, match="crashy/2"):
        client.get_version("crashy/2")
    assert client.verify_audit().checked == 1
    second = client.register_model("crashy", fitted_model)
    assert second.version == 2
    assert second.author == "tester"
    assert [v.version for v in client.list_versions("crashy")] == [2, 1]
    audit = client.verify_audit()
    assert audit.intact
    assert audit.checked == 2
    assert [e.actor for e in client.audit_log(limit=None)] == ["tester", "tester"]


class _Plain:
    def predict(self, frame: Any) -> Any:
        return frame


def test_verifying_while_another_thread_writes_never_raises_a_false_alarm(client: Client) -> None:
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for index in range(60):
                client.register_model("busy", _Plain(), tags={"i": index}, trust="code")
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    results = []
    while writer.is_alive():
        results.append(client.verify_audit())
    writer.join()
    assert not errors
    assert [r for r in results if not r.intact] == []
    final = client.verify_audit()
    assert final.intact
    assert final.checked == 60
