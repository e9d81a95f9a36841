"""Demos run by ``keel demo`` / ``make demo``."""
