"""Benchmark: how often healthy sticky A/B tests stop by mistake, counted by rows or by keys.

Run ``.venv/bin/python bench/ab_units.py`` (well under a minute); one line of JSON per case on
stdout.

What
- Sample-ratio check (``keel.rollout.srm.check``): 2,000 healthy 50/50 splits of 400 keys, each
  key on one variant (sticky), with 1, 5 or 20 requests per key, or uneven counts (geometric,
  mean 8; 1 + Poisson(9)). The share of splits flagged at the default level (0.001) and at 0.05,
  counting rows (what the check did) and distinct keys (what it does now).
- Sequential test (``keel.rollout.sequential``, alpha 0.05, minimum effect 0.01): 400 healthy
  A/B tests on the error rate, each key with its own error propensity (Beta(0.4, 3.6): mean
  0.1, intra-key correlation 0.2), looked at every 40 keys per arm up to 400; the share that
  ever declares a winner, with the variance of rows (``compare_proportions``) and with the
  keys' design effect (``compare_proportions_by_unit``).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from keel.rollout import srm
from keel.rollout.sequential import compare_proportions, compare_proportions_by_unit

HALVES = {"stable": 50.0, "candidate": 50.0}
KINDS: list[Any] = [1, 5, 20, "geometric", "poisson"]


def _per_key(rng: np.random.Generator, kind: Any, size: Any) -> np.ndarray:
    if kind == "geometric":
        return rng.geometric(1 / 8, size)
    if kind == "poisson":
        return 1 + rng.poisson(9, size)
    return np.full(size, kind)


def sample_ratio(kind: Any, sims: int = 2_000, keys: int = 400) -> dict[str, Any]:
    rng = np.random.default_rng(2026)
    on = rng.random((sims, keys)) < 0.5
    rows = _per_key(rng, kind, (sims, keys))
    on_keys, on_rows, all_rows = on.sum(1), (rows * on).sum(1), rows.sum(1)
    out: dict[str, Any] = {"check": "srm", "requests_per_key": kind, "sims": sims}
    for alpha in (srm.DEFAULT_ALPHA, 0.05):
        by_keys = np.mean(
            [srm.check({"stable": keys - int(k), "candidate": int(k)}, HALVES, alpha=alpha).mismatch
             for k in on_keys]
        )  # fmt: skip
        by_rows = np.mean(
            [srm.check({"stable": int(n - c), "candidate": int(c)}, HALVES, alpha=alpha).mismatch
             for c, n in zip(on_rows, all_rows, strict=True)]
        )  # fmt: skip
        out[f"flagged_at_{alpha:g}"] = {"rows": float(by_rows), "keys": float(by_keys)}
    return out


def sequential(kind: Any, sims: int = 400, keys: int = 400, every: int = 40) -> dict[str, Any]:
    rng = np.random.default_rng(21)
    options: dict[str, Any] = {"alpha": 0.05, "minimum_effect": 0.01, "min_rows": 100}
    hits = {"rows": 0, "keys": 0}
    for _ in range(sims):
        arms = []
        for _arm in range(2):
            n = _per_key(rng, kind, keys)
            arms.append((rng.binomial(n, rng.beta(0.4, 3.6, keys)), n))
        found = {"rows": False, "keys": False}
        for k in range(every, keys + 1, every):
            (ss, sn), (cs, cn) = ((s[:k], n[:k]) for s, n in arms)
            if not found["rows"]:
                r = compare_proportions(
                    (int(ss.sum()), int(sn.sum())), (int(cs.sum()), int(cn.sum())), **options
                )
                found["rows"] = r.decision in ("candidate_better", "candidate_worse")
            if not found["keys"]:
                r = compare_proportions_by_unit((ss, sn), (cs, cn), **options)
                found["keys"] = r.decision in ("candidate_better", "candidate_worse")
        for side, hit in found.items():
            hits[side] += hit
    return {
        "check": "sequential",
        "requests_per_key": kind,
        "sims": sims,
        "false_winners": {side: count / sims for side, count in hits.items()},
    }


def main() -> None:
    for kind in KINDS:
        print(json.dumps(sample_ratio(kind)), flush=True)
    for kind in KINDS:
        print(json.dumps(sequential(kind)), flush=True)


if __name__ == "__main__":
    main()
