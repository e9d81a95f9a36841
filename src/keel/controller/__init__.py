"""The reconciler: reads each model's policy and monitoring state, fires retrains, drives them
through gates and rollout, and records why."""
