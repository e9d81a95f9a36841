"""Benchmark: every model flavour through Keel (register, load, serve with the prediction log)
against the framework's own save, load and predict behind a bare FastAPI endpoint.

Run ``.venv/bin/python bench/flavours.py`` (about 12 minutes on two cores: 20 s per load) or with
``--quick`` (5,000 training rows, 1 s per load, no warm-up, no waiting for a quiet machine; about
a minute). ``--only lightgbm,onnx`` measures some flavours only; ``--no-serve`` leaves the
servers out; ``--profile FLAVOUR`` adds a py-spy profile of Keel's server (``--profile-bare``:
the bare endpoint's too) while it serves that flavour at concurrency 32 (py-spy is installed
into ``.bench/flavours-tools`` when missing; see ``bench/_serving_profile.py``); ``--load
asyncio`` uses the fallback load generator even when ``wrk`` is there. The frameworks are the
peers here, and they are in Keel's own venv (the ``flavours`` extra). Without the table in
``../shared/data`` the benchmark says so and prints a JSON line with ``"skipped"``. Progress
goes to stderr; stdout gets a table of the figures, then one line of JSON.

What
- The table and the models: ``bench/_flavours_models.py`` (bank marketing, 41,188 rows, 10
  category columns; one classifier per flavour: sklearn, lightgbm, xgboost, catboost, onnx and a
  custom python class). The onnx model is the sklearn version converted by ``keel models
  convert`` (``Client.convert_model``), loaded back and registered as a model of its own.
- Registering and loading: a temporary store (``sqlite:///<tmp>/keel.db``, artifacts in
  ``<tmp>/art``); the training snapshot registered once (``snapshot_ms``), then per flavour
  ``register_model(name, model, training_data=snapshot, target="target")`` (``trust="code"``
  for python) once and then ``--repeat`` times (5; 1 quick), the artifact file deleted between
  registrations so each one writes it (Keel writes and fsyncs it; the frameworks' own saves do
  not fsync), and ``load_model("models:/name/N")`` as often (reads the artifact, checks its
  SHA-256, reads the recorded trust, loads). Figures: the first call (``*_first_ms``: imports
  and caches, what one command pays) and the median of the others (``register_ms``,
  ``load_ms``), Keel's artifact size (``artifact_kb``); the framework's own save to a file and
  load from it, timed the same way (``native_save_ms``, ``native_load_ms``, ``native_kb``,
  ``native_format``).
- Serving: Keel (``keel --store URL --artifacts DIR serve --host 127.0.0.1 --port P --workers
  1``: every model's champion, its prediction log on with its write-ahead log, as
  ``bench/serving.py`` runs it) and the bare endpoint (``bench/_flavours_bare.py``, the
  framework's own ``predict_proba`` on the container its documentation shows), both started
  before the first flavour and stopped after the last, each in a session of its own. Per flavour,
  back to back so the two see the same machine: Keel then bare warmed up at concurrency 8 (2 s;
  none quick), then Keel and bare at concurrency 8, then Keel and bare at 32 (20 s each; 1 s
  quick): Debian's ``wrk`` (installed with apt-get when missing), one thread, keep-alive
  connections, a Lua script cycling through the bodies (``bench/_serving_harness.py``, the load
  of ``bench/serving.py``). Before each flavour the benchmark waits up to ``--quiet-wait``
  seconds (60; 0 quick) for other work to stop. Bodies: ``{"records": [one row]}`` from the
  held-out rows inside the training range on every number and with seen categories (a clean
  request: nothing for the input policy to flag), at most 2,000. Before the load, the first five
  rows' answers of both servers are checked against the model's own ``predict_proba``.
- Serving figures per flavour (``keel_*`` and ``bare_*``): ``rps_c8``/``rps_c32`` (answers per
  second), ``p50_ms``/``p99_ms`` at 32, errors (connect, read, write, timeout, non-2xx), the
  server's CPU time per request (``cpu_us_c32``) and everything else the machine ran meanwhile
  (``other_cores_c32``: the idle other server included; well above zero means a shared
  machine). ``ratio_c8``/``ratio_c32`` are Keel's answers per second over the bare endpoint's;
  the target is ``ratio_c32 >= 1.3`` for every flavour (``targets``). After Keel has stopped,
  its prediction log must hold a row for every answer the load generator and the checks counted
  (``rows_logged`` >= ``answers_counted``; requests in flight when a load ended are answered and
  logged but not counted, so the rows may be up to 40 more).
- Model facts per flavour, in this process (best of 7 means of 0.1 s; 2 quick):
  ``predict_us_1row``, one ``predict_proba`` of one row in the bare endpoint's container;
  ``predict_us_per_row_b32``, one call on 32 rows divided by 32 (what batching buys);
  ``predict_and_proba_us_b32``, Keel's call on a 32-row frame (it calls ``predict`` and
  ``predict_proba`` on each batch); for onnx, ``onnx_feeds_from_frame_us_b32``, the time
  ``OnnxModel`` takes to turn that frame into the graph's inputs.
- ONNX conversion (``onnx_speedup``): the sklearn and lightgbm versions converted by ``keel
  models convert`` (``convert_s``, ``converter``, and the command's own check on the training
  snapshot: ``check_max_abs_diff``, ``check_label_agreement``, ``check_speedup``), then on 1 row
  and on 1,000 held-out rows: the original's ``predict_proba`` on a DataFrame with the training
  dtypes (``original_us_*``) against the converted version as ``load_model`` gives it
  (``OnnxModel.predict_proba`` on the same DataFrame: ``onnx_us_*``, ``speedup_*``) and against
  its graph alone (onnxruntime on the inputs already built: ``graph_us_*``,
  ``graph_speedup_*``); ``max_abs_diff_held_out`` is the largest difference of the
  probabilities on the 1,000 rows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import _flavours_models as fm
from _serving_harness import (
    CHECKED_ROWS,
    Load,
    Server,
    check_answers,
    ensure_wrk,
    free_port,
    summary,
    wait_for_quiet,
)
from _timing import median_ms

BENCH = Path(__file__).resolve().parent
TOOLS_VENV = fm.ROOT / ".bench" / "flavours-tools"
KEEL = Path(sys.executable).with_name("keel")
TARGET_RATIO_C32 = 1.3
MAX_BODIES = 2000
#: how the bare endpoint feeds each flavour (see ``_flavours_bare.py``)
BARE_KIND = {"catboost": "rows", "onnx": "onnx"}


@dataclass(frozen=True)
class Plan:
    quick: bool
    warmup_s: float
    load_s: float
    quiet_wait_s: float
    repeat: int
    train_rows: int | None
    #: rounds of 0.1 s for the in-process timings (best of)
    rounds: int
    concurrencies: tuple[int, ...] = (8, 32)

    @classmethod
    def make(cls, args: argparse.Namespace) -> Plan:
        quick = bool(args.quick)
        wait = args.quiet_wait if args.quiet_wait is not None else (0.0 if quick else 60.0)
        repeat = args.repeat or (1 if quick else 5)
        if quick:
            return cls(True, 0.0, 1.0, wait, repeat, 5000, 2)
        return cls(False, 2.0, 20.0, wait, repeat, None, 7)


def log(message: str) -> None:
    print(f"[flavours] {message}", file=sys.stderr, flush=True)


def per_call_us(action: Any, rounds: int = 5, round_s: float = 0.1) -> float:
    """Microseconds per ``action()``: the best of ``rounds`` means, each over at least
    ``round_s`` (and at least one call, after one warm-up call), so a busy spell on a shared
    machine does not inflate it and a slow call is not repeated fifty times."""
    action()
    best = float("inf")
    for _ in range(rounds):
        calls, started = 0, time.perf_counter()
        while True:
            action()
            calls += 1
            elapsed = time.perf_counter() - started
            if elapsed >= round_s:
                break
        best = min(best, elapsed / calls * 1e6)
    return best


def rounded(value: Any) -> Any:
    """Floats to 3 decimals, small ones (a probability difference) to 3 significant digits."""
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v) for v in value]
    if isinstance(value, float):
        return float(f"{value:.3g}") if 0 < abs(value) < 0.1 else round(value, 3)
    return value


def model_name(flavour: str) -> str:
    return f"bank-{flavour}"


# -- registering and loading --------------------------------------------------------------------
def register_and_load(
    client: Any, flavour: str, model: Any, snapshot: Any, folder: Path, repeat: int
) -> tuple[dict[str, Any], int]:
    """Keel's register and load against the framework's own save and load; the last version."""
    name, versions = model_name(flavour), []
    trust = "code" if flavour == "python" else None

    def register(_: int) -> None:
        if versions:  # every registration writes its artifact: drop the one the last one wrote
            Path(client.artifacts.location(versions[-1].artifact_sha256)).unlink(missing_ok=True)
        versions.append(
            client.register_model(
                name, model, training_data=snapshot, target=fm.TARGET, trust=trust
            )
        )

    figures: dict[str, Any] = {}
    figures["register_first_ms"], figures["register_ms"] = timed(register, repeat)
    last = versions[-1]
    figures["load_first_ms"], figures["load_ms"] = timed(
        lambda _: client.load_model(f"models:/{name}/{last.version}"), repeat
    )
    figures["format"] = last.format
    figures["flavour_detected"] = getattr(last, "flavour", last.format)
    figures["artifact_kb"] = last.size_bytes / 1024
    native = fm.NATIVE[flavour]
    path = folder / f"native-{flavour}{native.suffix}"
    figures["native_format"] = native.format
    _, figures["native_save_ms"] = timed(lambda _: native.save(model, path), repeat)
    _, figures["native_load_ms"] = timed(lambda _: native.load(path), repeat)
    figures["native_kb"] = path.stat().st_size / 1024
    figures["register_vs_native_save"] = figures["register_ms"] / figures["native_save_ms"]
    figures["load_vs_native_load"] = figures["load_ms"] / figures["native_load_ms"]
    return figures, last.version


def timed(action: Any, repeat: int) -> tuple[float, float]:
    """The first call's ms (imports, caches: what one command line pays) and the median of the
    ``repeat`` calls after it (the steady state)."""
    first = median_ms(action, 1)
    return first, median_ms(lambda i: action(i + 1), repeat)


# -- model facts and the ONNX conversions -------------------------------------------------------
def bare_input(flavour: str, model: Any, frame: Any) -> Any:
    """The rows in the container the bare endpoint gives this flavour."""
    from _flavours_bare import feeds_of, rows_of

    records = records_of(frame)
    if BARE_KIND.get(flavour) == "onnx":
        return feeds_of(records, onnx_inputs(model))
    if BARE_KIND.get(flavour) == "rows":
        return rows_of(records, list(frame.columns))
    return frame


def onnx_inputs(model: Any) -> dict[str, str]:
    return onnx_inputs_of(model.inputs)


def onnx_inputs_of(specs: Any) -> dict[str, str]:
    """A graph's inputs as ``_flavours_bare.feeds_of`` takes them."""
    return {i.name: "text" if i.type == "tensor(string)" else "float" for i in specs}


def native_proba(flavour: str, model: Any) -> Any:
    """``container -> probabilities`` as the bare endpoint calls the model."""
    if flavour == "onnx":
        names = [o.name for o in model.session.get_outputs()]
        output = [n for n in names if "prob" in n][:1]
        return lambda feeds: model.session.run(output, feeds)[0]
    return model.predict_proba


def model_facts(flavour: str, model: Any, rows: Any, rounds: int) -> dict[str, float]:
    proba = native_proba(flavour, model)
    one, batch = (
        bare_input(flavour, model, rows.iloc[:1]),
        bare_input(flavour, model, rows.iloc[:32]),
    )
    frame = rows.iloc[:32]

    def keel_call() -> None:  # what ServedModel.score does with a frame
        model.predict(frame)
        model.predict_proba(frame)

    out = {
        "predict_us_1row": per_call_us(lambda: proba(one), rounds),
        "predict_us_per_row_b32": per_call_us(lambda: proba(batch), rounds) / 32,
        "predict_and_proba_us_b32": per_call_us(keel_call, rounds),
    }
    if flavour == "onnx":  # OnnxModel turning the 32-row frame into the graph's inputs
        out["onnx_feeds_from_frame_us_b32"] = per_call_us(lambda: model.feeds(frame), rounds)
    return out


def ensure_version(
    client: Any, flavour: str, models: dict[str, Any], snapshot: Any, versions: dict[str, str]
) -> str:
    """The flavour's version in the store (registered now, untimed, if it was not measured)."""
    if flavour not in versions:
        version = client.register_model(
            model_name(flavour), models[flavour], training_data=snapshot, target=fm.TARGET
        )
        versions[flavour] = version.ref
    return versions[flavour]


def convert(client: Any, ref: str) -> tuple[Any, dict[str, Any]]:
    """``keel models convert REF --to onnx`` (the SDK's door): the conversion and its figures."""
    started = time.perf_counter()
    conversion = client.convert_model(ref, to="onnx")
    agreement = conversion.agreement
    figures = {
        "convert_s": time.perf_counter() - started,
        "converter": conversion.converter,
        "version": conversion.version.ref,
        "check_rows": agreement.rows,
        "check_max_abs_diff": agreement.max_abs_diff,
        "check_label_agreement": agreement.label_agreement,
        "check_speedup": agreement.speedup,
    }
    log(
        f"keel models convert {ref}: {conversion.version.ref} in {figures['convert_s']:.1f} s, "
        f"max abs difference {agreement.max_abs_diff:.2g} on {agreement.rows:,} training rows"
    )
    return conversion, figures


def onnx_speedup(original: Any, converted: Any, rows: Any, rounds: int) -> dict[str, Any]:
    """The original's ``predict_proba`` on a typed DataFrame against the converted version as
    ``load_model`` gives it (``OnnxModel.predict_proba`` on the same DataFrame) and against its
    graph alone (onnxruntime on the inputs already built), on 1 row and on 1,000 rows."""
    import numpy as np
    from _flavours_bare import feeds_of

    graph = native_proba("onnx", converted)
    inputs = onnx_inputs(converted)
    out: dict[str, Any] = {}
    for label, frame in (("1row", rows.iloc[:1]), ("1000rows", rows.iloc[:1000])):
        feeds = feeds_of(records_of(frame), inputs)
        out[f"original_us_{label}"] = per_call_us(lambda f=frame: original.predict_proba(f), rounds)
        out[f"onnx_us_{label}"] = per_call_us(lambda f=frame: converted.predict_proba(f), rounds)
        out[f"graph_us_{label}"] = per_call_us(lambda f=feeds: graph(f), rounds)
        out[f"speedup_{label}"] = out[f"original_us_{label}"] / out[f"onnx_us_{label}"]
        out[f"graph_speedup_{label}"] = out[f"original_us_{label}"] / out[f"graph_us_{label}"]
    frame = rows.iloc[:1000]
    diff = np.abs(np.asarray(original.predict_proba(frame)) - converted.predict_proba(frame))
    out["max_abs_diff_held_out"] = float(diff.max())
    return out


def speedup_text(kind: str, s: dict[str, Any]) -> str:
    return (
        f"ONNX {kind} ({s['converter']}): 1 row {s['original_us_1row']:,.0f} us -> "
        f"{s['onnx_us_1row']:,.0f} us loaded ({s['speedup_1row']:.1f}x), "
        f"{s['graph_us_1row']:,.0f} us graph alone ({s['graph_speedup_1row']:.1f}x); 1,000 rows "
        f"{s['original_us_1000rows']:,.0f} us -> {s['onnx_us_1000rows']:,.0f} us "
        f"({s['speedup_1000rows']:.1f}x), {s['graph_us_1000rows']:,.0f} us "
        f"({s['graph_speedup_1000rows']:.1f}x); max abs difference "
        f"{s['max_abs_diff_held_out']:.2g}"
    )


# -- the servers --------------------------------------------------------------------------------
def records_of(frame: Any) -> list[dict[str, Any]]:
    """Rows as JSON records: categories as their labels, numbers as Python numbers."""
    return [
        {str(k): (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in frame.astype(object).to_dict(orient="records")
    ]


def bodies_of(frame: Any) -> list[bytes]:
    return [json.dumps({"records": [record]}).encode() for record in records_of(frame)]


def keel_server(store: str, artifacts: str) -> Server:
    port = free_port()
    command = [str(KEEL), "--store", store, "--artifacts", artifacts, "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    return Server("keel", command, port, "/readyz", "", [], env, start_timeout_s=180.0)


def bare_server(folder: Path, models: dict[str, Any], table: fm.Table) -> Server:
    import cloudpickle

    entries: dict[str, Any] = {}
    columns = list(table.test.columns)
    dtypes = {c: str(table.test[c].dtype) for c in columns if c not in table.categories}
    for flavour, model in models.items():
        path = folder / f"bare-{flavour}.bin"
        kind = BARE_KIND.get(flavour, "frame")
        entry: dict[str, Any] = {"kind": kind, "path": str(path), "columns": columns}
        if kind == "onnx":
            path.write_bytes(model.model_bytes)
            entry["inputs"] = onnx_inputs(model)
            names = [o.name for o in model.session.get_outputs()]
            entry["probabilities"] = next(n for n in names if "prob" in n)
        else:
            path.write_bytes(cloudpickle.dumps(model))
            entry.update(categories=table.categories, dtypes=dtypes)
        entries[model_name(flavour)] = entry
    spec = folder / "bare.json"
    spec.write_text(json.dumps({"models": entries}))
    port = free_port()
    command = [sys.executable, str(BENCH / "_flavours_bare.py"), "--spec", str(spec)]
    command += ["--port", str(port)]
    return Server("bare", command, port, "/readyz", "", [], start_timeout_s=180.0)


def view(server: Server, flavour: str, bodies: list[bytes]) -> Server:
    """The running ``server`` as seen through one model's path (same process)."""
    name = model_name(flavour)
    return replace(
        server,
        name=f"{server.name}_{flavour}",
        predict_path=f"/v1/models/{name}/predict",
        bodies=bodies,
        answered=0,
    )


def count_logged(root: str, model: str) -> int:
    """Rows in the model's prediction log (read while no server runs)."""
    from keel.store.prediction_log import ParquetLogStore

    logs = ParquetLogStore(root)
    rows = sum(
        logs.read(part, columns=["request_id"]).num_rows
        for part in logs.parts("predictions", model)
    )
    logs.close()
    return rows


def serve_one(
    flavour: str,
    keel: Server,
    bare: Server,
    load: Load,
    plan: Plan,
    profile: str | None,
    folder: Path,
) -> dict[str, Any]:
    """One flavour's loads, Keel and bare back to back at each concurrency."""
    out: dict[str, Any] = {"busy_before": wait_for_quiet(plan.quiet_wait_s)}
    for server in (keel, bare):
        if plan.warmup_s:  # wrk takes whole seconds
            load.run(server, 8, plan.warmup_s)
    for connections in plan.concurrencies:
        for server in (keel, bare):
            figures = summary(load.run(server, connections, plan.load_s))
            side = server.name.split("_", 1)[0]
            log(
                f"{flavour} {side} c{connections}: {figures['rps']:,.0f} req/s, p50 "
                f"{figures['p50_ms']:.2f} ms, p99 {figures['p99_ms']:.2f} ms, {figures['errors']} "
                f"errors, {figures['cpu_us']:.0f} us CPU/request ({figures['cores']:.2f} cores), "
                f"other work {figures['other_cores']:.2f} cores"
            )
            out[f"{side}_c{connections}"] = figures
    if profile:
        from _serving_profile import record, summarise

        for server in (keel, bare) if profile == "both" else (keel,):
            seconds = max(5.0, plan.load_s / 2)
            raw = folder / f"{server.name}.pyspy.txt"
            assert server.process is not None
            log(f"{server.name}: py-spy, {seconds:.0f} s at concurrency 32 (GIL holder)")
            sampler = record(server.process.pid, seconds, raw)
            time.sleep(0.5)
            figures = summary(load.run(server, 32, seconds))
            sampler.communicate(timeout=60)
            result = summarise(raw)
            result["rps_while_sampled"] = figures["rps"]
            out[f"{server.name.split('_', 1)[0]}_profile"] = result
            for title, key in (("own", "own_pct"), ("inclusive", "inclusive_pct")):
                log(f"{server.name}: {title} time:")
                for name, share in result[key][:25]:
                    log(f"  {share:5.1f}%  {name}")
    return out


def ensure_py_spy() -> None:
    """py-spy on the PATH, from ``.bench/flavours-tools`` (created with pip when missing)."""
    import shutil

    binary = TOOLS_VENV / "bin" / "py-spy"
    if not binary.exists() and not shutil.which("py-spy"):
        log(f"creating {TOOLS_VENV} with py-spy")
        subprocess.run([sys.executable, "-m", "venv", str(TOOLS_VENV)], check=True)
        pip = [str(TOOLS_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "py-spy"]
        subprocess.run(pip, check=True, stdout=sys.stderr)
    os.environ["PATH"] = f"{binary.parent}{os.pathsep}{os.environ.get('PATH', '')}"


# -- the answer ---------------------------------------------------------------------------------
def flavour_figures(
    flavour: str, registry: dict[str, Any], facts: dict[str, float], served: dict[str, Any] | None
) -> dict[str, Any]:
    out: dict[str, Any] = {**registry, **facts}
    if served is None:
        return out
    for c in (8, 32):
        keel, bare = served[f"keel_c{c}"], served[f"bare_c{c}"]
        out[f"keel_rps_c{c}"], out[f"bare_rps_c{c}"] = keel["rps"], bare["rps"]
        out[f"ratio_c{c}"] = keel["rps"] / bare["rps"] if bare["rps"] else None
    for side in ("keel", "bare"):
        figures = served[f"{side}_c32"]
        out[f"{side}_p50_ms_c32"] = figures["p50_ms"]
        out[f"{side}_p99_ms_c32"] = figures["p99_ms"]
        out[f"{side}_cpu_us_c32"] = figures["cpu_us"]
        out[f"{side}_cores_c32"] = figures["cores"]
        out[f"{side}_other_cores_c32"] = figures["other_cores"]
        out[f"{side}_errors"] = sum(served[f"{side}_c{c}"]["errors"] for c in (8, 32))
    for key in ("rows_logged", "answers_counted", "busy_before"):
        if key in served:
            out[key] = served[key]
    for side in ("keel", "bare"):
        if f"{side}_profile" in served:
            profile = served[f"{side}_profile"]
            out[f"{side}_profile_own_top"] = profile["own_pct"][:12]
            out[f"{side}_profile_package_own"] = profile["package_own_pct"][:8]
    return out


def targets(answer: dict[str, Any], flavours: list[str]) -> dict[str, Any]:
    met = {f: answer[f].get("ratio_c32") for f in flavours if "ratio_c32" in answer[f]}
    out: dict[str, Any] = {
        f"keel_c32_at_least_{TARGET_RATIO_C32}x_bare": {
            f: None if r is None else r >= TARGET_RATIO_C32 for f, r in met.items()
        },
        "every_answer_logged": all(
            answer[f]["rows_logged"] >= answer[f]["answers_counted"]
            for f in flavours
            if "rows_logged" in answer[f]
        ),
        "every_request_answered": all(
            answer[f].get("keel_errors", 0) == 0 and answer[f].get("bare_errors", 0) == 0
            for f in flavours
        ),
    }
    out["all_flavours_at_target"] = bool(met) and all(
        r is not None and r >= TARGET_RATIO_C32 for r in met.values()
    )
    return out


def table_text(answer: dict[str, Any], flavours: list[str]) -> str:
    """The figures as a readable table (the JSON line has them all)."""
    head = (
        f"{'flavour':<9} {'format':<12} {'register':>9} {'save':>8} {'load':>8} {'native':>8} "
        f"{'artifact':>9} {'native':>9} {'keel c8':>8} {'bare c8':>8} {'ratio':>6} "
        f"{'keel c32':>8} {'bare c32':>8} {'ratio':>6} {'p99 keel':>8} {'p99 bare':>8}"
    )
    units = (
        f"{'':<9} {'':<12} {'ms':>9} {'ms':>8} {'ms':>8} {'load ms':>8} {'KB':>9} {'KB':>9} "
        f"{'req/s':>8} {'req/s':>8} {'':>6} {'req/s':>8} {'req/s':>8} {'':>6} {'ms':>8} {'ms':>8}"
    )
    lines = [head, units, "-" * len(head)]

    def cell(value: Any, width: int, digits: int = 1) -> str:
        if value is None:
            return f"{'-':>{width}}"
        return f"{value:>{width},.{digits}f}"

    for f in flavours:
        row = answer[f]
        lines.append(
            f"{f:<9} {row['format']:<12} {cell(row['register_ms'], 9)} "
            f"{cell(row['native_save_ms'], 8)} {cell(row['load_ms'], 8)} "
            f"{cell(row['native_load_ms'], 8)} {cell(row['artifact_kb'], 9, 0)} "
            f"{cell(row['native_kb'], 9, 0)} {cell(row.get('keel_rps_c8'), 8, 0)} "
            f"{cell(row.get('bare_rps_c8'), 8, 0)} {cell(row.get('ratio_c8'), 6, 2)} "
            f"{cell(row.get('keel_rps_c32'), 8, 0)} {cell(row.get('bare_rps_c32'), 8, 0)} "
            f"{cell(row.get('ratio_c32'), 6, 2)} {cell(row.get('keel_p99_ms_c32'), 8)} "
            f"{cell(row.get('bare_p99_ms_c32'), 8)}"
        )
    lines.append(
        "save/native: the framework's own save and load of a file; register/load: Keel's, "
        f"with the artifact's hash; target: Keel c32 >= {TARGET_RATIO_C32}x bare"
    )
    speed = answer.get("onnx_speedup", {})
    for kind in ("sklearn", "lightgbm"):
        if kind in speed:
            lines.append(speedup_text(kind, speed[kind]))
    return "\n".join(lines)


# -- the run ------------------------------------------------------------------------------------
def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="5,000 training rows, 1 s per load")
    parser.add_argument("--only", help=f"comma-separated flavours among {', '.join(fm.FLAVOURS)}")
    parser.add_argument("--data", type=Path, default=fm.DATA, help="the bank-marketing CSV")
    parser.add_argument("--repeat", type=int, help="registrations and loads timed (5; 2 quick)")
    parser.add_argument("--no-serve", action="store_true", help="leave the servers out")
    parser.add_argument("--profile", choices=fm.FLAVOURS, help="py-spy on Keel for a flavour")
    parser.add_argument("--profile-bare", action="store_true", help="with --profile: bare too")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        help="seconds to wait, before each flavour, for other work to stop (60; 0 quick)",
    )
    parser.add_argument("--load", choices=["wrk", "asyncio"], default="wrk")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    plan = Plan.make(args)
    flavours = [f for f in (args.only.split(",") if args.only else fm.FLAVOURS) if f]
    if unknown := set(flavours) - set(fm.FLAVOURS):
        raise SystemExit(f"unknown flavours: {sorted(unknown)}")
    if not args.data.exists():
        message = f"{args.data} is not there (../shared/data): nothing to measure"
        log(message)
        print(json.dumps({"bench": "flavours", "skipped": message}), flush=True)
        return
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    if args.profile:
        ensure_py_spy()
    wrk = None if args.no_serve or args.load != "wrk" else ensure_wrk()
    table = fm.load_table(args.data, plan.train_rows)
    log(
        f"{table.rows:,} rows, {len(table.train):,} to train, "
        f"{len(table.categories)} category columns"
    )
    models: dict[str, Any] = {}
    fit_s: dict[str, float] = {}
    # sklearn and lightgbm are converted to ONNX whichever flavours are measured
    for flavour in dict.fromkeys(["sklearn", "lightgbm", *flavours]):
        if flavour != "onnx":
            started = time.perf_counter()
            models[flavour] = fm.fit(flavour, table, models)
            fit_s[flavour] = time.perf_counter() - started
            log(f"{flavour}: fitted in {fit_s[flavour]:.1f} s")
    clean = fm.inside_training(table)
    requests = table.test[clean].iloc[:MAX_BODIES]
    bodies = bodies_of(requests)
    answer: dict[str, Any] = {
        "bench": "flavours",
        "quick": plan.quick,
        "table": "bank_marketing",
        "rows": table.rows,
        "train_rows": len(table.train),
        "request_rows": len(requests),
        "held_out_rows_flagged_left_out": int((~clean).sum()),
        "cores": len(os.sched_getaffinity(0)),
        "load_s": plan.load_s,
        "fit_s": fit_s,
    }
    with tempfile.TemporaryDirectory(prefix="keel-bench-flavours-") as tmp:
        folder = Path(tmp)
        store, artifacts = f"sqlite:///{folder}/keel.db", f"{folder}/art"
        registry: dict[str, dict[str, Any]] = {}
        versions: dict[str, str] = {}
        conversions: dict[str, Any] = {}
        speedup: dict[str, Any] = {"converted_by": "keel models convert (Client.convert_model)"}
        import keel

        with keel.Client(store, artifacts) as client:
            started = time.perf_counter()
            snapshot = client.register_snapshot(table.train, "bank-train")
            answer["snapshot_ms"] = (time.perf_counter() - started) * 1000
            for flavour in flavours:
                if flavour == "onnx":
                    ref = ensure_version(client, "sklearn", models, snapshot, versions)
                    conversions["sklearn"], speedup["sklearn"] = convert(client, ref)
                    models["onnx"] = client.load_model(
                        f"models:/{conversions['sklearn'].version.ref}"
                    ).model
                registry[flavour], version = register_and_load(
                    client, flavour, models[flavour], snapshot, folder, plan.repeat
                )
                versions[flavour] = f"{model_name(flavour)}/{version}"
                client.set_alias(model_name(flavour), "champion", version, reason="flavours bench")
                r = registry[flavour]
                log(
                    f"{flavour}: register {r['register_ms']:.1f} ms (own save "
                    f"{r['native_save_ms']:.1f} ms), load {r['load_ms']:.1f} ms (own load "
                    f"{r['native_load_ms']:.1f} ms), {r['artifact_kb']:.0f} KB "
                    f"({r['native_kb']:.0f} KB {r['native_format']})"
                )
            for kind in ("sklearn", "lightgbm"):
                if kind not in conversions:
                    ref = ensure_version(client, kind, models, snapshot, versions)
                    conversions[kind], speedup[kind] = convert(client, ref)
            converted = {
                kind: client.load_model(f"models:/{c.version.ref}").model
                for kind, c in conversions.items()
            }
        wait_for_quiet(min(30.0, plan.quiet_wait_s))
        facts = {f: model_facts(f, models[f], requests, plan.rounds) for f in flavours}
        for f in flavours:
            log(
                f"{f}: predict_proba {facts[f]['predict_us_1row']:,.0f} us for 1 row, "
                f"{facts[f]['predict_us_per_row_b32']:,.0f} us per row in 32; Keel's "
                f"predict + predict_proba on 32 rows {facts[f]['predict_and_proba_us_b32']:,.0f} us"
            )
        for kind, onnx_model in converted.items():
            speedup[kind].update(onnx_speedup(models[kind], onnx_model, table.test, plan.rounds))
            log(speedup_text(kind, speedup[kind]))
        answer["onnx_speedup"] = speedup
        served: dict[str, dict[str, Any]] = {}
        if not args.no_serve:
            served = serve_all(
                flavours, models, table, requests, bodies, folder, store, artifacts, wrk, plan, args
            )
            answer["load_generator"] = served.pop("_load_generator")
        for f in flavours:
            answer[f] = flavour_figures(f, registry[f], facts[f], served.get(f))
    answer["targets"] = targets(answer, flavours)
    print(table_text(answer, flavours), flush=True)
    print(json.dumps(rounded(answer)), flush=True)


def serve_all(
    flavours: list[str],
    models: dict[str, Any],
    table: fm.Table,
    requests: Any,
    bodies: list[bytes],
    folder: Path,
    store: str,
    artifacts: str,
    wrk: str | None,
    plan: Plan,
    args: argparse.Namespace,
) -> dict[str, Any]:
    load = Load(wrk, folder)
    keel, bare = keel_server(store, artifacts), bare_server(folder, models, table)
    already = {f: count_logged(artifacts, model_name(f)) for f in flavours}
    served: dict[str, Any] = {"_load_generator": load.name}
    keel_views: dict[str, Server] = {}
    try:
        for server in (keel, bare):
            wait_for_quiet(plan.quiet_wait_s)
            log(f"{server.name}: starting")
            log(f"{server.name}: ready in {server.start(folder):.1f} s")
        for flavour in flavours:
            expected = models[flavour].predict_proba(requests.iloc[:CHECKED_ROWS]).tolist()
            views = [view(keel, flavour, bodies), view(bare, flavour, bodies)]
            for server in views:
                check_answers(server, expected)
            keel_views[flavour] = views[0]
            profile = None
            if args.profile == flavour:
                profile = "both" if args.profile_bare else "keel"
            served[flavour] = serve_one(flavour, *views, load, plan, profile, folder)
    except Exception:
        for server in (keel, bare):
            if server.log_path is not None and server.log_path.exists():
                log(f"{server.name} log:\n{server.log_path.read_text()[-3000:]}")
        raise
    finally:
        for server in (keel, bare):
            server.stop()
    for flavour, server in keel_views.items():
        served[flavour]["rows_logged"] = (
            count_logged(artifacts, model_name(flavour)) - already[flavour]
        )
        served[flavour]["answers_counted"] = server.answered
        log(
            f"{flavour}: {served[flavour]['rows_logged']:,} rows logged for "
            f"{server.answered:,} answers counted"
        )
    return served


if __name__ == "__main__":
    main()
