"""Pieces every self-contained HTML report shares: the inlined chart library, number
formatting and tables (used by evaluation and monitoring reports)."""

from __future__ import annotations

import html
from importlib import resources
from typing import Any


def asset(name: str) -> str:
    return resources.files("keel").joinpath("_assets", "uplot", name).read_text(encoding="utf-8")


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.1f}"
    return html.escape("" if value is None else str(value))


def table(headers: list[str], rows: list[list[Any]], raw: bool = False) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if raw else fmt(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"
