"""Benchmark: when to retrain, replayed on time-ordered streams, Keel's autopilot among fixed
schedules, the best schedule in hindsight and the trivial baselines.

Run ``.venv/bin/python bench/closed_loop.py`` (Elec2, NOAA weather and bank marketing in full) or
with ``--quick`` (the first 12 windows of each). Progress, a table per stream and the per-window
accuracies go to stderr; the answer is one line of JSON on stdout. scikit-learn and Keel itself:
no peer venv. A shared stream whose file is absent (``../shared/data`` relative to the
repository, or ``--data-root``) is skipped with a message.

Any time-ordered table replays the same way: ``--data FILE --target COL --time COL [--window N]``
(CSV, or Parquet by its suffix; sorted by the time column; text columns as pandas categoricals;
windows of N rows, default 1,000; ``closed_loop_data.load_table``). With ``--data`` only that
table is replayed, unless ``--datasets`` names shared streams too.

The replay, test-then-train (``closed_loop_results``): the initial model,
``HistGradientBoostingClassifier(random_state=0)``, trains on the first 10% of the rows; the rest
are windows (Elec2 and weather 1,000 rows, bank 2,000; ``closed_loop_data``), each predicted by
the serving model and scored (accuracy), then labelled. Figures are unweighted means over windows.

Strategies, all in one run (``closed_loop_strategies``; ``--strategies`` picks the optional ones):
- always: ``never``; ``every``, ``every_2`` .. ``every_5`` (the calendar; plain setup: a retrain
  fits on the last 10 windows' rows, unweighted); the baselines ``majority`` and ``persistence``;
- ``selected``: the same calendar with the autopilot's setup selection (``every_selected``,
  ``every_k_selected``: Keel's default training rows and ``select_setup`` at each retrain);
- ``autopilot``: Keel's controller with Keel's default policy (``closed_loop_autopilot``; the
  bench's policy only describes the data: label, window rows, labels awaited, time order);
- ``hindsight``: the best schedule in hindsight with the autopilot's retrain count (the ceiling
  at that count, ``closed_loop_oracle``);
- not by default: ``drop_2pt``, ``drop_2pt_fixed`` (the issue's 2-point rule, two readings) and
  ``hindsight_half`` (the ceiling at half of ``every``'s retrains).

Targets per stream (``closed_loop_targets``; in the JSON under ``targets``, each with ``value``,
``limit``, ``met`` and ``margin``): (a) the autopilot within 0.5 points of ``every`` with at most
half its retrains; (b) the autopilot at least the calendar at its retrain count (linear
interpolation between the nearest ``never``/``every_k`` retrain counts); (c) the autopilot above
``majority`` (otherwise neither (a) nor (b) is met), and Keel's default baseline alert open after
every pass where the served models did not beat the best constant. Printed per stream: the table,
the setups the autopilot chose and how often, the hindsight ceiling at its retrain count.

Measured at b3596a3 (Keel's defaults: the value-of-retraining rule with cost 10, decay counted
from a champion's second window, setup selection among all rows / the newest 40% / the newest
15%, the low profile's refit and its majority gate), full run, 173 s on 2 cores at load 3:
Elec2: autopilot 0.7109 (20 retrains, 2 candidates rejected) against every 0.7199 (40), every
2nd 0.7047 (20): (a) missed by 0.39 points, (b) met by 0.62, (c) met; the hindsight ceiling at
20 is 0.7177, the calendar with setup selection there 0.7101. Weather: 0.7958 (3): (a) met by
0.05 points, (b) by 0.22, (c) met. Bank: 0.8766 (5, 4 rejected by the majority gate): (a) met
by 0.05 points, (b) by 0.18, (c) met (0.81 points above majority; the baseline alert was open
after every pass whose newest 1,000 rows the models did not beat the best constant on, and
after no other). ``--quick`` took 34 s on an idle machine (at a866254; 80 s under load before).

The calendar with setup selection fits about as much as everything else together (each of its
retrains fits three setups and the chosen one on up to 20,000 rows), so by default it runs in a
second process (``--jobs 2``, spawned) while this one replays the autopilot; ``--jobs 1`` keeps
everything in one process.

scikit-learn runs with ``--threads`` OpenMP threads (default 1; the figures do not depend on
it): on a shared 2-core machine, more threads than free cores makes HistGradientBoosting's
threads spin; ``--quick --threads 2`` once took 212 s against 9 s with one thread.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from closed_loop_autopilot import BENCH_DIR, run_autopilot
from closed_loop_data import (
    DEFAULT_DATA_ROOT,
    SPECS,
    TABLE_WINDOW_ROWS,
    Dataset,
    load_dataset,
    load_table,
    missing_reason,
)
from closed_loop_report import reference_figures, report_autopilot, report_table
from closed_loop_results import (
    Replay,
    StrategyResult,
    log,
    majority,
    majority_label,
    margin_points,
    persistence,
    rounded,
)
from closed_loop_strategies import (
    accuracy_drop,
    accuracy_drop_fixed,
    calendar,
    hindsight,
    hindsight_half,
    never,
    selected_calendar,
)
from closed_loop_targets import targets

QUICK_WINDOWS = 12
OPTIONAL = ("selected", "autopilot", "hindsight", "drop_2pt", "drop_2pt_fixed", "hindsight_half")
DEFAULT_STRATEGIES = ("selected", "autopilot", "hindsight")


def run_dataset(
    dataset: Dataset, args: argparse.Namespace, apart: Future[Any] | None = None
) -> dict[str, Any]:
    """Every strategy on one stream; ``apart``: the calendar with setup selection, under way
    in another process (else it runs here, when chosen)."""
    began = time.perf_counter()
    chosen = set(args.strategies)
    replay = Replay(dataset)
    stay = replay.run("never", never)
    plain = [stay, *calendar(replay)]
    results = list(plain)
    skipped: dict[str, str] = {}
    selected: list[StrategyResult] = []
    selection_seconds = None
    pilot = None
    if "autopilot" in chosen:
        pilot = run_autopilot(dataset, replay, args.store_root, args.policy_override, args.verbose)
    if "selected" in chosen:
        try:
            made, selection_seconds = (
                apart.result() if apart else selected_calendar(dataset, args.threads)
            )
        except ImportError as exc:  # setup selection is not in this Keel
            skipped["selected"] = f"no setup selection in this Keel ({exc})"
            log(f"{dataset.name}: calendar with setup selection skipped: {skipped['selected']}")
        else:
            selected = [stay, *made]
            results += made
            log(f"{dataset.name}: calendar with setup selection: {selection_seconds:.1f} s")
    ceiling = None
    if "hindsight" in chosen:
        if pilot is None:
            skipped["hindsight"] = "needs the autopilot's retrain count"
        else:
            ceiling = hindsight(replay, pilot.retrains)
            results.append(ceiling)
    if pilot is not None:
        results.append(pilot)
    if "drop_2pt" in chosen:
        results.append(replay.run("drop_2pt", accuracy_drop()))
    if "drop_2pt_fixed" in chosen:
        results.append(replay.run("drop_2pt_fixed", accuracy_drop_fixed()))
    if "hindsight_half" in chosen:
        results.append(hindsight_half(replay))
    trivial, naive = majority(dataset), persistence(dataset)
    compare = not args.quick
    report_table(dataset, results, trivial, naive, compare, args.verbose)
    answer: dict[str, Any] = {
        "source": str(dataset.source),
        "rows": dataset.rows,
        "initial_rows": dataset.initial_rows,
        "window_rows": dataset.window_rows,
        "windows": len(dataset.windows),
        "strategies": {},
    }
    for result in [*results, naive, trivial]:
        summary = result.summary() | {
            "points_above_majority": margin_points(result, trivial),
            "points_above_persistence": margin_points(result, naive),
        }
        if compare and (figures := reference_figures(dataset.name, result.name)):
            summary |= {"reference_mean_accuracy": figures[0], "reference_retrains": figures[1]}
        answer["strategies"][result.name] = summary
    answer["strategies"]["majority"]["label"] = dataset.classes[majority_label(dataset)]
    for name, reason in skipped.items():
        answer["strategies"][name] = {"skipped": reason}
    if pilot is not None:
        alert = pilot.details.get("baseline_alert")
        answer["targets"] = targets(pilot, plain, trivial, selected, alert)
        answer["setups_chosen"] = pilot.details.get("setups", {})
        if ceiling is not None:
            answer["hindsight_at_autopilot_retrains"] = ceiling.mean_accuracy
        report_autopilot(pilot, answer["targets"], ceiling)
    answer["fits"] = replay.fits
    answer["selection_seconds"] = selection_seconds
    answer["seconds"] = time.perf_counter() - began
    log(f"{dataset.name}: {replay.fits} plain fits, {answer['seconds']:.1f} s in all")
    return answer


def read_override(path: Path | None) -> dict[str, Any] | None:
    """``--policy-override``: a YAML or JSON mapping merged over the bench's policy."""
    if path is None:
        return None
    import yaml

    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise SystemExit(f"--policy-override {path}: not a mapping of policy sections")
    return data


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"the first {QUICK_WINDOWS} windows of each stream"
    )
    parser.add_argument(
        "--datasets", nargs="+", choices=list(SPECS), default=None, metavar="NAME",
        help=f"shared streams to replay (default: all of {', '.join(SPECS)}; none with --data)",
    )  # fmt: skip
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument("--data", type=Path, metavar="FILE", help="a time-ordered CSV or Parquet")
    parser.add_argument("--target", metavar="COL", help="--data's label column")
    parser.add_argument("--time", metavar="COL", help="--data's time column (the order)")
    parser.add_argument(
        "--window", type=int, default=TABLE_WINDOW_ROWS, metavar="N",
        help=f"--data's rows per window (default {TABLE_WINDOW_ROWS:,})",
    )  # fmt: skip
    parser.add_argument(
        "--strategies", nargs="*", choices=OPTIONAL, default=list(DEFAULT_STRATEGIES),
        metavar="NAME",
        help=f"optional strategies, beside the calendar and the baselines (default: "
        f"{' '.join(DEFAULT_STRATEGIES)}; also: drop_2pt drop_2pt_fixed hindsight_half)",
    )  # fmt: skip
    parser.add_argument(
        "--store-root", type=Path, default=BENCH_DIR,
        help="where the autopilot's temporary stores go (default: .bench/)",
    )  # fmt: skip
    parser.add_argument(
        "--policy-override", type=Path, default=None, metavar="FILE",
        help="for experiments only: a YAML/JSON policy mapping merged over the bench's policy "
        "(the default run uses Keel's defaults)",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=1, help="OpenMP threads (default 1)")
    parser.add_argument(
        "--jobs", type=int, choices=(1, 2), default=2,
        help="processes: 2 (default) runs the calendar with setup selection in a second process, "
        "beside the autopilot's replay; 1 runs everything in this one",
    )  # fmt: skip
    parser.add_argument(
        "--verbose", action="store_true", help="per-window accuracies with 3 decimals"
    )
    args = parser.parse_args(argv)
    if args.data is not None and (args.target is None or args.time is None):
        parser.error("--data needs --target COL and --time COL")
    if args.data is None and (args.target or args.time):
        parser.error("--target and --time go with --data FILE")
    if args.datasets is None:
        args.datasets = [] if args.data is not None else list(SPECS)
    args.policy_override = read_override(args.policy_override)
    return args


def load_streams(args: argparse.Namespace, answer: dict[str, Any]) -> list[Dataset]:
    """The streams to replay; an absent shared one is put in ``answer`` as skipped."""
    limit = QUICK_WINDOWS if args.quick else None
    streams = []
    for name in args.datasets:
        reason = missing_reason(name, args.data_root)
        if reason is not None:
            log(f"{name}: skipped: {reason}")
            answer[name] = {"skipped": reason}
            continue
        streams.append(load_dataset(name, args.data_root, limit))
    if args.data is not None:
        try:
            streams.append(load_table(args.data, args.target, args.time, args.window, limit))
        except (FileNotFoundError, ValueError) as exc:
            raise SystemExit(f"closed_loop: --data {args.data}: {exc}") from exc
    return streams


def main() -> None:
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime, so the limit reaches it)
    from threadpoolctl import threadpool_limits

    args = parse_args()
    began = time.perf_counter()
    answer: dict[str, Any] = {"bench": "closed_loop", "quick": args.quick}
    streams = load_streams(args, answer)
    with ExitStack() as stack:
        apart: dict[str, Future[Any]] = {}
        if "selected" in args.strategies and args.jobs > 1:
            # the calendar with setup selection fits as much as the rest together: one process
            # works through it for every stream while this one replays the autopilot
            spawn = multiprocessing.get_context("spawn")  # no fork after OpenMP has started
            pool = stack.enter_context(ProcessPoolExecutor(1, mp_context=spawn))
            for dataset in streams:
                apart[dataset.name] = pool.submit(selected_calendar, dataset, args.threads)
        with threadpool_limits(args.threads):
            for dataset in streams:
                answer[dataset.name] = run_dataset(dataset, args, apart.get(dataset.name))
    answer |= {
        "threads": args.threads,
        "cores": len(os.sched_getaffinity(0)),
        "load_avg_1m": os.getloadavg()[0],
        "seconds": time.perf_counter() - began,
    }
    print(json.dumps(rounded(answer)))


if __name__ == "__main__":
    sys.exit(main())
