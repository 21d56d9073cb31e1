"""The launcher process: jobs outlive it, a dead or hanging one is replaced, exec failures are reported."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from local_rig import DEADLINE_S, Rig, rig, simple, spec, stored

from gpucloud.service.executors.base import LaunchError
from gpucloud.service.executors.local import LocalExecutor

__all__ = ["rig"]


def wait_gone(pid: int) -> None:
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return
        if state == "Z":
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} still alive after {DEADLINE_S}s")


def launcher_pid(r: Rig) -> int:
    pid = r.ex.host.launcher.pid
    assert pid is not None
    return pid


def test_jobs_outlive_a_killed_launcher_and_the_next_launch_starts_a_new_one(rig: Rig, tmp_path: Path) -> None:
    go = tmp_path / "go"
    first = rig.launch(spec(tmp_path, "sh", "-c", f"while [ ! -e {go} ]; do sleep 0.01; done; exit 6"))
    old = launcher_pid(rig)
    os.kill(old, signal.SIGKILL)
    wait_gone(old)
    assert rig.poll(first) is None  # still running, and still ours
    second = rig.launch(spec(tmp_path, "sh", "-c", "exit 3", job_id="2"))
    assert launcher_pid(rig) != old
    assert simple(rig.wait(second)[0]) == (3, "exit code 3")
    restarted = Rig(rig.root, epoch=2)  # a restarted server would find it too
    try:
        assert restarted.poll(stored(first)) is None
        go.touch()
        assert simple(restarted.wait(stored(first))[0]) == (6, "exit code 6")  # its keeper recorded the code
    finally:
        restarted.ex.close()


def test_signals_still_reach_a_job_whose_launcher_died(rig: Rig, tmp_path: Path) -> None:
    h = rig.launch(spec(tmp_path, "sleep", "60"))
    pid = launcher_pid(rig)
    os.kill(pid, signal.SIGKILL)
    wait_gone(pid)
    rig.ex.signal(h, signal.SIGTERM)
    assert simple(rig.wait(h)[0]) == (143, "killed by signal 15 (SIGTERM)")


def test_a_hanging_launcher_fails_the_launch_and_is_replaced(tmp_path: Path) -> None:
    r = Rig(tmp_path / "data")
    r.ex.host.launcher.timeout_s = 0.5
    try:
        assert r.wait(r.launch(spec(tmp_path, "true")))[0].ok
        hung = launcher_pid(r)
        os.kill(hung, signal.SIGSTOP)
        with pytest.raises(LaunchError, match="no answer from the launcher"):
            r.launch(spec(tmp_path, "touch", str(tmp_path / "late"), job_id="2"))
        wait_gone(hung)  # killed: it would otherwise start the job later
        assert r.ex.find("2", 1, ["node-a"]).handle is None and not (tmp_path / "late").exists()
        assert r.wait(r.launch(spec(tmp_path, "true", job_id="3")))[0].ok
        assert launcher_pid(r) != hung
    finally:
        r.close()


def test_closing_the_executor_stops_the_launcher_but_not_the_jobs(rig: Rig, tmp_path: Path) -> None:
    h = rig.launch(spec(tmp_path, "sleep", "60"))
    pid = launcher_pid(rig)
    rig.ex.close()
    assert rig.ex.host.launcher.pid is None
    wait_gone(pid)
    assert rig.poll(h) is None
    rig.ex.signal(h, signal.SIGKILL)
    assert simple(rig.wait(h)[0]) == (137, "killed by signal 9 (SIGKILL)")


def test_a_binary_the_kernel_refuses_ends_the_rank_with_the_reason(rig: Rig, tmp_path: Path) -> None:
    binary = tmp_path / "other-arch"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120)
    binary.chmod(0o755)
    status = rig.wait(rig.launch(spec(tmp_path, str(binary))))[0]
    assert status.exit_code == 127 and "other-arch: Exec format error" in status.reason
    assert status.reason.startswith("cannot execute ")


def test_a_script_without_interpreter_line_runs_under_sh(rig: Rig, tmp_path: Path) -> None:
    script = tmp_path / "plain.sh"
    script.write_text('echo "args: $*"\nexit 2\n')
    script.chmod(0o755)
    h = rig.launch(spec(tmp_path, str(script), "a", "b"))
    assert simple(rig.wait(h)[0]) == (2, "exit code 2")
    assert rig.log("stdout.log") == "args: a b\n"


def test_the_end_of_a_rank_is_announced_and_launches_do_not_block(tmp_path: Path) -> None:
    calls = threading.Semaphore(0)
    ex = LocalExecutor(tmp_path / "data")
    ex.bind(calls.release, 1)
    go = tmp_path / "go"
    try:
        ex.launch(spec(tmp_path, "sh", "-c", f"while [ ! -e {go} ]; do sleep 0.01; done"))  # returns at once
        assert calls.acquire(timeout=DEADLINE_S)  # the launch finished
        report = ex.collect({})
        assert list(report.launched) == ["1"] and not report.launch_failed
        handle = report.launched["1"]
        assert not ex.collect({"1": handle}).exits
        while calls.acquire(timeout=0.2):  # nothing ended yet
            pass
        go.touch()
        assert calls.acquire(timeout=DEADLINE_S)
        assert [simple(e.status) for e in ex.collect({"1": handle}).exits] == [(0, "exit code 0")]
    finally:
        ex.close()
