"""Fixtures for end-to-end tests: ``gpucloud server`` as a real subprocess on a free port with its own data
directory (see server_proc.py), and cleanup of any job processes left behind (jobs run in sessions of their
own and outlive a killed server by design)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ray_cluster import RayNodes
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


@pytest.fixture(scope="session")
def ray_nodes() -> Iterator[RayNodes]:
    """A real Ray cluster of four nodes on this machine (one per gpucloud node of ``4x4:H100``: b0-r0-n0..3),
    shared by the Ray tests of this session (they run in one xdist group). Skipped when Ray is not installed,
    a failure instead when ``GPUCLOUD_REQUIRE_RAY`` is set (as in CI)."""
    try:
        import ray  # noqa: F401
    except ImportError:
        if os.environ.get("GPUCLOUD_REQUIRE_RAY"):
            raise
        pytest.skip("ray is not installed (pip install 'gpucloud[ray]'); Ray executor tests skipped")
    nodes = RayNodes()
    try:
        nodes.start([f"b0-r0-n{i}" for i in range(4)])
        yield nodes
    finally:
        nodes.stop()
