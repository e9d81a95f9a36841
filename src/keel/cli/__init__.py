"""The command line: a thin face over the SDK; no logic of its own."""
