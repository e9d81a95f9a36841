"""Evaluation: metrics, suites, naive baselines, comparison with the champion, gates, reports."""
