"""The versions a worker serves, and how a change of plan reaches it without failing a request.

A background task polls ``serving_stamp`` (two indexed aggregates) every ``poll_s`` seconds. When
the stamp moves it reads every ``serving_plans``, loads the versions it does not have yet (the
artifact store verifies each artifact's SHA-256 before the bytes are unpickled), starts their
batchers, and only then swaps in a new immutable ``ServingState``. A request reads the state once
and hands its rows to a batcher without awaiting in between, so it is never split across two
states; versions no longer needed linger for ``linger_s`` seconds (a quick switch back costs
nothing) before their batchers drain their queues and stop.

A version that cannot be loaded (missing, corrupted, untrusted) leaves its model on the plan it
had, is listed by ``/readyz`` (not ready) and is tried again at every poll.

Each poll also reads the input section of every served model's stored policy (``inputs``: flag
or reject values never seen in training); a change recompiles the versions' input schemas and
swaps them in the same way, so ``keel policy apply`` reaches running servers within a poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from keel.domain.deployments import ServingPlan
from keel.domain.names import ModelRef
from keel.domain.policy import Inputs
from keel.errors import KeelError
from keel.registry import deployments, loading
from keel.serving.batching import BatchObserver, MicroBatcher
from keel.serving.inputs import InputSchema
from keel.serving.logging import PredictionRecorder
from keel.serving.served import ServedModel
from keel.store.artifacts import ArtifactStore
from keel.store.database import Database

log = logging.getLogger("keel.serving")

VersionKey = tuple[str, int]


@dataclass(frozen=True)
class Live:
    """A loaded version, its batcher, and its signature compiled under the model's input policy
    (None for a version registered without a signature: its records go to the model as sent)."""

    served: ServedModel
    batcher: MicroBatcher
    schema: InputSchema | None = None


@dataclass(frozen=True)
class ServingState:
    """What serves right now: each model's plan and the live versions those plans name."""

    plans: dict[str, ServingPlan] = field(default_factory=dict)
    live: dict[VersionKey, Live] = field(default_factory=dict)
    stamp: Any = None
    loaded: bool = False
    failures: dict[str, str] = field(default_factory=dict)

    def needed(self) -> set[VersionKey]:
        return _needed(self.plans)


def _needed(plans: dict[str, ServingPlan]) -> set[VersionKey]:
    keys: set[VersionKey] = set()
    for plan in plans.values():
        for version in (plan.stable, plan.candidate):
            if version is not None:
                keys.add((plan.model, version))
    return keys


@dataclass
class BatchSettings:
    max_rows: int = 256
    max_wait_s: float = 0.001


class ModelCache:
    """Loads, swaps and retires the versions one worker serves."""

    def __init__(
        self,
        db: Database,
        artifacts: ArtifactStore,
        recorder: PredictionRecorder,
        *,
        poll_s: float = 1.0,
        linger_s: float = 30.0,
        check_ranges: bool = True,
        batching: BatchSettings | None = None,
        arriving: Callable[[], int] = lambda: 0,
        observer: BatchObserver | None = None,
        on_load: Callable[[str, int, str], None] | None = None,
    ) -> None:
        self.db = db
        self.artifacts = artifacts
        self.recorder = recorder
        self.poll_s = poll_s
        self.linger_s = linger_s
        self.check_ranges = check_ranges
        self.batching = batching or BatchSettings()
        self.arriving = arriving
        self.observer = observer
        self.on_load = on_load or (lambda model, version, outcome: None)
        self.state = ServingState()
        self._rules: dict[str, Inputs] = {}
        self._unreadable: set[str] = set()
        self._retiring: dict[VersionKey, tuple[float, Live]] = {}
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Start polling (the first refresh runs at once, in the background)."""
        self._task = asyncio.create_task(self._poll(), name="keel-serving-poll")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        lives = [*self.state.live.values(), *(live for _, live in self._retiring.values())]
        self.state = ServingState(loaded=self.state.loaded)
        self._retiring.clear()
        for live in lives:
            await asyncio.to_thread(live.batcher.close)

    async def _poll(self) -> None:
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("refreshing the serving plans failed; keeping the current ones")
            await self._retire()
            await asyncio.sleep(self.poll_s)

    async def refresh(self) -> bool:
        """Apply the store's plans and input policies if they changed; True when the state was
        replaced."""
        async with self._lock:
            stamp = await asyncio.to_thread(deployments.serving_stamp, self.db)
            moved = stamp != self.state.stamp
            plans = await asyncio.to_thread(deployments.serving_plans, self.db) if moved else None
            names = sorted(plans if plans is not None else self.state.plans)
            rules = await asyncio.to_thread(self._read_rules, names)
            if plans is None and rules == self._rules:
                return False
            self._rules = rules
            if plans is not None:
                await self._apply(plans, stamp)
            else:
                self.state = replace(self.state, live=self._with_rules(self.state.live))
            return True

    def _read_rules(self, names: list[str]) -> dict[str, Inputs]:
        """The input policy of each model (the default where it has none)."""
        from keel.registry.governance import policy_in

        found: dict[str, Inputs] = {}
        with self.db.read() as conn:
            for name in names:
                try:
                    policy = policy_in(conn, name)
                except KeelError as exc:  # a stored policy this server cannot read
                    if name not in self._unreadable:
                        log.error(
                            "the policy of %s cannot be read (%s); keeping its inputs rules",
                            name,
                            exc,
                        )
                        self._unreadable.add(name)
                    found[name] = self._rules.get(name, Inputs())
                    continue
                self._unreadable.discard(name)
                found[name] = policy.inputs if policy is not None else Inputs()
        return found

    def _schema(self, served: ServedModel) -> InputSchema | None:
        signature = served.loaded.signature
        if signature is None:
            return None
        rules = self._rules.get(served.model_name, Inputs())
        return InputSchema(signature, check_ranges=self.check_ranges, rules=rules)

    def _with_rules(self, live: dict[VersionKey, Live]) -> dict[VersionKey, Live]:
        """``live`` with every schema under its model's current input policy."""
        out = dict(live)
        for key, entry in live.items():
            rules = self._rules.get(key[0], Inputs())
            if entry.schema is not None and entry.schema.rules != rules:
                out[key] = replace(entry, schema=entry.schema.with_rules(rules))
        return out

    async def _apply(self, plans: dict[str, ServingPlan], stamp: Any) -> None:
        current = self.state
        live = dict(current.live)
        failures: dict[str, str] = {}
        for key in sorted(_needed(plans) - set(live)):
            revived = self._retiring.pop(key, None)
            if revived is not None:
                live[key] = revived[1]
                continue
            try:
                live[key] = await self._load(*key)
            except Exception as exc:
                failures[key[0]] = f"version {key[1]}: {type(exc).__name__}: {exc}"
                log.error("cannot serve %s/%s: %s", key[0], key[1], exc)
        chosen: dict[str, ServingPlan] = {}
        for model, plan in plans.items():
            if model not in failures:
                chosen[model] = plan
            elif model in current.plans:  # keep serving what it served before
                chosen[model] = current.plans[model]
        now = time.monotonic()
        keep = _needed(chosen)
        for key in set(live) - keep:
            self._retiring[key] = (now, live.pop(key))
        # after a failure the stamp is forgotten, so the next poll tries again
        kept_stamp = None if failures else stamp
        live = self._with_rules(live)  # revived versions may have lingered under older rules
        self.state = ServingState(chosen, live, kept_stamp, loaded=True, failures=failures)
        # Everything loaded so far (modules, models) lives as long as the server: moving it out
        # of the collector's sight keeps full collections from pausing requests (200 ms pauses
        # at the 99.5th percentile before this, with pandas and scikit-learn in the heap).
        gc.freeze()

    async def _load(self, model: str, version: int) -> Live:
        def build() -> ServedModel:
            loaded = loading.load(self.db, self.artifacts, ModelRef(model, version=version))
            return ServedModel(loaded, check_ranges=self.check_ranges)

        try:
            served = await asyncio.to_thread(build)
        except Exception:
            self.on_load(model, version, "failed")
            raise
        self.on_load(model, version, "loaded")
        batcher = MicroBatcher(
            served,
            self.recorder,
            asyncio.get_running_loop(),
            max_rows=self.batching.max_rows,
            max_wait_s=self.batching.max_wait_s,
            arriving=self.arriving,
            observer=self.observer,
        )
        log.info("loaded %s/%s (sha256 %s)", model, version, served.sha256[:12])
        return Live(served, batcher, self._schema(served))

    async def _retire(self) -> None:
        now = time.monotonic()
        needed = self.state.needed()
        for key, (since, live) in list(self._retiring.items()):
            if key in needed:  # serving again (revived by a newer plan)
                self._retiring.pop(key, None)
            elif now - since >= self.linger_s:
                self._retiring.pop(key, None)
                await asyncio.to_thread(live.batcher.close)
                log.info("stopped serving %s/%s", *key)

    def readiness(self) -> dict[str, Any]:
        """Ready once the first plans are applied and every version they name is loaded."""
        state = self.state
        ready = state.loaded and not state.failures
        return {
            "ready": ready,
            "models": {
                name: {
                    "stable": plan.stable,
                    "candidate": plan.candidate,
                    "strategy": plan.strategy,
                }
                for name, plan in sorted(state.plans.items())
            },
            "failures": state.failures,
        }
