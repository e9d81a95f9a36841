"""How the CLI shows results: Rich tables for people, JSON for scripts."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _width() -> int | None:
    """Use the terminal's width; when piped, wide enough that lines are not cut."""
    return None if sys.stdout.isatty() else 160


console = Console(highlight=False, width=_width())
errors = Console(stderr=True, highlight=False, soft_wrap=True)


def _default(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)


def print_json(value: Any) -> None:
    import orjson

    if isinstance(value, list):
        value = [v.to_dict() if hasattr(v, "to_dict") else v for v in value]
    elif hasattr(value, "to_dict"):
        value = value.to_dict()
    sys.stdout.write(
        orjson.dumps(
            value, default=_default, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
        ).decode()
    )
    sys.stdout.write("\n")


def when(value: datetime | str | None) -> str:
    """A timestamp short enough for a table (UTC, to the second)."""
    if value is None:
        return "now"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def short(text: str | None, width: int = 12) -> str:
    """The first ``width`` characters of an id, hash or commit: a prefix the commands that take
    one accept as it is (``keel runs show 7f166407``), so nothing is appended to it."""
    return "" if not text else text[:width]


#: shown where a listing leaves items out
CUT = "..."


def listed(items: Iterable[Any], limit: int, total: int | None = None) -> str:
    """``items`` joined by commas, at most ``limit`` of them; a cut list ends with
    ``..., (+N more)`` (``total``: how many there are, when ``items`` holds only some)."""
    every = [str(item) for item in items]
    shown = every[:limit]
    count = len(every) if total is None else max(total, len(every))
    text = ", ".join(shown)
    if count > len(shown):
        text += f", {CUT} (+{count - len(shown)} more)"
    return text


def pairs(mapping: dict[str, Any], limit: int = 4) -> str:
    return listed((f"{k}={_fmt(v)}" for k, v in mapping.items()), limit)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def print_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None
) -> None:
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    count = 0
    for row in rows:
        table.add_row(*("" if v is None else escape(_fmt(v)) for v in row))
        count += 1
    if count == 0:
        console.print(f"[dim]{title + ': ' if title else ''}nothing to show[/dim]")
        return
    console.print(table)


def fail(message: str) -> None:
    errors.print(f"[bold red]error:[/bold red] {escape(message)}", markup=True)
