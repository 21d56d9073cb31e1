"""Exit files: how a rank's end is recorded so that it survives the server (and the launcher) dying.

The rank's keeper (:mod:`.launcherd`) writes ``log_dir/exit.<rank>`` once, when the command ends, as one
``write()`` of ``"<status>\n"``: the shell's convention, the exit code or 128 + N when the command was killed by
signal N; or ``"126 <reason>"`` when it could not enter the working directory. A reader treats a file without the
final newline as not yet written.
"""

from __future__ import annotations

import signal
from pathlib import Path

from gpucloud.service.executors.base import ExitStatus


def read_exit_file(path: Path) -> ExitStatus | None:
    """The status recorded in an exit file, or ``None`` if it is absent or not completely written."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not text.endswith("\n"):
        return None
    code_text, _, reason = text.strip().partition(" ")
    try:
        code = int(code_text)
    except ValueError:
        return ExitStatus(None, f"unreadable exit file {path.name}: {text.strip()!r}")
    return status_from_code(code, reason)


def status_from_code(code: int, reason: str = "") -> ExitStatus:
    """Turn a shell status (exit code, or 128 + signal) into an :class:`ExitStatus` with a readable reason."""
    if reason:
        return ExitStatus(code, reason)
    if 128 < code < 128 + signal.NSIG:
        return ExitStatus(code, f"killed by signal {code - 128}{_signal_name(code - 128)}")
    return ExitStatus(code, f"exit code {code}")


def _signal_name(number: int) -> str:
    try:
        return f" ({signal.Signals(number).name})"
    except ValueError:
        return ""
