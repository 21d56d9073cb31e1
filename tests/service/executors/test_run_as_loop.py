"""Through the control loop: with ``--run-as table`` each gpucloud user's jobs run as the OS account the table gives,
and a user the table does not name cannot start jobs (the job fails with the reason)."""

from __future__ import annotations

import time
from pathlib import Path

from api_world import FakeClock, make_world

from gpucloud.service.accounts import RunAs
from gpucloud.service.executors.local import LocalExecutor
from gpucloud.service.loop import ControlLoop, LoopConfig
from os_users import Accounts


def test_jobs_run_as_the_accounts_of_the_table(accounts: Accounts, tmp_path: Path) -> None:
    clock = FakeClock()
    world = make_world(f"sqlite:///{tmp_path / 'gpucloud.db'}", tmp_path, clock, cluster_file="1x4:H100")
    ctx = world.app.state.gpucloud
    run_as = RunAs("table", {"alice": accounts.alice}, "accounts.yaml")
    loop = ControlLoop(ctx.sessions, lambda: ctx.cluster, LocalExecutor(world.settings.data_dir), engine=ctx.engine,
                       clock=clock, config=LoopConfig(run_as=run_as))
    try:
        mine = int(world.submit("alice", argv=["sh", "-c", "id -un; echo $HOME"], cwd="")["id"])
        theirs = int(world.submit("bob", argv=["true"])["id"])
        deadline = time.monotonic() + 10
        states: dict[int, str] = {}
        while time.monotonic() < deadline:
            loop.tick()
            states = {j: world.call("admin", "GET", f"/api/v1/jobs/{j}").json()["state"] for j in (mine, theirs)}
            if states[mine] == "succeeded" and states[theirs] == "failed":
                break
            time.sleep(0.02)
        assert states == {mine: "succeeded", theirs: "failed"}
        log = world.call("alice", "GET", f"/api/v1/jobs/{mine}/logs").json()["text"]
        assert log == f"{accounts.alice}\n{accounts.home(accounts.alice)}\n"
        reason = world.call("bob", "GET", f"/api/v1/jobs/{theirs}").json()["reason"]
        assert reason == "cannot start: user 'bob' has no OS account in the run-as table accounts.yaml"
    finally:
        loop.executor.close()
        world.client.close()
        ctx.engine.dispose()
