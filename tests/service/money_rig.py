"""The rig of the money tests: a world (tests/service/api_world.py) with a tariff, a control loop driven tick by
tick with a hand-moved clock, and an executor whose jobs end when the test says so (``Manual``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api_world import FakeClock, World, make_world
from money_books import Manual

from gpucloud.service import budgets
from gpucloud.service.loop import ControlLoop, LoopConfig


@dataclass
class Rig:
    world: World
    clock: FakeClock
    executor: Manual
    loop: ControlLoop

    def submit(self, user: str = "alice", **body: Any) -> int:
        body.setdefault("num_gpus", 2)
        return int(self.world.submit(user, argv=["true"], **body)["id"])

    def job(self, jid: int) -> dict[str, Any]:
        r = self.world.call("admin", "GET", f"/api/v1/jobs/{jid}")
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def top_up(self, amount: str, project: str = "alpha/default") -> dict[str, Any]:
        r = self.world.call("admin", "POST", f"/api/v1/budgets/{project}/topup", {"amount": amount})
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def budget(self, project: str = "alpha/default") -> dict[str, Any]:
        r = self.world.call("admin", "GET", "/api/v1/budgets")
        assert r.status_code == 200, r.text
        return next(b for b in r.json() if f"{b['org']}/{b['project']}" == project)

    def ledger(self, project: str = "alpha/default") -> list[tuple[str, str]]:
        r = self.world.call("admin", "GET", f"/api/v1/budgets/{project}/ledger")
        assert r.status_code == 200, r.text
        return [(e["kind"], e["amount"]) for e in r.json()["items"]]

    def verify(self) -> None:
        with self.world.app.state.gpucloud.sessions() as session:
            budgets.full_ledger(session).verify()


@contextmanager
def open_rig(db_url: str, tmp_path: Path, tariff: dict[str, Any] | None, *, cluster_file: str = "1x4:H100",
             clock: FakeClock | None = None, policy: str = "backfill") -> Iterator[Rig]:
    """A world on ``cluster_file`` with ``tariff`` loaded (None: no money), and its loop."""
    clock = clock or FakeClock()
    world = make_world(db_url, tmp_path, clock, cluster_file=cluster_file)
    if tariff is not None:
        r = world.call("admin", "POST", "/api/v1/tariffs", tariff)
        assert r.status_code == 201, r.text
    ctx = world.app.state.gpucloud
    executor = Manual()
    loop = ControlLoop(ctx.sessions, lambda: ctx.cluster, executor, engine=ctx.engine, clock=clock,
                       config=LoopConfig(policy=policy))
    try:
        yield Rig(world, clock, executor, loop)
    finally:
        loop.leader.release()
        world.client.close()
        ctx.engine.dispose()
