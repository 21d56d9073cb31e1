"""Fixtures for end-to-end tests: ``gpucloud server`` as a real subprocess on a free port with its own data
directory (see server_proc.py), and cleanup of any job processes left behind (jobs run in sessions of their
own and outlive a killed server by design)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from server_proc import ServerProcess


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    made: list[ServerProcess] = []

    def make(cluster: str = "2x4:H100", tick: float = 0.1, workers: int = 1) -> ServerProcess:
        server = ServerProcess(tmp_path / f"data{len(made)}", cluster, tick, workers)
        made.append(server)
        server.start()
        return server

    yield make
    for server in made:
        server.stop()
        server.kill_job_processes()
