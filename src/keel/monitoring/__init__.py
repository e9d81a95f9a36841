"""Monitoring: reads the prediction log and says, per window, how the model is doing and why.

- ``drift/``: per-feature drift tests against a bounded reference profile, with effect sizes and
  Benjamini-Hochberg control, plus a multivariate domain classifier;
- ``estimation``: label-free performance estimates (CBPE) for windows whose labels are missing;
- ``detectors``: a streaming accuracy-drop detector over prediction outcomes;
- ``operations``: latency, throughput, error rate and cost per window;
- ``windows`` / ``runner``: incremental windowing of the log (``keel monitor run``);
- ``alerts`` / ``sinks``: alert rules with firing and resolved states, delivered to sinks.
"""
