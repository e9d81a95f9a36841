"""One module per flavour case; each defines ``CASE`` (listed in ``tests.conformance.cases``)."""
