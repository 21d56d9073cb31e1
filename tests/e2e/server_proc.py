"""Helpers for the end-to-end tests: ``gpucloud server`` as a real subprocess (:class:`ServerProcess`) and
polling with a deadline (:func:`wait_for`)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

START_TIMEOUT_S = 40.0



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gpucloud_command() -> list[str]:
    script = Path(sys.executable).with_name("gpucloud")
    if script.exists():
        return [str(script)]
    found = shutil.which("gpucloud")
    return [found] if found else [sys.executable, "-m", "gpucloud.cli.main"]


class ServerProcess:
    """One ``gpucloud server`` process at a time on ``data_dir``; :meth:`start` again after :meth:`kill9`."""

    def __init__(self, data_dir: Path, cluster: str, tick: float = 0.1, workers: int = 1,
                 extra: tuple[str, ...] = ()) -> None:
        self.data_dir = data_dir
        self.cluster = cluster
        self.tick = tick
        #: more ``gpucloud server`` options (e.g. ``--executor ray``, ``--database-url``)
        self.extra = extra
        #: ``--workers``: 1 is one process; more is a supervisor with that many API processes and a loop process
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.token: str | None = None
        #: the operator token printed by the latest start (only the very first start prints one)
        self.printed_token: str | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.port = free_port()
        self.starts += 1
        log = self.data_dir.parent / f"server-{self.starts}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GPUCLOUD_")}
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*gpucloud_command(), "server", "--data-dir", str(self.data_dir), "--cluster", self.cluster,
                 "--port", str(self.port), "--tick", str(self.tick), "--workers", str(self.workers), "--verbose",
                 *self.extra],
                stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server not ready within {START_TIMEOUT_S}s:\n{log.read_text()}")
            time.sleep(0.05)
        self.printed_token = None
        for line in log.read_text().splitlines():
            if "operator token:" in line:
                self.printed_token = self.token = line.split("operator token:", 1)[1].strip()

    def children(self) -> list[int]:
        """Pids of the server's own child processes (the API and loop processes of ``--workers N``; not the
        job wrappers that a single-process server starts)."""
        assert self.proc is not None
        out: list[int] = []
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                for pid in task.read_text().split():
                    with contextlib.suppress(OSError):
                        if b"gpucloud.service.workers" in Path(f"/proc/{pid}/cmdline").read_bytes():
                            out.append(int(pid))
        return out

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int | None:
        """SIGTERM and wait; the exit status (None if it had to be killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            return None

    def client(self) -> httpx.Client:
        assert self.token is not None, "no operator token was printed"
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=10.0)

    def kill_job_processes(self) -> None:
        """SIGKILL every command recorded in the ranks' launch records under the data directory."""
        kill_recorded(self.data_dir)


def kill_recorded(root: Path) -> None:
    """SIGKILL the command of every rank launch record (``jobs/<id>/rank.<attempt>.<rank>``) under ``root``."""
    for path in root.glob("**/jobs/*/rank.*.*"):
        with contextlib.suppress(OSError):
            for line in path.read_text().splitlines():
                with contextlib.suppress(ValueError, KeyError, ProcessLookupError, PermissionError):
                    os.killpg(int(json.loads(line)["cmd"]), signal.SIGKILL)



def wait_for(what: str, check: Callable[[], Any], timeout: float = 20.0, every: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds saying ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {value!r})")
        time.sleep(every)
