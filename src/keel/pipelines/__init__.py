"""Retraining pipelines: steps, their composition, executors and the stored record of runs."""
