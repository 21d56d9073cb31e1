"""One clear red line on stderr and exit code 2 for user errors in the Typer commands (``server``,
``simulate``), never a traceback — the same line as the light commands print (:mod:`gpucloud.cli.command`).

Use :func:`handle_errors` on a Typer command, or :func:`reported_errors` around a block. Caught: every
:class:`~gpucloud.errors.GpucloudError` and :class:`OSError`; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import typer

from gpucloud.cli.command import EXIT_INPUT_ERROR, report
from gpucloud.errors import GpucloudError

P = ParamSpec("P")
R = TypeVar("R")


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
