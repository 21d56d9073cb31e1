"""The Ray executor against a real Ray cluster of four nodes on this machine (tests/e2e/ray_cluster.py): ranks on
distinct Ray nodes with their GPUs and torch.distributed variables, per-host failures, fencing, lost and returning
nodes, and a new executor (a restarted server) finding the ranks again."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ray_cluster import RayNodes
from server_proc import wait_for

from gpucloud.service.executors.base import ExitStatus, Handle, LaunchError, LaunchSpec, LogCursor, NodeGpus
from gpucloud.service.executors.ray_executor import RayExecutor, agent_name
from os_users import Accounts

pytestmark = [pytest.mark.xdist_group("ray"), pytest.mark.slow]

PATH = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
_epochs = iter(range(100, 10_000))


def make_executor(nodes: RayNodes) -> RayExecutor:
    ex = RayExecutor(address=nodes.address, agent_dir=nodes.agent_dir, launch_timeout_s=30.0)
    ex.bind(lambda: None, next(_epochs))
    return ex


@pytest.fixture
def ex(ray_nodes: RayNodes) -> Iterator[RayExecutor]:
    executor = make_executor(ray_nodes)
    yield executor
    executor.close()


def spec(job_id: str, *argv: str, nodes: tuple[str, ...] = ("b0-r0-n1", "b0-r0-n2"),
         gpus: tuple[tuple[int, ...], ...] = ((0, 1), (2, 3))) -> LaunchSpec:
    return LaunchSpec(job_id, 1, argv, "/", dict(PATH),
                      tuple(NodeGpus(n, r, g) for r, (n, g) in enumerate(zip(nodes, gpus, strict=True))))


def wait_exits(ex: RayExecutor, handle: Handle, timeout: float = 30.0) -> dict[int, ExitStatus]:
    got: dict[int, ExitStatus] = {}

    def check() -> bool:
        for e in ex.collect({handle.job_id: handle}).exits:
            got[e.rank] = e.status
        return len(got) == handle.world

    wait_for(f"every rank of job {handle.job_id} to end", check, timeout)
    return got


def read_log(ex: RayExecutor, handle: Handle, rank: int) -> str:
    out: list[bytes] = []

    def check() -> bool:
        report = ex.collect({handle.job_id: handle}, [LogCursor(handle.job_id, rank, "stdout", 0)])
        pieces = [p for p in report.logs if p.rank == rank]  # (answers to earlier reads come in too)
        out[:] = [p.data for p in pieces]
        return any(p.final for p in pieces)

    wait_for(f"rank {rank}'s log", check, 30)
    return b"".join(out).decode()


def env_of(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_a_gang_runs_on_two_ray_nodes_with_its_gpus_and_rendezvous(ex: RayExecutor, ray_nodes: RayNodes) -> None:
    import ray

    h = ex.launch_now(spec("g1", "env"))
    assert all(s.ok for s in wait_exits(ex, h).values())
    env0, env1 = env_of(read_log(ex, h, 0)), env_of(read_log(ex, h, 1))
    assert (env0["CUDA_VISIBLE_DEVICES"], env1["CUDA_VISIBLE_DEVICES"]) == ("0,1", "2,3")
    assert (env0["RANK"], env1["RANK"], env0["WORLD_SIZE"], env1["LOCAL_RANK"]) == ("0", "1", "2", "0")
    assert (env0["GPUCLOUD_NODE"], env1["GPUCLOUD_NODE"]) == ("b0-r0-n1", "b0-r0-n2")
    assert env0["MASTER_ADDR"] == env1["MASTER_ADDR"] == h.data["host.0"]
    assert env0["MASTER_PORT"] == env1["MASTER_PORT"] and env1["PET_NNODES"] == "2"
    # each rank ran under the agent of its own Ray node, pinned there: its files are on that node only
    for rank, node in enumerate(("b0-r0-n1", "b0-r0-n2")):
        mine = ray_nodes.node_dir(node) / "agent" / "default" / "jobs" / "g1"
        assert (mine / ("stdout.log" if rank == 0 else "stdout.rank1.log")).exists()
        assert not (mine / ("stdout.rank1.log" if rank == 0 else "stdout.log")).exists()
    labels = {n["NodeID"]: n["Labels"].get("gpucloud-node") for n in ray.nodes() if n["Alive"]}
    for node in ("b0-r0-n1", "b0-r0-n2"):
        agent = ray.get_actor(agent_name("", node), namespace="gpucloud")
        assert labels[ray.get(agent.hello.remote())["ray_node"]] == node


def test_a_program_missing_on_one_host_fails_the_launch_and_leaves_nothing_running(
        ex: RayExecutor, ray_nodes: RayNodes) -> None:
    tool = ray_nodes.node_dir("b0-r0-n1") / "bin" / "tool"  # on the host of b0-r0-n1 only
    tool.parent.mkdir(parents=True, exist_ok=True)
    tool.write_text("#!/bin/sh\nexec sleep 60\n")
    tool.chmod(0o755)
    program = str(ray_nodes.mountpoint / "bin" / "tool")
    with pytest.raises(LaunchError, match=r"rank 1 \(b0-r0-n2\): cannot run program .*tool.* not found"):
        ex.launch_now(spec("g2", program))
    # rank 0 did start on b0-r0-n1 and was killed at once
    exit_file = ray_nodes.node_dir("b0-r0-n1") / "agent" / "default" / "jobs" / "g2" / "exit.1.0"
    wait_for("rank 0 to be stopped", exit_file.exists, 30)
    assert '"code": 137' in exit_file.read_text()


def test_a_former_leader_cannot_launch_after_a_new_one_fenced_the_hosts(ex: RayExecutor, ray_nodes: RayNodes) -> None:
    newer = make_executor(ray_nodes)  # binds with a later epoch: every host is fenced
    try:
        with pytest.raises(LaunchError, match="fenced"):
            ex.launch_now(spec("g3", "true"))
        assert newer.find("g3", 1, ["b0-r0-n1", "b0-r0-n2"]).handle is None
    finally:
        newer.close()


def test_a_restarted_server_finds_and_watches_the_running_ranks(ex: RayExecutor, ray_nodes: RayNodes) -> None:
    go = ray_nodes.node_dir("b0-r0-n2") / "go-g4"
    script = f"while [ ! -e {ray_nodes.mountpoint}/go-g4 ]; do sleep 0.05; done; exit 4"
    h = ex.launch_now(spec("g4", "sh", "-c", script, nodes=("b0-r0-n2",), gpus=((1,),)))
    ex.close()
    restarted = make_executor(ray_nodes)
    try:
        found = restarted.find("g4", 1, ["b0-r0-n2"])
        assert found.handle is not None and found.handle.data == h.data
        assert not restarted.collect({"g4": h}).exits
        go.touch()
        status = wait_exits(restarted, h)[0]
        assert (status.exit_code, status.reason) == (4, "exit code 4") and status.at is not None
    finally:
        restarted.close()


def test_signals_reach_every_rank_on_its_host(ex: RayExecutor) -> None:
    h = ex.launch_now(spec("g5", "sleep", "60"))
    time.sleep(0.2)
    ex.signal(h, signal.SIGTERM)
    assert {r: s.exit_code for r, s in wait_exits(ex, h).items()} == {0: 143, 1: 143}


def test_a_lost_node_ends_its_ranks_as_lost_and_comes_back_up(ex: RayExecutor, ray_nodes: RayNodes) -> None:
    h = ex.launch_now(spec("g6", "sleep", "600", nodes=("b0-r0-n3",), gpus=((0,),)))
    keeper = int(h.data["pid.0"])
    ray_nodes.remove("b0-r0-n3")
    down: dict[str, str] = {}
    exits: list[ExitStatus] = []

    def lost() -> bool:
        report = ex.collect({"g6": h})
        down.update(report.nodes_down)
        exits.extend(e.status for e in report.exits)
        return bool(exits) and "b0-r0-n3" in down

    wait_for("the node and its rank to be reported lost", lost, 30)
    assert exits[0].lost and exits[0].exit_code is None and "b0-r0-n3" in exits[0].reason
    wait_for("its keeper to kill the rank and exit", lambda: not Path(f"/proc/{keeper}").exists(), 30)
    ray_nodes.add("b0-r0-n3")
    up: set[str] = set()

    def back() -> bool:
        up.update(ex.collect({}).nodes_up)
        return "b0-r0-n3" in up

    wait_for("the node to come back", back, 60)
    h2 = ex.launch_now(spec("g7", "true", nodes=("b0-r0-n3",), gpus=((0,),)))
    assert wait_exits(ex, h2)[0].ok


def test_ranks_on_ray_nodes_run_as_the_jobs_owner(ex: RayExecutor, ray_nodes: RayNodes, accounts: Accounts) -> None:
    gang = (NodeGpus("b0-r0-n1", 0, (0,)), NodeGpus("b0-r0-n2", 1, (1,)))
    h = ex.launch_now(LaunchSpec("g8", 1, ("sh", "-c", "id -un; echo $HOME"), "", dict(PATH), gang,
                                 account=accounts.alice))
    assert all(s.ok for s in wait_exits(ex, h).values())
    home = str(accounts.home(accounts.alice))
    assert read_log(ex, h, 0).split() == read_log(ex, h, 1).split() == [accounts.alice, home]
    log = ray_nodes.node_dir("b0-r0-n2") / "agent" / "default" / "jobs" / "g8" / "stdout.rank1.log"
    info = log.stat()
    assert (info.st_uid, info.st_mode & 0o777) == (accounts.uid(accounts.alice), 0o600)
    with pytest.raises(LaunchError, match=r"rank 0 \(b0-r0-n1\): no OS account 'gpcu-nobody-here' on host"):
        ex.launch_now(LaunchSpec("g9", 1, ("true",), "", dict(PATH), gang, account="gpcu-nobody-here"))
