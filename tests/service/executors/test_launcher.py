"""The launcher process: jobs outlive it, a dead or hanging one is replaced, and exec failures are launch errors."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import psutil
import pytest
from test_local import DEADLINE_S, TrackingExecutor, spec, stored, wait_done

from gpucloud.service.control.loop import ControlLoop
from gpucloud.service.executors.base import ExitStatus, LaunchError
from gpucloud.service.executors.local import LocalExecutor


@pytest.fixture
def ex() -> Iterator[TrackingExecutor]:
    executor = TrackingExecutor()
    yield executor
    for h in executor.handles:
        executor.kill(h)
        executor.poll(h)
    executor.close()


def wait_gone(pid: int) -> None:
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} still alive after {DEADLINE_S}s")


def test_jobs_outlive_a_killed_launcher_and_the_next_launch_starts_a_new_one(
        ex: TrackingExecutor, tmp_path: Path) -> None:
    go = tmp_path / "go"
    first = ex.launch(spec(tmp_path, "sh", "-c", f"while [ ! -e {go} ]; do sleep 0.01; done; exit 6"))
    old = ex.launcher.pid
    assert old is not None
    os.kill(old, signal.SIGKILL)
    wait_gone(old)
    assert ex.poll(first) is None  # still running, and still ours
    (tmp_path / "b").mkdir()
    second = ex.launch(spec(tmp_path / "b", "sh", "-c", "exit 3"))
    assert ex.launcher.pid not in (None, old)
    assert wait_done(ex, second) == ExitStatus(3, "exit code 3")
    assert LocalExecutor().reattach(stored(first))  # a restarted server would find it too
    go.touch()
    assert wait_done(ex, first) == ExitStatus(6, "exit code 6")  # its keeper recorded the exit code


def test_signals_still_reach_a_job_whose_launcher_died(ex: TrackingExecutor, tmp_path: Path) -> None:
    h = ex.launch(spec(tmp_path, "sleep", "60"))
    pid = ex.launcher.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_gone(pid)
    ex.terminate(h)
    assert wait_done(ex, h) == ExitStatus(143, "killed by signal 15 (SIGTERM)")


def test_a_hanging_launcher_fails_the_launch_and_is_replaced(tmp_path: Path) -> None:
    ex = TrackingExecutor()
    ex.launcher.timeout_s = 0.5
    for sub in "abc":
        (tmp_path / sub).mkdir()
    try:
        assert wait_done(ex, ex.launch(spec(tmp_path / "a", "true"))).ok
        hung = ex.launcher.pid
        assert hung is not None
        os.kill(hung, signal.SIGSTOP)
        with pytest.raises(LaunchError, match="no answer from the launcher"):
            ex.launch(spec(tmp_path / "b", "true"))
        wait_gone(hung)  # killed: it would otherwise start the job later
        assert not (tmp_path / "b" / "logs" / "exit.0").exists()
        assert wait_done(ex, ex.launch(spec(tmp_path / "c", "true"))).ok
        assert ex.launcher.pid != hung
    finally:
        for h in ex.handles:
            ex.kill(h)
        ex.close()


def test_closing_the_executor_stops_the_launcher_but_not_the_jobs(ex: TrackingExecutor, tmp_path: Path) -> None:
    h = ex.launch(spec(tmp_path, "sleep", "60"))
    pid = ex.launcher.pid
    assert pid is not None
    ex.close()
    assert ex.launcher.pid is None
    wait_gone(pid)
    assert ex.poll(h) is None
    ex.kill(h)
    assert wait_done(ex, h) == ExitStatus(137, "killed by signal 9 (SIGKILL)")


def test_a_binary_the_kernel_refuses_is_a_launch_error(ex: TrackingExecutor, tmp_path: Path) -> None:
    binary = tmp_path / "other-arch"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120)
    binary.chmod(0o755)
    with pytest.raises(LaunchError, match=r"cannot execute .*other-arch: Exec format error"):
        ex.launch(spec(tmp_path, str(binary)))


def test_a_script_without_interpreter_line_runs_under_sh(ex: TrackingExecutor, tmp_path: Path) -> None:
    script = tmp_path / "plain.sh"
    script.write_text('echo "args: $*"\nexit 2\n')
    script.chmod(0o755)
    h = ex.launch(spec(tmp_path, str(script), "a", "b"))
    assert wait_done(ex, h) == ExitStatus(2, "exit code 2")
    assert (tmp_path / "logs" / "stdout.log").read_text() == "args: a b\n"


def test_the_end_of_a_rank_is_announced(ex: TrackingExecutor, tmp_path: Path) -> None:
    ended = threading.Event()
    ex.on_exit(ended.set)
    go = tmp_path / "go"
    h = ex.launch(spec(tmp_path, "sh", "-c", f"while [ ! -e {go} ]; do sleep 0.01; done"))
    assert not ended.wait(0.2)  # nothing ended yet
    go.touch()
    assert ended.wait(DEADLINE_S)
    assert ex.poll(h) == ExitStatus(0, "exit code 0")  # the exit file is written before the notice


def test_the_control_loop_listens_to_exit_notices(tmp_path: Path) -> None:
    executor = LocalExecutor()
    loop = ControlLoop(cast(Any, None), lambda: cast(Any, None), executor, tmp_path)
    assert executor.exit_notices.callback == loop.wake
