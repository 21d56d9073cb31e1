"""The local executor with real processes: environment, logs, exit codes, signals, gangs, re-attach."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from gpucloud.service.executors.base import ExitStatus, Handle, LaunchError, LaunchSpec, NodeGpus
from gpucloud.service.executors.local import VANISHED, LocalExecutor

DEADLINE_S = 10.0
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "FOO": "bar baz"}


def spec(
    tmp_path: Path,
    *argv: str,
    placement: tuple[NodeGpus, ...] = (NodeGpus("node-a", 0, (1, 3)),),
    cwd: str | None = None,
) -> LaunchSpec:
    return LaunchSpec(
        job_id="job-1",
        argv=argv,
        cwd=cwd or str(tmp_path),
        env=dict(ENV),
        placement=placement,
        log_dir=tmp_path / "logs",
    )


def wait_done(ex: LocalExecutor, handle: Handle, deadline_s: float = DEADLINE_S) -> ExitStatus:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        status = ex.poll(handle)
        if status is not None:
            return status
        time.sleep(0.01)
    raise AssertionError(f"job still running after {deadline_s}s")


def wait_for(cond_path: Path, text: str = "", deadline_s: float = DEADLINE_S) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if cond_path.exists() and text in cond_path.read_text():
            return
        time.sleep(0.01)
    raise AssertionError(f"{cond_path} never contained {text!r}")


def parse_env(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


class TrackingExecutor(LocalExecutor):
    """A local executor that remembers what it launched, so a test never leaves processes behind."""

    def __init__(self) -> None:
        super().__init__()
        self.handles: list[Handle] = []

    def launch(self, spec: LaunchSpec) -> Handle:
        handle = super().launch(spec)
        self.handles.append(handle)
        return handle


@pytest.fixture
def ex() -> Iterator[LocalExecutor]:
    executor = TrackingExecutor()
    yield executor
    for h in executor.handles:
        executor.kill(h)
        executor.poll(h)
    executor.close()


def test_environment_and_gpu_ids_seen_by_the_job(ex: LocalExecutor, tmp_path: Path) -> None:
    h = ex.launch(spec(tmp_path, "env"))
    assert wait_done(ex, h) == ExitStatus(0, "exit code 0")
    env = parse_env((tmp_path / "logs" / "stdout.log").read_text())
    assert env["CUDA_VISIBLE_DEVICES"] == "1,3"
    assert env["GPUCLOUD_JOB_ID"] == "job-1"
    assert env["GPUCLOUD_NODE_RANK"] == "0"
    assert env["GPUCLOUD_WORLD_SIZE"] == "1"
    assert env["GPUCLOUD_NODE"] == "node-a"
    assert env["FOO"] == "bar baz"


def test_job_runs_in_its_cwd_with_default_signal_dispositions(ex: LocalExecutor, tmp_path: Path) -> None:
    work = tmp_path / "work dir"
    work.mkdir()
    h = ex.launch(spec(tmp_path, "sh", "-c", "pwd; grep SigIgn /proc/self/status", cwd=str(work)))
    assert wait_done(ex, h).ok
    out = (tmp_path / "logs" / "stdout.log").read_text().splitlines()
    assert out[0] == str(work)
    ignored = int(out[1].split()[1], 16)
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGPIPE, signal.SIGTERM, signal.SIGUSR1):
        assert not ignored & (1 << (sig - 1)), f"{sig.name} is ignored in the job"


def test_stdout_and_stderr_are_captured(ex: LocalExecutor, tmp_path: Path) -> None:
    h = ex.launch(spec(tmp_path, "sh", "-c", "echo to-out; echo to-err >&2"))
    assert wait_done(ex, h).ok
    assert (tmp_path / "logs" / "stdout.log").read_text() == "to-out\n"
    assert (tmp_path / "logs" / "stderr.log").read_text() == "to-err\n"


def test_exit_codes(ex: LocalExecutor, tmp_path: Path) -> None:
    ok = wait_done(ex, ex.launch(spec(tmp_path, "true")))
    assert ok.ok and ok.exit_code == 0
    failed = wait_done(ex, ex.launch(spec(tmp_path, "sh", "-c", "exit 3")))
    assert failed == ExitStatus(3, "exit code 3")
    assert not failed.ok


def test_missing_program_is_a_launch_error_naming_it(ex: LocalExecutor, tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match="no-such-program-xyz"):
        ex.launch(spec(tmp_path, "no-such-program-xyz", "--flag"))
    with pytest.raises(LaunchError, match="not found"):
        ex.launch(spec(tmp_path, "./missing.sh"))
    assert not (tmp_path / "logs" / "exit.0").exists()


def test_missing_cwd_is_a_launch_error(ex: LocalExecutor, tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match=r"working directory .*nowhere does not exist"):
        ex.launch(spec(tmp_path, "true", cwd=str(tmp_path / "nowhere")))


def test_not_executable_and_bad_interpreter_are_launch_errors(ex: LocalExecutor, tmp_path: Path) -> None:
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    with pytest.raises(LaunchError, match="permission denied"):
        ex.launch(spec(tmp_path, str(script)))
    script.write_text("#!/no/such/interpreter\necho hi\n")
    script.chmod(0o755)
    with pytest.raises(LaunchError, match="interpreter /no/such/interpreter not found"):
        ex.launch(spec(tmp_path, str(script)))
    with pytest.raises(LaunchError, match="is a directory"):
        ex.launch(spec(tmp_path, str(tmp_path)))


def test_terminate_stops_a_sleeping_job_and_reports_the_signal(ex: LocalExecutor, tmp_path: Path) -> None:
    h = ex.launch(spec(tmp_path, "sleep", "60"))
    assert ex.poll(h) is None
    started = time.monotonic()
    ex.terminate(h)
    status = wait_done(ex, h)
    assert status == ExitStatus(143, "killed by signal 15 (SIGTERM)")
    assert time.monotonic() - started < 5


def test_a_job_that_traps_sigterm_exits_cleanly(ex: LocalExecutor, tmp_path: Path) -> None:
    script = 'trap "echo saving; exit 0" TERM; echo ready; while :; do sleep 0.02; done'
    h = ex.launch(spec(tmp_path, "sh", "-c", script))
    wait_for(tmp_path / "logs" / "stdout.log", "ready")
    ex.terminate(h)
    assert wait_done(ex, h) == ExitStatus(0, "exit code 0")
    assert "saving" in (tmp_path / "logs" / "stdout.log").read_text()


def test_kill_stops_a_job_that_ignores_sigterm(ex: LocalExecutor, tmp_path: Path) -> None:
    h = ex.launch(spec(tmp_path, "sh", "-c", 'trap "" TERM; echo ready; while :; do sleep 0.02; done'))
    wait_for(tmp_path / "logs" / "stdout.log", "ready")
    ex.terminate(h)
    time.sleep(0.1)
    assert ex.poll(h) is None  # SIGTERM ignored
    ex.kill(h)
    assert wait_done(ex, h) == ExitStatus(137, "killed by signal 9 (SIGKILL)")


def test_sigterm_to_the_wrapper_is_forwarded_to_the_command(ex: LocalExecutor, tmp_path: Path) -> None:
    h = ex.launch(spec(tmp_path, "sleep", "60"))
    os.kill(int(h.data["pid.0"]), signal.SIGTERM)
    assert wait_done(ex, h).reason == "killed by signal 15 (SIGTERM)"


def test_two_node_gang_gets_ranks_and_distinct_gpus(ex: LocalExecutor, tmp_path: Path) -> None:
    placement = (NodeGpus("node-a", 0, (0, 1)), NodeGpus("node-b", 1, (2, 3)))
    h = ex.launch(spec(tmp_path, "env", placement=placement))
    assert wait_done(ex, h).ok
    logs = tmp_path / "logs"
    env0 = parse_env((logs / "stdout.log").read_text())
    env1 = parse_env((logs / "stdout.rank1.log").read_text())
    assert (env0["GPUCLOUD_NODE_RANK"], env1["GPUCLOUD_NODE_RANK"]) == ("0", "1")
    assert env0["GPUCLOUD_WORLD_SIZE"] == env1["GPUCLOUD_WORLD_SIZE"] == "2"
    assert (env0["CUDA_VISIBLE_DEVICES"], env1["CUDA_VISIBLE_DEVICES"]) == ("0,1", "2,3")
    assert (env0["GPUCLOUD_NODE"], env1["GPUCLOUD_NODE"]) == ("node-a", "node-b")
    assert (logs / "stderr.rank1.log").exists()
    assert h.data["pgid.0"] != h.data["pgid.1"]


def test_gang_ends_when_all_ranks_end_and_fails_if_one_fails(ex: LocalExecutor, tmp_path: Path) -> None:
    placement = (NodeGpus("node-a", 0, (0,)), NodeGpus("node-b", 1, (0,)))
    go = tmp_path / "go"
    script = f'if [ "$GPUCLOUD_NODE_RANK" = 1 ]; then exit 2; fi; while [ ! -e {go} ]; do sleep 0.01; done'
    h = ex.launch(spec(tmp_path, "sh", "-c", script, placement=placement))
    wait_for(tmp_path / "logs" / "exit.1")
    assert ex.poll(h) is None  # rank 0 still runs
    go.touch()
    assert wait_done(ex, h) == ExitStatus(2, "rank 1 (node-b): exit code 2")


def test_terminate_reaches_every_rank_of_a_gang(ex: LocalExecutor, tmp_path: Path) -> None:
    placement = (NodeGpus("node-a", 0, (0,)), NodeGpus("node-b", 1, (0,)))
    h = ex.launch(spec(tmp_path, "sleep", "60", placement=placement))
    ex.terminate(h)
    status = wait_done(ex, h)
    assert status.exit_code == 143 and status.reason.startswith("rank 0 (node-a): killed by signal 15")
    assert (tmp_path / "logs" / "exit.1").read_text() == "143\n"


def stored(handle: Handle) -> Handle:
    """The handle as it comes back from the database (through JSON)."""
    return Handle(handle.executor, handle.job_id, json.loads(json.dumps(handle.data)))


def test_reattach_after_restart_and_report_the_exit_code_later(ex: LocalExecutor, tmp_path: Path) -> None:
    go = tmp_path / "go"
    h = ex.launch(spec(tmp_path, "sh", "-c", f"while [ ! -e {go} ]; do sleep 0.01; done; exit 5"))
    restarted = LocalExecutor()  # a new server process knows only the stored handle
    handle = stored(h)
    assert restarted.reattach(handle)
    assert restarted.poll(handle) is None
    go.touch()
    assert wait_done(restarted, handle) == ExitStatus(5, "exit code 5")


def test_a_job_that_ended_while_the_server_was_down_keeps_its_exit_code(ex: LocalExecutor, tmp_path: Path) -> None:
    h = ex.launch(spec(tmp_path, "sh", "-c", "exit 4"))
    wait_for(tmp_path / "logs" / "exit.0")
    restarted = LocalExecutor()
    assert restarted.reattach(stored(h))
    assert restarted.poll(stored(h)) == ExitStatus(4, "exit code 4")


def test_a_reused_pid_is_not_reattached_nor_signalled(ex: LocalExecutor, tmp_path: Path) -> None:
    h = ex.launch(spec(tmp_path, "sleep", "60"))
    # Same pids, other start times: as if the pids now belonged to other processes.
    data = dict(h.data, **{"start.0": float(h.data["start.0"]) - 1000, "pgstart.0": 1.0})
    reused = replace(h, data=data)
    restarted = LocalExecutor()
    assert not restarted.reattach(reused)
    assert restarted.poll(reused) == ExitStatus(None, VANISHED)
    restarted.terminate(reused)
    restarted.kill(reused)
    time.sleep(0.05)
    assert ex.poll(h) is None  # the "other" processes were left alone


def test_a_vanished_process_is_reported_as_failed(ex: LocalExecutor, tmp_path: Path) -> None:
    h = ex.launch(spec(tmp_path, "sleep", "60"))
    # As after a reboot or an OOM kill of the whole session: the wrapper and the command die, no exit file.
    os.kill(int(h.data["pid.0"]), signal.SIGKILL)  # the wrapper first, so it cannot record the command's end
    os.killpg(int(h.data["pgid.0"]), signal.SIGKILL)
    status = wait_done(ex, h)
    assert status == ExitStatus(None, VANISHED) and not status.ok
    assert not LocalExecutor().reattach(stored(h))


def test_a_command_outliving_its_wrapper_still_counts_as_running(ex: LocalExecutor, tmp_path: Path) -> None:
    h = ex.launch(spec(tmp_path, "sleep", "60"))
    os.kill(int(h.data["pid.0"]), signal.SIGKILL)
    time.sleep(0.05)
    assert ex.poll(h) is None
    assert LocalExecutor().reattach(stored(h))
    ex.kill(h)
    assert wait_done(ex, h) == ExitStatus(None, VANISHED)


def test_finished_keepers_leave_no_zombies(ex: LocalExecutor, tmp_path: Path) -> None:
    h = ex.launch(spec(tmp_path, "true"))
    assert wait_done(ex, h).ok
    keeper = int(h.data["pid.0"])
    end = time.monotonic() + DEADLINE_S
    while psutil.pid_exists(keeper) and time.monotonic() < end:  # it exits right after writing the exit file
        time.sleep(0.01)
    assert not psutil.pid_exists(keeper)  # reaped at once (by the launcher's kernel-side reaping), not a zombie
    with pytest.raises(ChildProcessError):
        os.waitpid(keeper, os.WNOHANG)  # and never the server's child


def test_relaunch_in_the_same_log_dir_ignores_the_old_exit_file(ex: LocalExecutor, tmp_path: Path) -> None:
    assert wait_done(ex, ex.launch(spec(tmp_path, "sh", "-c", "exit 7"))).exit_code == 7
    h = ex.launch(spec(tmp_path, "sleep", "60"))
    assert ex.poll(h) is None
    ex.kill(h)
    assert wait_done(ex, h).exit_code == 137


def test_bad_placements_are_launch_errors(ex: LocalExecutor, tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match="empty placement"):
        ex.launch(spec(tmp_path, "true", placement=()))
    with pytest.raises(LaunchError, match="ranks must be"):
        ex.launch(spec(tmp_path, "true", placement=(NodeGpus("a", 1, (0,)),)))


def test_a_handle_of_another_executor_is_refused(ex: LocalExecutor) -> None:
    with pytest.raises(ValueError, match="noop"):
        ex.poll(Handle("noop", "j", {}))


def test_the_job_inherits_only_stdin_stdout_and_stderr(ex: LocalExecutor, tmp_path: Path) -> None:
    h = ex.launch(spec(tmp_path, "sh", "-c", "ls /proc/$$/fd"))
    assert wait_done(ex, h).ok
    assert (tmp_path / "logs" / "stdout.log").read_text().split() == ["0", "1", "2"]
