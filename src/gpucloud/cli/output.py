"""How the CLI prints: aligned tables and ``name value`` fields for people, ``--json`` for scripts, and small value
formatters. Standard library only (Rich costs more to import than a whole command may take).

On a terminal, tables are coloured and fitted to its width (the widest columns are cut with ``…``); when stdout
is a pipe or a file nothing is cut or wrapped — every row is one line, however long — and nothing is coloured.
``NO_COLOR`` turns colours off on a terminal too.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence

from gpucloud.cli.command import colour_on

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from typing import Any

#: ANSI SGR codes of the styles used.
STYLES = {
    "bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35", "cyan": "36",
    "bright_red": "91", "bright_green": "92", "bright_yellow": "93", "bright_blue": "94", "bright_magenta": "95",
    "bright_cyan": "96",
}
ELLIPSIS = "…"
#: A column is never cut narrower than this to fit a terminal.
MIN_CUT_WIDTH = 6


def width_of(text: str) -> int:
    """Terminal columns ``text`` takes (East Asian wide characters take two)."""
    if text.isascii():
        return len(text)
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 0 if unicodedata.combining(c) else 1 for c in text)


def sgr(style: str) -> str:
    """The escape sequence that starts ``style`` (e.g. ``"bold green"``); "" for no style."""
    codes = [STYLES[word] for word in style.split() if word in STYLES]
    return f"\x1b[{';'.join(codes)}m" if codes else ""


class Text:
    """Text in styled pieces; the styles are shown only on a terminal. Sliced and measured by characters."""

    __slots__ = ("pieces",)

    def __init__(self, text: str = "", style: str = "") -> None:
        self.pieces: list[tuple[str, str]] = [(text, style)] if text else []

    def append(self, text: str, style: str = "") -> Text:
        if text:
            self.pieces.append((text, style))
        return self

    def append_text(self, other: Text) -> Text:
        self.pieces.extend(other.pieces)
        return self

    @property
    def plain(self) -> str:
        return "".join(text for text, _ in self.pieces)

    def __len__(self) -> int:
        return sum(len(text) for text, _ in self.pieces)

    def __add__(self, other: Text) -> Text:
        return Text().append_text(self).append_text(other)

    def __getitem__(self, part: slice) -> Text:
        start, stop, _ = part.indices(len(self))
        out, at = Text(), 0
        for text, style in self.pieces:
            lo, hi = max(start - at, 0), min(stop - at, len(text))
            if lo < hi:
                out.append(text[lo:hi], style)
            at += len(text)
        return out

    def render(self, colour: bool) -> str:
        if not colour:
            return self.plain
        out = []
        for text, style in self.pieces:
            code = sgr(style)
            out.append(f"{code}{text}\x1b[0m" if code else text)
        return "".join(out)


def cell(value: object) -> Text:
    """A table cell: :class:`Text` as is, anything else as plain text on one line."""
    if isinstance(value, Text):
        return value
    text = "" if value is None else str(value)
    return Text(" ".join(text.splitlines()) if "\n" in text or "\r" in text else text)


def terminal_width(stream: Any = None) -> int | None:
    """The terminal's width when ``stream`` (default: stdout) is one, else None (nothing is fitted)."""
    stream = stream or sys.stdout
    isatty = getattr(stream, "isatty", None)
    if not (isatty and isatty()):
        return None
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):
        return 80


def _cut(text: Text, width: int) -> Text:
    if width_of(text.plain) <= width:
        return text
    out = text[: max(width - 1, 0)]
    while width_of(out.plain) > width - 1:
        out = out[: len(out) - 1]
    return out.append(ELLIPSIS)


def fit(widths: list[int], room: int, gap: int = 2) -> list[int]:
    """Column widths that fit in ``room`` columns: the widest are narrowed first, none below
    :data:`MIN_CUT_WIDTH` (or its own width)."""
    widths = list(widths)
    while sum(widths) + gap * (len(widths) - 1) > room:
        widest = max(range(len(widths)), key=lambda i: widths[i])
        if widths[widest] <= MIN_CUT_WIDTH:
            break
        widths[widest] -= 1
    return widths


def table_lines(columns: Sequence[str], rows: Sequence[Sequence[Text]], width: int | None) -> list[Text]:
    """The lines of a table: a bold header and one line per row, columns two spaces apart; fitted to ``width``
    when given (a terminal), else as wide as the widest cell."""
    header = [Text(name, "bold") for name in columns]
    widths = [max(width_of(c.plain) for c in column) for column in zip(header, *rows, strict=True)]
    if width is not None:
        widths = fit(widths, width)
    lines = []
    for row in (header, *rows):
        line = Text()
        for i, (value, w) in enumerate(zip(row, widths, strict=True)):
            shown = _cut(value, w)
            line.append_text(shown)
            if i < len(row) - 1:
                line.append(" " * (w - width_of(shown.plain) + 2))
        lines.append(line)
    return lines


def echo(line: Text | str = "", *, err: bool = False) -> None:
    """Print one line (coloured when the stream is a terminal)."""
    stream = sys.stderr if err else sys.stdout
    text = line.render(colour_on(stream)) if isinstance(line, Text) else line
    stream.write(text + "\n")


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout, exactly as the server sent it."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def print_table(columns: Sequence[str], rows: Iterable[Sequence[object]], *, title: str | None = None,
                empty: str = "nothing to show") -> None:
    """A table with one row per item; ``empty`` is printed instead of an empty table."""
    cells = [[cell(value) for value in row] for row in rows]
    if not cells:
        echo(Text(empty, "dim"))
        return
    if title:
        echo(Text(title, "bold"))
    for line in table_lines(columns, cells, terminal_width()):
        echo(line)


def print_fields(pairs: Iterable[tuple[str, object]], *, title: str | None = None) -> None:
    """``name  value`` lines: the names bold and aligned, the values never cut."""
    items = [(Text(name, "bold"), cell(value)) for name, value in pairs]
    if title:
        echo(Text(title, "bold"))
    pad = max((len(name) for name, _ in items), default=0) + 2
    for name, value in items:
        echo(Text().append_text(name).append(" " * (pad - len(name))).append_text(value))


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
    return text if len(text) <= width else text[: width - 1] + ELLIPSIS


def fmt_placement(placement: Sequence[Mapping[str, Any]] | None) -> str:
    """``node-a[0,1] node-b[0,1]``; empty when not placed."""
    if not placement:
        return ""
    return " ".join(f"{p['node']}[{','.join(str(g) for g in p['gpus'])}]" for p in placement)


def state_style(state: str) -> str:
    """A style per job state."""
    return {
        "pending": "yellow", "admitted": "cyan", "running": "green", "preempting": "magenta",
        "succeeded": "bold green", "failed": "bold red", "cancelled": "dim", "timed_out": "red",
    }.get(state, "")


def styled_state(state: str) -> Text:
    """The state as coloured text."""
    return Text(state, state_style(state))
