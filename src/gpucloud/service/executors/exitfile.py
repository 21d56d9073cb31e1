"""Exit files: how a rank's end is recorded on its host, so that it survives the server (and the launcher) dying.

The rank's keeper (:mod:`.launcherd`) writes ``exit.<attempt>.<rank>`` in the job's directory once, as one
``write()`` of one JSON line: ``code`` (the shell's status: the exit code, or 128 + N when killed by signal N),
``at`` (the host's wall-clock time), ``started`` (False: the command never ran), and ``reason`` / ``lost`` when
there is more to say. A reader treats a file without its final newline as not yet written.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

from gpucloud.service.executors.base import ExitStatus


def read_exit_file(path: Path) -> tuple[ExitStatus, bool] | None:
    """The status recorded in an exit file and whether the command started; ``None`` if absent or incomplete."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not text.endswith("\n"):
        return None
    try:
        values = json.loads(text)
        code = values["code"]
        at = values.get("at")
        status = status_from_code(int(code) if code is not None else None, str(values.get("reason") or ""),
                                  float(at) if at is not None else None, bool(values.get("lost")))
        return status, bool(values.get("started", True))
    except (ValueError, KeyError, TypeError):
        return ExitStatus(None, f"unreadable exit file {path.name}: {text.strip()[:200]!r}"), True


def status_from_code(code: int | None, reason: str = "", at: float | None = None, lost: bool = False) -> ExitStatus:
    """Turn a shell status (exit code, or 128 + signal) into an :class:`ExitStatus` with a readable reason."""
    if reason or code is None:
        return ExitStatus(code, reason or "ended", at, lost)
    if 128 < code < 128 + signal.NSIG:
        return ExitStatus(code, f"killed by signal {code - 128}{_signal_name(code - 128)}", at, lost)
    return ExitStatus(code, f"exit code {code}", at, lost)


def _signal_name(number: int) -> str:
    try:
        return f" ({signal.Signals(number).name})"
    except ValueError:
        return ""
