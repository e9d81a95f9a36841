"""Rollout: the control plane of a deployment. Serving applies a deployment's traffic split and
logs every answer; rollout reads that log and decides whether the candidate moves on, wins, or
goes back.

- ``actions``: deploy (replace, canary, A/B, shadow), promote and roll back, each audited;
- ``limits``: the policy's limits, frozen into a deployment when it starts;
- ``srm``: sample ratio mismatch, the check that the split is what was configured;
- ``units``: what an A/B test counts: distinct entity keys on a sticky deployment, else rows;
- ``sequential``: an always-valid sequential test (mSPRT), so looking at an A/B test every
  minute does not inflate false positives;
- ``window``: the rows a step is judged on, cut from the prediction log by part arrival;
- ``variant_stats``: one version's measurements on a step's rows, counted by key when sticky;
- ``analysis``: one step's comparison of candidate and stable (errors, latency p99, accuracy
  from labels or estimates), with a verdict: pass, breach or wait;
- ``assessment``: what a running deployment should do now, per strategy, from reads only;
- ``controller``: applies it, one guarded transaction per decision (``advance``), for every
  model (``advance_all``), and a bounded ``watch`` loop;
- ``results``: what those moves return (``RolloutStep``, ``Rollback``, ``DeploymentStatus``),
  typed, with ``to_dict`` for the CLI's JSON and the HTTP bodies;
- ``notices``: the alert and the notification a breached rollout raises.

Rollout imports monitoring, evaluation, registry, store and domain; never serving or the faces.
"""
