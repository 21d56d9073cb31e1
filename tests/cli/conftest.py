"""Fixtures for the CLI tests: ``server`` (a real API server on a free port: SQLite in tmp_path, a 2 × 4 GPU
cluster, no control loop), ``cli`` (runs ``gpucloud`` against it) and ``world`` (orgs and users created through
the CLI). The helpers live in ``cli_world.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_world import Cli, Server, serve

from gpucloud.service.api import create_app
from gpucloud.service.settings import Settings


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    for var in ("GPUCLOUD_URL", "GPUCLOUD_TOKEN", "GPUCLOUD_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'api.db'}",
                        cluster_file="2x4")
    app = create_app(settings)
    token = app.state.gpucloud.bootstrap_token
    assert token is not None
    uv, thread, url = serve(app)
    try:
        yield Server(url, app, settings, token)
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        app.state.gpucloud.engine.dispose()


@pytest.fixture
def cli(server: Server, tmp_path: Path) -> Cli:
    """A CLI whose config is in tmp_path; ``tokens["admin"]`` is the operator."""
    return Cli(server, tmp_path / "cfg" / "config.json", {"admin": server.operator_token})


@pytest.fixture
def world(cli: Cli) -> Cli:
    """Orgs alpha and beta; users alice (alpha member), amin (alpha org-admin), bob (beta member)."""
    for org in ("alpha", "beta"):
        cli.ok("org", "create", org, user="admin")
    for name, org, role in (("alice", "alpha", "member"), ("amin", "alpha", "org-admin"), ("bob", "beta", "member")):
        out = cli.json("user", "create", name, "--org", org, "--role", role, user="admin")
        cli.tokens[name] = out["token"]["token"]
    return cli
