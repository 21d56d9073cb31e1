"""Turn user errors into one clear red line on stderr and exit code 2, never a traceback.

Use :func:`handle_errors` on a Typer command, or :func:`reported_errors` around a block::

    @handle_errors
    def simulate(...) -> None: ...

Caught: every :class:`~gpucloud.errors.GpucloudError` (so :class:`~gpucloud.errors.InputError`,
``UnknownNameError`` and trace errors) and :class:`OSError` (a file that cannot be read or written).
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from gpucloud.errors import GpucloudError

#: The exit code of a command that stopped on bad input.
EXIT_INPUT_ERROR = 2

P = ParamSpec("P")
R = TypeVar("R")


def error_line(exc: BaseException) -> str:
    """The one line shown for ``exc``: ``error: ...`` (newlines folded into ``; ``)."""
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        text = f"{where}: {exc.strerror}" if where else exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    return "error: " + "; ".join(part.strip() for part in text.splitlines() if part.strip())


def report(exc: BaseException) -> None:
    """Print :func:`error_line` of ``exc`` in red on stderr."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    console.print(Text(error_line(exc), style="bold red"))


@contextmanager
def reported_errors() -> Iterator[None]:
    """Report a :class:`GpucloudError` or :class:`OSError` raised inside as one line and exit 2."""
    try:
        yield
    except (GpucloudError, OSError) as exc:
        report(exc)
        raise typer.Exit(EXIT_INPUT_ERROR) from None


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate a command so that user errors end it with one red line and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with reported_errors():
            return func(*args, **kwargs)

    return wrapper
