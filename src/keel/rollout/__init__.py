"""Rollout: the control plane of a deployment. Serving applies a deployment's traffic split and
logs every answer; rollout reads that log and decides whether the candidate moves on, wins, or
goes back.

- ``actions``: deploy (replace, canary, A/B, shadow), promote and roll back, each audited;
- ``limits``: the policy's limits, frozen into a deployment when it starts;
- ``srm``: sample ratio mismatch, the check that the split is what was configured;
- ``sequential``: an always-valid sequential test (mSPRT), so looking at an A/B test every
  minute does not inflate false positives;
- ``analysis``: one step's comparison of candidate and stable (errors, latency p99, accuracy
  from labels or estimates), with a verdict: pass, breach or wait;
- ``controller``: one reconcile step per running deployment (``advance``), for every model
  (``advance_all``), and a bounded ``watch`` loop;
- ``notices``: the alert and the notification a breached rollout raises.

Rollout imports monitoring, evaluation, registry, store and domain; never serving or the faces.
"""
