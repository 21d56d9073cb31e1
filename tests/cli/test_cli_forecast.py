"""``gpucloud queue --start`` and ``gpucloud job N [--advice]`` against a real server: the predicted start, its
range and what the job waits for, and the shape advice."""

from __future__ import annotations

import re

from cli_world import Cli, move, submit

from gpucloud.model.job import JobState


def test_queue_start_job_forecast_and_advice(world: Cli) -> None:
    """Both 4-GPU nodes are busy with alice's jobs asking 1 h (no history: they run their walltime); bob's
    4-GPU job starts when the first of them ends."""
    for node in ("b0-r0-n0", "b0-r0-n1"):
        jid = submit(world, "alice", "--gpus", "4", "--walltime", "1h", "--", "true")
        move(world, jid, JobState.ADMITTED, JobState.RUNNING, node=node, gpus=(0, 1, 2, 3))
    started = world.json("job", str(jid), user="alice")["started_at"]
    waiting = submit(world, "bob", "--gpus", "4", "--walltime", "30m", "--", "true")

    entry = world.json("queue", "--start", user="bob")["items"][0]
    assert entry["job"]["id"] == waiting
    assert abs(entry["forecast"]["start"] - (started + 3600)) < 5
    table = world.ok("queue", "--start", user="bob").stdout
    assert "WAITS FOR" in table and "running jobs to free enough GPUs" in table
    assert re.search(r"in (1h|59m\d+s) ", table), table
    assert "WAITS FOR" not in world.ok("queue", user="bob").stdout

    shown = world.ok("job", str(waiting), "--advice", user="bob").stdout
    assert "predicted start" in shown and "likely between" in shown
    assert "shape advice" in shown and "as asked" in shown
    assert world.json("job", str(waiting), "--advice", user="bob")["advice"]["options"][0]["num_gpus"] == 4
    # a running job: no forecast, no advice asked
    assert "predicted start" not in world.ok("job", str(jid), "--advice", user="alice").stdout
