"""The web dashboard (``keel ui``, and ``/ui`` in ``keel serve``)."""

from keel.web.dashboard.app import create_dashboard

__all__ = ["create_dashboard"]
