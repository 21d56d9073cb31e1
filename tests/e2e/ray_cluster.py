"""A real Ray cluster of several nodes on this machine, for the Ray executor's tests and benchmarks.

Each node is a separate ``ray start --block`` process tree in a session of its own (so removing a node kills exactly
its processes, never another Ray on the machine), with its own ``--temp-dir``, and inside a mount namespace of its
own in which ``<base>/host`` is that node's private directory: what one node's processes write there (the agent's
rank logs and exit files, a program put there by a test) no other node sees, as on separate hosts. The node holds
the gpucloud node named by its ``gpucloud-node`` label.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
#: Ray's own failure detector, made quick for tests: a dead node is noticed in ~2 s instead of ~30 s
FAST_HEALTH_CHECKS = {"RAY_health_check_initial_delay_ms": "0", "RAY_health_check_period_ms": "500",
                      "RAY_health_check_timeout_ms": "1000", "RAY_health_check_failure_threshold": "3"}
START_TIMEOUT_S = 90.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RayNodes:
    """The cluster: ``start(names)`` brings up one Ray node per name (the first is the head)."""

    def __init__(self, gpus: int = 4) -> None:
        #: logical GPUs each node declares (there are none: the executor never asks Ray for GPUs, gpucloud assigns
        #: them; ``gpucloud cluster from-ray`` counts them)
        self.gpus = gpus
        self.base = Path(tempfile.mkdtemp(prefix="gpcray", dir="/tmp"))  # short: Ray's socket paths have a limit
        self.mountpoint = self.base / "host"
        self.mountpoint.mkdir()
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.head = ""

    def node_dir(self, name: str) -> Path:
        """The directory a node sees at :attr:`mountpoint` (from outside its namespace)."""
        return self.base / "nodes" / name

    @property
    def agent_dir(self) -> str:
        """The Ray executor's ``agent_dir``: on each node, inside its private directory."""
        return str(self.mountpoint / "agent")

    def start(self, names: list[str]) -> None:
        self.head = names[0]
        self._launch(names[0], head=True)
        self.wait_for(names[:1])
        for name in names[1:]:
            self._launch(name, head=False)
        self.wait_for(names)

    def add(self, name: str) -> None:
        self._launch(name, head=False)
        self.wait_for(self.alive())

    def _launch(self, name: str, head: bool) -> None:
        private = self.node_dir(name)
        private.mkdir(parents=True, exist_ok=True)
        temp = self.base / "ray" / name
        args = [RAY, "start", "--num-cpus=1", f"--num-gpus={self.gpus}",
                f"--resources={json.dumps({'accelerator_type:H100': 1})}", "--disable-usage-stats",
                "--object-store-memory=80000000",
                f"--temp-dir={temp}", "--block", f"--labels={json.dumps({'gpucloud-node': name})}"]
        args += (["--head", f"--port={self.port}", "--include-dashboard=false"] if head
                 else [f"--address={self.address}"])
        inner = f"mount --bind {private} {self.mountpoint} && exec {' '.join(_quote(a) for a in args)}"
        log = (self.base / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", inner],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **FAST_HEALTH_CHECKS, "RAY_USAGE_STATS_ENABLED": "0"})

    def alive(self) -> list[str]:
        return [n for n, p in self.procs.items() if p.poll() is None]

    def wait_for(self, names: list[str]) -> None:
        """Wait until Ray lists exactly these nodes alive (by their labels). This process connects to the cluster
        as a driver (once the head answers)."""
        import ray

        deadline = time.monotonic() + START_TIMEOUT_S
        last: list[str] = []
        while time.monotonic() < deadline:
            for name in names:
                if self.procs[name].poll() is not None:
                    raise AssertionError(f"ray node {name} exited: {(self.base / f'{name}.log').read_text()[-2000:]}")
            if not ray.is_initialized():
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", self.port)) != 0:
                        time.sleep(0.2)
                        continue
                ray.init(address=self.address, namespace="gpucloud", log_to_driver=False, logging_level="ERROR")
            last = sorted(n["Labels"].get("gpucloud-node", "") for n in ray.nodes() if n["Alive"])
            if last == sorted(names):
                return
            time.sleep(0.2)
        raise AssertionError(f"ray nodes {names} not up within {START_TIMEOUT_S}s (alive: {last})")

    def remove(self, name: str) -> None:
        """Kill the node as a machine failure would: every process of its session, at once."""
        proc = self.procs.pop(name)
        _kill_session(proc.pid)
        proc.wait(10)

    def stop(self) -> None:
        import ray

        ray.shutdown()
        for name in list(self.procs):
            self.remove(name)
        shutil.rmtree(self.base, ignore_errors=True)


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


def _kill_session(sid: int) -> None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid:
                os.kill(int(entry.name), signal.SIGKILL)
