"""What ``gpucloud squeue``, ``scancel``, ``sacct`` and ``sinfo`` share as commands: Slurm's ``-h`` (no header
line, not help: ``--help`` prints the help) and comma-separated lists of names."""

from __future__ import annotations

from gpucloud.cli.command import Arg, Command, Group, Run

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

HELP = Arg("--help", action="help", help="Show this help and exit.")
NOHEADER = Arg("-h", "--noheader", action="store_true", help="Print no header line.")


class SlurmCommand(Command):
    """A command whose ``-h`` is its own option (Slurm's ``--noheader``); ``--help`` still prints the help."""

    def options(self) -> dict[str, Any]:
        return {**super().options(), "add_help": False}


def register(group: Group, name: str, *args: Arg) -> Callable[[Run], Run]:
    """Declare the decorated function as the Slurm-style command ``name`` of ``group``."""

    def add(run: Run) -> Run:
        group.children[name] = SlurmCommand(name, run, [HELP, *args])
        return run

    return add


def names(text: str | None) -> list[str]:
    """``"a, b,,c"`` → ``["a", "b", "c"]``."""
    return [n.strip() for n in (text or "").split(",") if n.strip()]
