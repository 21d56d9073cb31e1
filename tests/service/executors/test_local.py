"""The local executor with real processes: environment, logs, exit codes, signals, gangs, re-attach, fencing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest
from local_rig import DEADLINE_S, Rig, parse_env, rig, simple, spec, stored, wait_for

from gpucloud.service.executors.base import Handle, LaunchError, NodeGpus
from gpucloud.service.executors.host import VANISHED
from gpucloud.service.executors.local import LocalExecutor

__all__ = ["rig"]  # the fixture


def test_environment_gpu_ids_and_torch_distributed_variables(rig: Rig, tmp_path: Path) -> None:
    h = rig.launch(spec(tmp_path, "env"))
    assert simple(rig.wait(h)[0]) == (0, "exit code 0")
    env = parse_env(rig.log("stdout.log"))
    assert env["CUDA_VISIBLE_DEVICES"] == "1,3"
    assert (env["GPUCLOUD_JOB_ID"], env["GPUCLOUD_NODE_RANK"], env["GPUCLOUD_WORLD_SIZE"]) == ("1", "0", "1")
    assert env["GPUCLOUD_NODE"] == "node-a"
    assert env["FOO"] == "bar baz"
    assert (env["RANK"], env["WORLD_SIZE"], env["LOCAL_RANK"], env["NODE_RANK"]) == ("0", "1", "0", "0")
    assert env["MASTER_ADDR"] == "127.0.0.1" and 0 < int(env["MASTER_PORT"]) < 65536
    assert (env["PET_NNODES"], env["PET_NODE_RANK"], env["PET_NPROC_PER_NODE"]) == ("1", "0", "2")


def test_job_runs_in_its_cwd_with_default_signal_dispositions(rig: Rig, tmp_path: Path) -> None:
    work = tmp_path / "work dir"
    work.mkdir()
    h = rig.launch(spec(tmp_path, "sh", "-c", "pwd; grep -E 'SigIgn|SigBlk' /proc/self/status", cwd=str(work)))
    assert rig.wait(h)[0].ok
    out = rig.log("stdout.log").splitlines()
    assert out[0] == str(work)
    masks = {line.split(":")[0]: int(line.split()[1], 16) for line in out[1:]}
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGPIPE, signal.SIGTERM, signal.SIGUSR1):
        assert not masks["SigIgn"] & (1 << (sig - 1)), f"{sig.name} is ignored in the job"
    assert masks["SigBlk"] == 0


def test_stdout_and_stderr_are_captured_and_read_back(rig: Rig, tmp_path: Path) -> None:
    h = rig.launch(spec(tmp_path, "sh", "-c", "echo to-out; echo to-err >&2"))
    assert rig.wait(h)[0].ok
    assert rig.log("stdout.log") == "to-out\n" and rig.log("stderr.log") == "to-err\n"
    assert rig.logs(h) == b"to-out\n" and rig.logs(h, stream="stderr") == b"to-err\n"


def test_exit_codes_and_the_time_they_were_recorded(rig: Rig, tmp_path: Path) -> None:
    before = time.time()
    ok = rig.wait(rig.launch(spec(tmp_path, "true")))[0]
    failed = rig.wait(rig.launch(spec(tmp_path, "sh", "-c", "sleep 0.2; exit 3", job_id="2")))[0]
    assert ok.ok and simple(failed) == (3, "exit code 3") and not failed.ok
    assert ok.at is not None and failed.at is not None and before <= ok.at < failed.at <= time.time()
    assert failed.at - before >= 0.2


def test_missing_program_is_a_launch_error_naming_it(rig: Rig, tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match="no-such-program-xyz"):
        rig.launch(spec(tmp_path, "no-such-program-xyz", "--flag"))
    with pytest.raises(LaunchError, match="not found"):
        rig.launch(spec(tmp_path, "./missing.sh", job_id="2"))


def test_missing_cwd_is_a_launch_error(rig: Rig, tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match=r"working directory .*nowhere does not exist"):
        rig.launch(spec(tmp_path, "true", cwd=str(tmp_path / "nowhere")))


def test_not_executable_and_bad_interpreter_are_launch_errors(rig: Rig, tmp_path: Path) -> None:
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    with pytest.raises(LaunchError, match="permission denied"):
        rig.launch(spec(tmp_path, str(script), job_id="1"))
    script.write_text("#!/no/such/interpreter\necho hi\n")
    script.chmod(0o755)
    with pytest.raises(LaunchError, match="interpreter /no/such/interpreter not found"):
        rig.launch(spec(tmp_path, str(script), job_id="2"))
    with pytest.raises(LaunchError, match="is a directory"):
        rig.launch(spec(tmp_path, str(tmp_path), job_id="3"))


def test_sigterm_stops_a_sleeping_job_and_is_reported(rig: Rig, tmp_path: Path) -> None:
    h = rig.launch(spec(tmp_path, "sleep", "60"))
    assert rig.poll(h) is None
    rig.ex.signal(h, signal.SIGTERM)
    assert simple(rig.wait(h)[0]) == (143, "killed by signal 15 (SIGTERM)")


def test_a_job_that_traps_sigterm_exits_cleanly(rig: Rig, tmp_path: Path) -> None:
    script = 'trap "echo saving; exit 0" TERM; echo ready; while :; do sleep 0.02; done'
    h = rig.launch(spec(tmp_path, "sh", "-c", script))
    wait_for(rig.job_dir() / "stdout.log", "ready")
    rig.ex.signal(h, signal.SIGTERM)
    assert simple(rig.wait(h)[0]) == (0, "exit code 0")
    assert "saving" in rig.log("stdout.log")


def test_sigkill_stops_a_job_that_ignores_sigterm(rig: Rig, tmp_path: Path) -> None:
    h = rig.launch(spec(tmp_path, "sh", "-c", 'trap "" TERM; echo ready; while :; do sleep 0.02; done'))
    wait_for(rig.job_dir() / "stdout.log", "ready")
    rig.ex.signal(h, signal.SIGTERM)
    time.sleep(0.1)
    assert rig.poll(h) is None  # SIGTERM ignored
    rig.ex.signal(h, signal.SIGKILL)
    assert simple(rig.wait(h)[0]) == (137, "killed by signal 9 (SIGKILL)")


def test_sigterm_to_the_keeper_is_forwarded_to_the_command(rig: Rig, tmp_path: Path) -> None:
    h = rig.launch(spec(tmp_path, "sleep", "60"))
    os.kill(int(h.data["pid.0"]), signal.SIGTERM)
    assert rig.wait(h)[0].reason == "killed by signal 15 (SIGTERM)"


def test_two_node_gang_gets_ranks_distinct_gpus_and_one_rendezvous(rig: Rig, tmp_path: Path) -> None:
    placement = (NodeGpus("node-a", 0, (0, 1)), NodeGpus("node-b", 1, (2, 3)))
    h = rig.launch(spec(tmp_path, "env", placement=placement))
    assert all(s.ok for s in rig.wait(h).values())
    env0, env1 = parse_env(rig.log("stdout.log")), parse_env(rig.log("stdout.rank1.log"))
    assert (env0["GPUCLOUD_NODE_RANK"], env1["GPUCLOUD_NODE_RANK"]) == ("0", "1")
    assert (env0["RANK"], env1["RANK"]) == ("0", "1") and env0["WORLD_SIZE"] == env1["WORLD_SIZE"] == "2"
    assert (env0["CUDA_VISIBLE_DEVICES"], env1["CUDA_VISIBLE_DEVICES"]) == ("0,1", "2,3")
    assert (env0["GPUCLOUD_NODE"], env1["GPUCLOUD_NODE"]) == ("node-a", "node-b")
    assert env0["MASTER_PORT"] == env1["MASTER_PORT"] and env0["MASTER_ADDR"] == env1["MASTER_ADDR"]
    assert (rig.job_dir() / "stderr.rank1.log").exists()
    assert h.data["pgid.0"] != h.data["pgid.1"] and (h.data["node.1"], h.data["host.1"]) == ("node-b", rig.ex.hostname)


def test_each_rank_is_reported_when_it_ends(rig: Rig, tmp_path: Path) -> None:
    placement = (NodeGpus("node-a", 0, (0,)), NodeGpus("node-b", 1, (0,)))
    go = tmp_path / "go"
    script = f'if [ "$GPUCLOUD_NODE_RANK" = 1 ]; then exit 2; fi; while [ ! -e {go} ]; do sleep 0.01; done'
    h = rig.launch(spec(tmp_path, "sh", "-c", script, placement=placement))
    deadline = time.monotonic() + DEADLINE_S
    while ("1", 1) not in rig.exits:
        assert rig.poll(h) is None, "rank 0 ended"  # rank 0 still runs
        assert time.monotonic() < deadline, "rank 1's end was never reported"
        time.sleep(0.01)
    assert simple(rig.exits[("1", 1)]) == (2, "exit code 2")
    go.touch()
    assert simple(rig.wait(h)[0]) == (0, "exit code 0")


def test_a_signal_reaches_every_rank_of_a_gang(rig: Rig, tmp_path: Path) -> None:
    placement = (NodeGpus("node-a", 0, (0,)), NodeGpus("node-b", 1, (0,)))
    h = rig.launch(spec(tmp_path, "sleep", "60", placement=placement))
    rig.ex.signal(h, signal.SIGTERM)
    assert {r: simple(s) for r, s in rig.wait(h).items()} == {r: (143, "killed by signal 15 (SIGTERM)") for r in (0, 1)}


def test_reattach_after_restart_and_report_the_exit_code_later(rig: Rig, tmp_path: Path) -> None:
    go = tmp_path / "go"
    h = rig.launch(spec(tmp_path, "sh", "-c", f"while [ ! -e {go} ]; do sleep 0.01; done; exit 5"))
    restarted = Rig(rig.root, epoch=2)  # a new server process knows only the stored handle
    try:
        handle = stored(h)
        assert restarted.poll(handle) is None
        go.touch()
        assert simple(restarted.wait(handle)[0]) == (5, "exit code 5")
    finally:
        restarted.ex.close()


def test_a_job_that_ended_while_the_server_was_down_keeps_its_exit_code_and_time(rig: Rig, tmp_path: Path) -> None:
    h = rig.launch(spec(tmp_path, "sh", "-c", "exit 4"))
    wait_for(rig.job_dir() / "exit.1.0")
    time.sleep(0.3)
    restarted = Rig(rig.root, epoch=2)
    try:
        status = restarted.wait(stored(h))[0]
        assert simple(status) == (4, "exit code 4") and status.at is not None and status.at < time.time() - 0.25
    finally:
        restarted.ex.close()


def test_a_reused_pid_is_not_reattached_nor_signalled(rig: Rig, tmp_path: Path) -> None:
    h = rig.launch(spec(tmp_path, "sleep", "60"))
    # Same pids, other start times: as if the pids now belonged to other processes.
    reused = replace(h, data=dict(h.data, **{"start.0": int(h.data["start.0"]) - 1000, "pgstart.0": 1}))
    restarted = Rig(rig.root, epoch=2)
    try:
        assert simple(restarted.wait(reused)[0]) == (None, VANISHED)
        restarted.ex.signal(reused, signal.SIGTERM)
        restarted.ex.signal(reused, signal.SIGKILL)
        time.sleep(0.05)
        assert rig.poll(h) is None  # the "other" processes were left alone
    finally:
        restarted.ex.close()


def test_a_vanished_process_is_reported_as_failed(rig: Rig, tmp_path: Path) -> None:
    h = rig.launch(spec(tmp_path, "sleep", "60"))
    # As after a reboot or an OOM kill of the whole session: the keeper and the command die, no exit file.
    os.kill(int(h.data["pid.0"]), signal.SIGKILL)  # the keeper first, so it cannot record the command's end
    os.killpg(int(h.data["pgid.0"]), signal.SIGKILL)
    status = rig.wait(h)[0]
    assert simple(status) == (None, VANISHED) and not status.ok


def test_a_command_outliving_its_keeper_still_counts_as_running(rig: Rig, tmp_path: Path) -> None:
    h = rig.launch(spec(tmp_path, "sh", "-c", "echo started; sleep 60"))
    wait_for(rig.job_dir() / "stdout.log", "started")  # past its keeper's go (a keeper killed before never runs it)
    os.kill(int(h.data["pid.0"]), signal.SIGKILL)
    time.sleep(0.05)
    rig.ex.sweep_s = 0.0  # its keeper is gone: it is found by polling
    assert rig.poll(h) is None
    rig.ex.signal(h, signal.SIGKILL)
    assert simple(rig.wait(h)[0]) == (None, VANISHED)


def test_finished_keepers_leave_no_zombies(rig: Rig, tmp_path: Path) -> None:
    h = rig.launch(spec(tmp_path, "true"))
    assert rig.wait(h)[0].ok
    keeper = int(h.data["pid.0"])
    end = time.monotonic() + DEADLINE_S
    while Path(f"/proc/{keeper}").exists() and time.monotonic() < end:  # it exits right after its exit file
        time.sleep(0.01)
    assert not Path(f"/proc/{keeper}").exists()  # reaped by the kernel (the launcher ignores SIGCHLD)
    with pytest.raises(ChildProcessError):
        os.waitpid(keeper, os.WNOHANG)  # and never the server's child


def test_an_attempt_is_started_at_most_once_and_a_new_attempt_starts_fresh(rig: Rig, tmp_path: Path) -> None:
    assert rig.wait(rig.launch(spec(tmp_path, "sh", "-c", "exit 7")))[0].exit_code == 7
    with pytest.raises(LaunchError, match="already launched on this host; it is never launched twice"):
        rig.launch(spec(tmp_path, "true"))
    rig.forget("1")  # back in the queue: no longer watched
    h = rig.launch(spec(tmp_path, "sleep", "60", attempt=2))  # a requeued job's next run
    assert rig.poll(h) is None
    rig.ex.signal(h, signal.SIGKILL)
    assert rig.wait(h)[0].exit_code == 137


def test_a_former_leaders_launch_is_refused_by_the_fence(rig: Rig, tmp_path: Path) -> None:
    newer = LocalExecutor(rig.root)
    newer.bind(lambda: None, 5)  # another loop took over with epoch 5
    try:
        with pytest.raises(LaunchError, match=r"fenced: a newer control loop \(epoch 5\) leads"):
            rig.launch(spec(tmp_path, "touch", str(tmp_path / "ran")))
        assert not (tmp_path / "ran").exists()
        assert newer.find("1", 1, ["node-a"]).handle is None  # and the new leader knows it never started
    finally:
        newer.close()


def test_find_tells_started_from_never_started(rig: Rig, tmp_path: Path) -> None:
    placement = (NodeGpus("node-a", 0, (0,)), NodeGpus("node-b", 1, (0,)))
    h = rig.launch(spec(tmp_path, "sleep", "60", placement=placement))
    found = rig.ex.find("1", 1, ["node-a", "node-b"])
    assert found.handle is not None and found.handle.data == h.data
    assert rig.ex.find("1", 2, ["node-a", "node-b"]) == type(found)(None)
    with pytest.raises(LaunchError):
        rig.launch(spec(tmp_path, "no-such-program-xyz", job_id="2"))
    assert rig.ex.find("2", 1, ["node-a"]).handle is None  # a failed launch never started anything


def test_an_attempt_that_never_ran_can_be_launched_again(rig: Rig, tmp_path: Path) -> None:
    """A restarted server requeues a launch that never ran and makes it again under the same attempt: allowed only
    when the host can prove the first one never ran a command."""
    with pytest.raises(LaunchError):
        rig.launch(spec(tmp_path, "no-such-program-xyz"))  # the exit file says: never started
    assert rig.wait(rig.launch(spec(tmp_path, "sh", "-c", "exit 3")))[0].exit_code == 3
    gone = subprocess.Popen(["true"])
    gone.wait()  # a keeper that died after its record, before it forked a command
    record = rig.ex.host.record_path("2", 1, 0)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"keeper": gone.pid, "kstart": 1, "boot": "x", "epoch": 1}) + "\n")
    assert rig.wait(rig.launch(spec(tmp_path, "sh", "-c", "exit 4", job_id="2")))[0].exit_code == 4
    with pytest.raises(LaunchError, match="never launched twice"):  # one that ran stays refused
        rig.launch(spec(tmp_path, "true", job_id="2"))


def test_a_launch_nobody_waits_for_never_runs(tmp_path: Path) -> None:
    """The caller gives up before the keeper reports (a hung server, a timeout): the command never executes."""
    ex = LocalExecutor(tmp_path / "data", launch_timeout_s=0.2)
    ex.bind(lambda: None, 1)
    marker = tmp_path / "ran"
    ex.host.launcher.start({"job": "x"})  # starts the launcher (an unusable request: it answers nothing)
    assert ex.host.launcher.pid is not None
    os.kill(ex.host.launcher.pid, signal.SIGSTOP)  # a launcher that hangs: the launch times out
    try:
        with pytest.raises(LaunchError, match="no answer from the launcher"):
            ex.launch_now(spec(tmp_path, "touch", str(marker)))
    finally:
        ex.close()
    time.sleep(0.3)
    assert not marker.exists()
    assert ex.find("1", 1, ["node-a"]).handle is None


def test_bad_placements_are_launch_errors(rig: Rig, tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match="empty placement"):
        rig.launch(spec(tmp_path, "true", placement=()))
    with pytest.raises(LaunchError, match="ranks must be"):
        rig.launch(spec(tmp_path, "true", placement=(NodeGpus("a", 1, (0,)),)))


def test_a_handle_of_another_format_is_reported_not_watched(rig: Rig) -> None:
    old = Handle("local", "9", {"world": 1, "pid.0": 1, "start.0": 1.0})
    report = rig.ex.collect({"9": old})
    assert [(e.rank, e.status.exit_code) for e in report.exits] == [(0, None)]
    assert "older gpucloud server" in report.exits[0].status.reason


def test_the_job_inherits_only_stdin_stdout_and_stderr(rig: Rig, tmp_path: Path) -> None:
    h = rig.launch(spec(tmp_path, "sh", "-c", "ls /proc/$$/fd"))
    assert rig.wait(h)[0].ok
    assert rig.log("stdout.log").split() == ["0", "1", "2"]
