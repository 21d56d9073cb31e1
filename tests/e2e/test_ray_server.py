"""``gpucloud server --executor ray`` against a real Ray cluster of four nodes on this machine, driven the way a
user drives it (the ``gpucloud`` CLI as subprocesses): a 2-node gang on two Ray nodes with its GPUs and
torch.distributed variables and the logs of rank 1 through the CLI; a failing rank stops its gang; cancel and
walltime stop every rank; a lost Ray node fails or requeues its jobs and is marked down, and comes back up; and a
server killed with SIGKILL re-attaches to its ranks without launching anything twice."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ray_cluster import RayNodes
from server_proc import ServerProcess, gpucloud_command, kill_recorded, wait_for

from gpucloud.model.cluster_file import load_cluster

pytestmark = [pytest.mark.xdist_group("ray"), pytest.mark.slow]

TERMINAL = ("succeeded", "failed", "cancelled", "timed_out")


class Cli:
    """The ``gpucloud`` command as the operator of ``server``."""

    def __init__(self, server: ServerProcess) -> None:
        assert server.token is not None
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GPUCLOUD_")}
        self.env.update(GPUCLOUD_URL=server.url, GPUCLOUD_TOKEN=server.token, GPUCLOUD_CONFIG="/nonexistent")

    def run(self, *args: str, ok: bool = True) -> str:
        out = subprocess.run([*gpucloud_command(), *args], env=self.env, capture_output=True, text=True, timeout=60)
        if ok:
            assert out.returncode == 0, f"gpucloud {' '.join(args)}: {out.stderr}"
        return out.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json"))

    def submit(self, *args: str) -> str:
        return self.run("submit", "--org", "lab", *args).strip().splitlines()[-1]

    def job(self, jid: str) -> dict[str, Any]:
        out: dict[str, Any] = self.json("job", jid)
        return out

    def until(self, jid: str, *states: str, timeout: float = 60) -> dict[str, Any]:
        wait_for(f"job {jid} to be {'/'.join(states)}", lambda: self.job(jid)["state"] in states, timeout, 0.2)
        return self.job(jid)


def ray_server(path: Path, ray_nodes: RayNodes, *extra: str, cluster: str = "4x4:H100") -> ServerProcess:
    server = ServerProcess(path, cluster, tick=0.1, extra=(
        "--executor", "ray", "--ray-address", ray_nodes.address, "--ray-agent-dir", ray_nodes.agent_dir, *extra))
    server.start()
    return server


@pytest.fixture(scope="module")
def served(ray_nodes: RayNodes, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Cli]]:
    """A server on the cluster file that ``gpucloud cluster from-ray`` writes for the Ray cluster."""
    base = tmp_path_factory.mktemp("rayserver")
    out = subprocess.run([*gpucloud_command(), "cluster", "from-ray", "--address", ray_nodes.address,
                          "--out", str(base / "cluster.yaml")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "wrote" in out.stdout and not out.stderr, out
    cluster = load_cluster(base / "cluster.yaml")
    assert [(n.name, n.gpus, n.gpu_type) for n in cluster.nodes] == [(f"b0-r0-n{i}", 4, "H100-80GB") for i in range(4)]
    server = ray_server(base / "data", ray_nodes, cluster=str(base / "cluster.yaml"))
    cli = Cli(server)
    cli.run("org", "create", "lab")
    yield server, cli
    server.stop()
    kill_recorded(ray_nodes.base / "nodes")


def nodes_of(job: dict[str, Any]) -> list[str]:
    return [p["node"] for p in job["placement"]]


def test_a_gang_runs_on_two_ray_nodes_and_rank_1_logs_through_the_cli(served: tuple[ServerProcess, Cli]) -> None:
    _, cli = served
    script = ('echo "rank=$RANK world=$WORLD_SIZE local=$LOCAL_RANK node=$GPUCLOUD_NODE gpus=$CUDA_VISIBLE_DEVICES '
              'master=$MASTER_ADDR:$MASTER_PORT nnodes=$PET_NNODES"')
    jid = cli.submit("--nodes", "2", "--gpus-per-node", "2", "--walltime", "5m", "--", "sh", "-c", script)
    job = cli.until(jid, *TERMINAL)
    assert job["state"] == "succeeded", job
    first, second = nodes_of(job)
    assert first != second
    lines = [cli.run("logs", jid, "--rank", str(r)).strip() for r in (0, 1)]
    fields = [dict(kv.split("=", 1) for kv in line.split()) for line in lines]
    assert [f["rank"] for f in fields] == ["0", "1"] and {f["world"] for f in fields} == {"2"}
    assert [f["node"] for f in fields] == [first, second] and {f["nnodes"] for f in fields} == {"2"}
    gpus = [",".join(str(g) for g in p["gpus"]) for p in job["placement"]]
    assert [f["gpus"] for f in fields] == gpus and {f["local"] for f in fields} == {"0"}
    assert fields[0]["master"] == fields[1]["master"]


def test_a_failing_rank_stops_the_other_and_fails_the_job_with_its_code(served: tuple[ServerProcess, Cli]) -> None:
    _, cli = served
    script = ('if [ "$RANK" = 1 ]; then sleep 1; exit 3; fi; '
              'trap "echo stopped by the gang; exit 9" TERM; while :; do sleep 0.1; done')
    jid = cli.submit("--nodes", "2", "--gpus-per-node", "4", "--walltime", "10m", "--grace", "5s", "--",
                     "sh", "-c", script)
    job = cli.until(jid, *TERMINAL)
    second = nodes_of(job)[1]
    assert (job["state"], job["exit_code"]) == ("failed", 3)
    assert job["reason"] == f"rank 1 ({second}): exit code 3"
    assert job["ended_at"] - job["started_at"] < 60  # at once, not at the walltime
    assert cli.run("logs", jid, "--rank", "0").strip() == "stopped by the gang"


def test_cancel_and_walltime_stop_every_rank(served: tuple[ServerProcess, Cli], ray_nodes: RayNodes) -> None:
    _, cli = served
    trap = 'trap "echo got TERM on $RANK; exit 0" TERM; while :; do sleep 0.1; done'
    cancelled = cli.submit("--nodes", "2", "--gpus-per-node", "2", "--walltime", "10m", "--", "sh", "-c", trap)
    timed = cli.submit("--nodes", "2", "--gpus-per-node", "2", "--walltime", "3s", "--grace", "2s", "--",
                       "sh", "-c", trap)
    cli.until(cancelled, "running")
    cli.run("cancel", cancelled)
    assert cli.until(cancelled, *TERMINAL)["state"] == "cancelled"
    assert cli.until(timed, *TERMINAL)["state"] == "timed_out"
    for jid in (cancelled, timed):
        assert [cli.run("logs", jid, "--rank", str(r)).strip() for r in (0, 1)] == ["got TERM on 0", "got TERM on 1"]


def test_a_lost_node_fails_or_requeues_its_jobs_and_comes_back_up(
        served: tuple[ServerProcess, Cli], ray_nodes: RayNodes) -> None:
    _, cli = served
    # fill the cluster: four whole-node jobs, the preemptible ones and the others alternating
    jobs = [cli.submit("--gpus", "4", "--walltime", "10m", *(() if i % 2 else ("--no-preemptible",)),
                       "--", "sleep", "600") for i in range(4)]
    for jid in jobs:
        cli.until(jid, "running")
    on = {j: nodes_of(cli.job(j))[0] for j in jobs}
    assert len(set(on.values())) == 4
    # one job of each kind on a worker node (removing the head would take Ray's control plane with it)
    pinned = [next(j for j in jobs[kind::2] if on[j] != ray_nodes.head) for kind in (0, 1)]
    for jid, expected in zip(pinned, ("failed", "pending"), strict=True):
        node = on[jid]
        ray_nodes.remove(node)

        def ended_run(j: str = jid, state: str = expected) -> bool:  # failed, or requeued (it may run again)
            return any(e["to_state"] == state and e["from_state"] == "running" for e in cli.job(j)["events"])

        wait_for(f"job {jid} to be {expected} after its node was lost", ended_run, 60, 0.2)
        event = next(e for e in cli.job(jid)["events"] if e["to_state"] == expected and e["from_state"] == "running")
        assert event["reason"].startswith(f"lost the host of {node}: "), event

        def state_of(n: str = node) -> tuple[str, str | None]:
            for block in cli.json("cluster")["blocks"]:
                for rack in block["racks"]:
                    for found in rack["nodes"]:
                        if found["name"] == n:
                            return found["state"], found["state_reason"]
            raise AssertionError(n)

        wait_for(f"{node} to be marked down", lambda: state_of()[0] == "down", 30)
        assert node in str(state_of()[1])  # the operator sees why
        ray_nodes.add(node)
        wait_for(f"{node} to come back up", lambda: state_of()[0] == "up", 60)
    assert cli.job(pinned[0])["state"] == "failed"
    # the requeued job runs again, on a node that is up
    wait_for("the requeued job to run again", lambda: cli.job(pinned[1])["run_count"] == 2, 60, 0.2)
    for jid in jobs:
        cli.run("cancel", jid, ok=False)
    for jid in jobs:
        cli.until(jid, *TERMINAL)


def test_a_killed_server_reattaches_its_ray_ranks_and_launches_nothing_twice(
        ray_nodes: RayNodes, tmp_path: Path) -> None:
    server = ray_server(tmp_path / "data", ray_nodes)
    cli = Cli(server)
    cli.run("org", "create", "lab")
    marks = ray_nodes.mountpoint / "marks"  # each node's own directory
    script = (f'mkdir -p {marks}; echo $$ >> {marks}/$GPUCLOUD_JOB_ID.$RANK; '
              'while [ ! -e /tmp/gpc-never ] && [ $SECONDS -lt 8 ]; do sleep 0.1; done; exit 0')
    jobs = [cli.submit("--nodes", "2", "--gpus-per-node", "1", "--walltime", "5m", "--", "bash", "-c", script)
            for _ in range(3)]
    for jid in jobs:
        cli.until(jid, "running")
    server.kill9()
    server.start()
    cli = Cli(server)  # on its new port
    for jid in jobs:
        job = cli.until(jid, *TERMINAL, timeout=90)
        assert job["state"] == "succeeded" and job["run_count"] == 1, job
        for rank, node in enumerate(nodes_of(job)):
            lines = (ray_nodes.node_dir(node) / "marks" / f"{jid}.{rank}").read_text().split()
            assert len(lines) == 1  # launched once
    server.stop()
