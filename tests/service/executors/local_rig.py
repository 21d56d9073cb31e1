"""A local executor driven the way the control loop drives it (launch, then collect in a loop), for tests."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpucloud.service.executors.base import ExitStatus, Handle, LaunchSpec, LogCursor, NodeGpus
from gpucloud.service.executors.local import LocalExecutor

DEADLINE_S = 10.0
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "FOO": "bar baz"}


def spec(tmp_path: Path, *argv: str, placement: tuple[NodeGpus, ...] = (NodeGpus("node-a", 0, (1, 3)),),
         cwd: str | None = None, job_id: str = "1", attempt: int = 1, account: str | None = None) -> LaunchSpec:
    return LaunchSpec(job_id=job_id, attempt=attempt, argv=argv, cwd=cwd if cwd is not None else str(tmp_path),
                      env=dict(ENV), placement=placement, account=account)


def parse_env(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def stored(handle: Handle) -> Handle:
    """The handle as it comes back from the database (through JSON)."""
    return Handle(handle.executor, handle.job_id, json.loads(json.dumps(handle.data)))


class Rig:
    """A bound local executor whose data directory is ``root``; it remembers what it launched (killed at the end)."""

    def __init__(self, root: Path, epoch: int = 1) -> None:
        self.root = root
        self.ex = LocalExecutor(root)
        self.ex.bind(lambda: None, epoch)
        self.handles: list[Handle] = []
        self.exits: dict[tuple[str, int], ExitStatus] = {}

    def launch(self, spec: LaunchSpec) -> Handle:
        handle = self.ex.launch_now(spec)
        self.handles.append(handle)
        return handle

    def forget(self, job_id: str) -> None:
        """The job is no longer watched (as when the loop requeues it): one collect without it."""
        self.handles = [h for h in self.handles if h.job_id != job_id]
        self.exits = {k: v for k, v in self.exits.items() if k[0] != job_id}
        self.ex.collect({h.job_id: h for h in self.handles})

    def job_dir(self, job_id: str = "1") -> Path:
        return self.root / "jobs" / job_id

    def log(self, name: str, job_id: str = "1") -> str:
        return (self.job_dir(job_id) / name).read_text()

    def poll(self, handle: Handle) -> dict[int, ExitStatus] | None:
        """The ranks' statuses once all ranks ended, else None (one collect)."""
        report = self.ex.collect({h.job_id: h for h in self.handles if h.job_id == handle.job_id} or
                                 {handle.job_id: handle})
        for ex in report.exits:
            self.exits[(ex.job_id, ex.rank)] = ex.status
        mine = {r: s for (j, r), s in self.exits.items() if j == handle.job_id}
        return mine if len(mine) >= handle.world else None

    def wait(self, handle: Handle, deadline_s: float = DEADLINE_S) -> dict[int, ExitStatus]:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            done = self.poll(handle)
            if done is not None:
                return done
            time.sleep(0.01)
        raise AssertionError(f"job {handle.job_id} still running after {deadline_s}s")

    def logs(self, handle: Handle, rank: int = 0, stream: str = "stdout") -> bytes:
        report = self.ex.collect({handle.job_id: handle}, [LogCursor(handle.job_id, rank, stream, 0)])
        return b"".join(p.data for p in report.logs)

    def close(self) -> None:
        for h in self.handles:
            self.ex.signal(h, 9)
        self.ex.close()


def simple(status: ExitStatus) -> tuple[int | None, str]:
    return status.exit_code, status.reason


def wait_for(path: Path, text: str = "", deadline_s: float = DEADLINE_S) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.01)
    raise AssertionError(f"{path} never contained {text!r}")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path / "data")
    yield r
    r.close()
