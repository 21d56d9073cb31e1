"""How the CLI prints: Rich tables for people, ``--json`` for scripts, and small value formatters."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

#: The ``--json`` option every command takes.
JsonOption = Annotated[bool, typer.Option("--json", help="Print the server's JSON instead of a table.")]


def console() -> Console:
    """A console on the current stdout (created per call, so test runners that swap stdout see the output)."""
    return Console(highlight=False, soft_wrap=False)


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout, exactly as the server sent it."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def cell(value: object) -> Text:
    """A table cell: :class:`Text` as is, anything else as plain text (never read as Rich markup)."""
    if isinstance(value, Text):
        return value
    return Text("" if value is None else str(value))


def print_table(columns: Sequence[str], rows: Iterable[Sequence[object]], *, title: str | None = None,
                empty: str = "nothing to show") -> None:
    """A table with one row per item; ``empty`` is printed instead of an empty table."""
    cells = [[cell(value) for value in row] for row in rows]
    out = console()
    if not cells:
        out.print(Text(empty, style="dim"))
        return
    table = Table(title=title, title_justify="left", header_style="bold", box=None, pad_edge=False)
    for name in columns:
        table.add_column(name, overflow="fold")
    for row in cells:
        table.add_row(*row)
    out.print(table)


def print_fields(pairs: Iterable[tuple[str, object]], *, title: str | None = None) -> None:
    """``name  value`` lines (a two-column table without a header)."""
    table = Table(title=title, title_justify="left", show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, value in pairs:
        table.add_row(name, cell(value))
    console().print(table)


# --- formatters ----------------------------------------------------------------------------------------------


def fmt_time(epoch: float | None) -> str:
    """Local time ``2024-05-01 13:45:02``; empty for None."""
    if epoch is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def fmt_when(epoch: float | None) -> str:
    """Short local time for tables: ``05-01 13:45``; empty for None."""
    if epoch is None:
        return ""
    return time.strftime("%m-%d %H:%M", time.localtime(epoch))


def fmt_duration(seconds: float | None) -> str:
    """``5400`` → ``1h30m``; ``90`` → ``1m30s``; ``2.25`` → ``2.2s`` (one decimal below 10 s)."""
    if seconds is None:
        return ""
    if seconds < 10 and seconds != int(seconds):
        return f"{seconds:.1f}".rstrip("0").rstrip(".") + "s"
    left = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts[:2]) or "0s"


def fmt_shape(job: Mapping[str, Any]) -> str:
    """``2×8`` for a gang of nodes, else ``4``; with the GPU type when one is set: ``2×8 H100``."""
    gpus = int(job.get("num_gpus") or 0)
    nodes = job.get("nodes")
    shape = f"{nodes}×{gpus // int(nodes)}" if nodes else str(gpus)
    gpu_type = job.get("assigned_gpu_type") or job.get("gpu_type")
    return f"{shape} {gpu_type}" if gpu_type else shape


def fmt_command(argv: Sequence[str], width: int = 40) -> str:
    """The command line, shortened to ``width`` characters."""
    text = " ".join(argv)
    return text if len(text) <= width else text[: width - 1] + "…"


def fmt_placement(placement: Sequence[Mapping[str, Any]] | None) -> str:
    """``node-a[0,1] node-b[0,1]``; empty when not placed."""
    if not placement:
        return ""
    return " ".join(f"{p['node']}[{','.join(str(g) for g in p['gpus'])}]" for p in placement)


def state_style(state: str) -> str:
    """A Rich style per job state."""
    return {
        "pending": "yellow", "admitted": "cyan", "running": "green", "preempting": "magenta",
        "succeeded": "bold green", "failed": "bold red", "cancelled": "dim", "timed_out": "red",
    }.get(state, "")


def styled_state(state: str) -> Text:
    """The state as coloured text."""
    return Text(state, style=state_style(state))
