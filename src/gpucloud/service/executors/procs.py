"""Process identity on this host, read from ``/proc`` (standard library only: the launcher imports it too).

A process is identified by its pid *and* its start time in clock ticks since boot (field 22 of
``/proc/<pid>/stat``), on one boot (``/proc/sys/kernel/random/boot_id``): exact values, so a reused pid is never
mistaken for the process that was started, with no tolerance window.
"""

from __future__ import annotations

import contextlib
import os


def boot_id() -> str:
    """This boot's random id (changes at every reboot)."""
    with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
        return f.read().strip()


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (field 3 is index 0), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw[raw.rfind(b")") + 2:].decode("ascii", "replace").split()


def start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot); None if there is no such process."""
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def is_running(pid: int, started: int) -> bool:
    """True if ``pid`` is a live (not zombie) process that started at ``started`` ticks: not a reused pid."""
    fields = _stat(pid)
    return fields is not None and int(fields[19]) == started and fields[0] not in ("Z", "X")


def group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_is_ours(pgid: int, leader_started: int, boot: str) -> bool:
    """True if process group ``pgid`` still has a live member and is the group whose leader started then.

    A pgid cannot be handed to a new process while its group has members, so a group whose leader is gone
    is still ours on the same boot. If a process with pid ``pgid`` exists, it must be our leader.
    """
    if boot != boot_id() or not group_exists(pgid):
        return False
    fields = _stat(pgid)
    if fields is not None:
        if int(fields[19]) != leader_started:
            return False
        if fields[0] not in ("Z", "X"):
            return True
    return _has_live_member(pgid)


def _has_live_member(pgid: int) -> bool:
    """Whether a non-zombie process is in group ``pgid`` (a scan of /proc: only for rare cases)."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = _stat(int(name))
        if fields is not None and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def signal_group(pgid: int, sig: int) -> None:
    """Send ``sig`` to a process group; a group that is already gone is not an error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
