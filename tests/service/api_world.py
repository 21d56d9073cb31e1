"""Test helpers for the API tests: a hand-moved clock and a small world of orgs, users and tokens."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from gpucloud.service.api import create_app
from gpucloud.service.loop import ControlLoop
from gpucloud.service.settings import Settings


@dataclass
class FakeClock:
    """A clock the test moves by hand."""

    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class World:
    """An app on a 4 × 8 H100 cluster with two orgs and users of every role, and their tokens.

    alpha: ``alpha-admin`` (org-admin), ``alice`` and ``amy`` (members); beta: ``beta-admin``, ``bob``;
    ``admin`` is the bootstrap operator.
    """

    app: FastAPI
    client: TestClient
    clock: FakeClock
    settings: Settings
    tokens: dict[str, str] = field(default_factory=dict)
    changes: list[int] = field(default_factory=list)

    def h(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def call(self, user: str, method: str, path: str, json: Any = None) -> Any:
        return self.client.request(method, path, headers=self.h(user), json=json)

    def submit(self, user: str, **body: Any) -> dict[str, Any]:
        body.setdefault("argv", ["sleep", "1"])
        body.setdefault("walltime", "1h")
        r = self.call(user, "POST", "/api/v1/jobs", body)
        assert r.status_code in (200, 201), r.text
        out: dict[str, Any] = r.json()
        return out


USERS = {
    "alpha-admin": ("org-admin", "alpha"),
    "alice": ("member", "alpha"),
    "amy": ("member", "alpha"),
    "beta-admin": ("org-admin", "beta"),
    "bob": ("member", "beta"),
}


def make_world(db_url: str, tmp_path: Path, clock: FakeClock, cluster_file: str = "4x8:H100",
               **settings_kw: Any) -> World:
    """``settings_kw``: more :class:`Settings` fields (e.g. the request limits)."""
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, cluster_file=cluster_file, **settings_kw)
    changes: list[int] = []
    app = create_app(settings, clock=clock, on_change=lambda: changes.append(1))
    token = app.state.gpucloud.bootstrap_token
    assert token is not None
    world = World(app, TestClient(app), clock, settings, {"admin": token}, changes)
    for org in ("alpha", "beta"):
        assert world.call("admin", "POST", "/api/v1/orgs", {"name": org}).status_code == 201
    for name, (role, org) in USERS.items():
        assert world.call("admin", "POST", "/api/v1/users", {"name": name, "role": role, "org": org}).status_code == 201
        r = world.call("admin", "POST", "/api/v1/tokens", {"user": name})
        assert r.status_code == 201, r.text
        world.tokens[name] = r.json()["token"]
    world.changes.clear()
    return world


def close_world(world: World) -> None:
    """Close the world's client and its database connections."""
    world.client.close()
    world.app.state.gpucloud.engine.dispose()


def stop_loop(loop: ControlLoop) -> None:
    """Kill the jobs a test's loop still runs, close its executor and give up its leadership."""
    for job in list(loop.jobs.values()):
        loop.executor.signal(job.handle, signal.SIGKILL)
    loop.executor.close()
    loop.leader.release()
