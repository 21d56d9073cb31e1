"""The wrapper that runs one rank of a local job and records how it ended, even if the server is gone.

The wrapper is a short bash script (a Python wrapper would cost ~25 ms of CPU per launch; bash ~2 ms). It is
started in a session of its own and then:

1. enters the job's working directory (failing that, it writes ``126 <reason>`` to the exit file);
2. starts the command with job control on, so the command gets a process group of its own (pgid = its pid)
   with default signal dispositions (no inherited ignored SIGINT/SIGQUIT), then turns job control off;
3. forwards SIGTERM, SIGINT, SIGHUP, SIGUSR1 and SIGUSR2 that it receives to the command's process group;
4. writes the command's pid (= its pgid) to fd 3, closes fd 3 and its own stderr (so no shell chatter
   lands in the job's log);
5. waits for the command and writes its status, as one ``write()`` of ``"<status>\\n"``, to the exit file.

The status is the shell's ``$?``: the exit code, or 128 + N when the command was killed by signal N.
A reader treats a file without the final newline as not yet written.
"""

from __future__ import annotations

import signal
from pathlib import Path

from gpucloud.service.executors.base import ExitStatus

SCRIPT = r"""
set -m
f=$1
cd -P -- "$2" 2>/dev/null || { printf '126 cannot enter the working directory %s\n' "$2" > "$f"; exit 126; }
shift 2
( exec -- "$@" ) &
c=$!
set +m
for s in TERM INT HUP USR1 USR2; do trap "kill -$s -- -$c 2>/dev/null" "$s"; done
printf '%s\n' "$c" >&3
exec 3>&- 2>/dev/null
while :; do
  wait "$c"; rc=$?
  if [ "$rc" -gt 128 ] && kill -0 "$c" 2>/dev/null; then continue; fi
  break
done
printf '%s\n' "$rc" > "$f"
exit 0
"""

STATUS_FD = 3


def wrapper_argv(bash: str, exit_file: Path, cwd: str, argv: tuple[str, ...]) -> list[str]:
    """The argv that runs ``argv`` in ``cwd`` under the wrapper, recording its status in ``exit_file``."""
    # -p: do not read BASH_ENV/ENV or import shell functions from the job's environment.
    return [bash, "-p", "-c", SCRIPT, "gpucloud-wrapper", str(exit_file), cwd, *argv]


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
