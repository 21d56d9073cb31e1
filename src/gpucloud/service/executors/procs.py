"""Process identity on this machine: is a pid still the process we started (pid + start time)?"""

from __future__ import annotations

import contextlib
import os

import psutil

# psutil derives start times from the boot time, which the kernel may report a second apart between reads.
START_TIME_TOLERANCE_S = 1.0


def start_time(pid: int) -> float | None:
    """The start time of process ``pid`` (seconds since the epoch), ``None`` if there is no such process."""
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def boot_time() -> float:
    return float(psutil.boot_time())


def same_boot(recorded: float) -> bool:
    return abs(boot_time() - recorded) <= START_TIME_TOLERANCE_S * 2


def is_running(pid: int, started: float) -> bool:
    """True if ``pid`` is a live (not zombie) process that started at ``started`` — not a reused pid."""
    try:
        proc = psutil.Process(pid)
        if abs(float(proc.create_time()) - started) > START_TIME_TOLERANCE_S:
            return False
        return bool(proc.status() != psutil.STATUS_ZOMBIE)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_is_ours(pgid: int, leader_started: float, boot: float) -> bool:
    """True if process group ``pgid`` still has a live member and is the group whose leader started then.

    A pgid cannot be handed to a new process while its group has members, so a group whose leader is gone
    is still ours on the same boot. If a process with pid ``pgid`` exists, it must be our leader.
    """
    if not same_boot(boot) or not group_exists(pgid):
        return False
    try:
        leader = psutil.Process(pgid)
        if leader_started <= 0 or abs(float(leader.create_time()) - leader_started) > START_TIME_TOLERANCE_S:
            return False
        if leader.status() != psutil.STATUS_ZOMBIE:
            return True
    except psutil.NoSuchProcess:
        pass
    return _has_live_member(pgid)


def _has_live_member(pgid: int) -> bool:
    """Whether a non-zombie process is in group ``pgid`` (a scan of all processes: only for rare cases)."""
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return False


def signal_group(pgid: int, sig: int) -> None:
    """Send ``sig`` to a process group; a group that is already gone is not an error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def reap(pid: int) -> bool:
    """Reap ``pid`` if it is our exited child (never blocks); True once it is reaped or not our child."""
    try:
        got, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return got == pid


def wait_child(pid: int) -> None:
    """Reap our child ``pid``, blocking until it has ended (only for a child already killed)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
