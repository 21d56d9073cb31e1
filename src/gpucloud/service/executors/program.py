"""Check that a command can start, as ``execvp`` would run it: its working directory and its program.

It runs on the rank's host, in the process that is about to become the command, after it took on the job's OS
account: so "permission denied" is the job owner's, not the server's. The common failures — a missing program, a
missing working directory, a file that is not executable, a script whose interpreter is missing — become a
:class:`CannotStart` with a clear reason, which fails the launch. Standard library only: the launcher
(:mod:`.launcherd`) imports it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


class CannotStart(Exception):
    """The command cannot start; the message says why."""


def check_can_start(argv: tuple[str, ...] | list[str], cwd: str, env: dict[str, str]) -> tuple[str, str]:
    """Return the absolute working directory and the program's path (what ``execvp`` would run); raise
    :class:`CannotStart` saying why the command cannot start.

    A relative ``cwd`` is taken relative to the current working directory.
    """
    if not argv or not argv[0]:
        raise CannotStart("empty command: no program to run")
    workdir = _check_cwd(cwd)
    program = argv[0]
    if "/" in program:
        path = workdir / program
        _check_executable(path, program)
    else:
        path = _search_path(program, env.get("PATH", DEFAULT_PATH), workdir)
    _check_interpreter(path, program)
    return str(workdir), str(path)


def _check_cwd(cwd: str) -> Path:
    workdir = Path(os.path.abspath(cwd or "."))
    if not workdir.exists():
        raise CannotStart(f"working directory {cwd} does not exist")
    if not workdir.is_dir():
        raise CannotStart(f"working directory {cwd} is not a directory")
    if not os.access(workdir, os.X_OK):
        raise CannotStart(f"working directory {cwd}: permission denied")
    return workdir


def _problem(path: Path) -> str | None:
    """Why ``path`` cannot be executed, or ``None`` if it can."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "not found"
    except NotADirectoryError:
        return "not found (a parent is not a directory)"
    except PermissionError:
        return "permission denied"
    if stat.S_ISDIR(mode):
        return "is a directory"
    if not stat.S_ISREG(mode):
        return "is not a regular file"
    if not os.access(path, os.X_OK):
        return "permission denied (not executable)"
    return None


def _check_executable(path: Path, program: str) -> None:
    problem = _problem(path)
    if problem is not None:
        raise CannotStart(f"cannot run program {program!r}: {path} {problem}")


def _search_path(program: str, search: str, workdir: Path) -> Path:
    denied: Path | None = None
    for entry in search.split(os.pathsep):
        candidate = workdir / entry / program  # an empty or relative entry is relative to the job's cwd
        problem = _problem(candidate)
        if problem is None:
            return candidate
        if problem.startswith("permission denied") and denied is None:
            denied = candidate
    if denied is not None:
        raise CannotStart(f"cannot run program {program!r}: {denied} permission denied (not executable)")
    raise CannotStart(f"program {program!r} not found (PATH={search})")


def _check_interpreter(path: Path, program: str) -> None:
    """A ``#!`` script whose interpreter is missing fails at exec time with a confusing ENOENT: say so."""
    try:
        with path.open("rb") as f:
            head = f.read(256)
    except OSError:
        return  # unreadable scripts fail in the interpreter, with its own message
    if not head.startswith(b"#!"):
        return
    line = head[2:].split(b"\n", 1)[0].strip()
    if not line:
        return
    interpreter = Path(os.fsdecode(line.split()[0]))
    problem = _problem(interpreter)
    if problem is not None:
        raise CannotStart(f"cannot run program {program!r}: its interpreter {interpreter} {problem}")
