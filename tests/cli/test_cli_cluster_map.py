"""``gpucloud cluster``: the text map against a real server, and the renderer on its own."""

from __future__ import annotations

from typing import Any

from cli_world import Cli, move, submit

from gpucloud.cli.cluster_map import org_letters, render_map
from gpucloud.model.job import JobState


def node_lines(text: str) -> dict[str, str]:
    """``{node name: its cells}`` from the printed map."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].startswith("b0-r0-n"):
            out[parts[0]] = parts[1]
    return out


def test_idle_map_has_a_cell_per_gpu(world: Cli) -> None:
    text = world.ok("cluster", user="alice").stdout
    assert node_lines(text) == {"b0-r0-n0": "....", "b0-r0-n1": "...."}
    assert "0/8 GPUs busy" in text and "rack b0-r0" in text and "legend" in text


def test_map_shows_who_holds_gpus(world: Cli) -> None:
    a = submit(world, "alice", "--gpus", "2", "--", "true")
    b = submit(world, "bob", "--gpus", "4", "--", "true")
    move(world, a, JobState.ADMITTED, JobState.RUNNING, node="b0-r0-n1", gpus=(2, 3))
    move(world, b, JobState.ADMITTED, node="b0-r0-n0", gpus=(0, 1, 2, 3))
    admin = world.ok("cluster", user="admin").stdout
    assert node_lines(admin) == {"b0-r0-n0": "BBBB", "b0-r0-n1": "..AA"}
    assert "A alpha (2)" in admin and "B beta (4)" in admin and "6/8 GPUs busy" in admin
    alice = world.ok("cluster", user="alice").stdout  # bob's job is not hers to see
    assert node_lines(alice) == {"b0-r0-n0": "####", "b0-r0-n1": "..AA"}
    per_rack = world.ok("cluster", "--per-rack", user="admin").stdout
    assert "b0-r0  BBBB ..AA" in per_rack
    doc = world.json("cluster", user="alice")
    gpus = [g for b in doc["blocks"] for r in b["racks"] for n in r["nodes"] for g in n["gpus"]]
    assert len(gpus) == 8 and sum(g["busy"] for g in gpus) == 6
    assert {g["job_id"] for g in gpus if g["busy"]} == {a, None}


def test_org_letters_are_distinct() -> None:
    letters = org_letters(["alpha", "acme", "beta", "a", "b2"])
    assert len(set(letters.values())) == 5
    assert letters["a"] == "A" and letters["acme"] == "C"


def _cluster(nodes: int, gpus: int) -> dict[str, Any]:
    node_docs = [{"name": f"n{i:03d}", "gpu_type": "X", "gpus": [{"index": g, "busy": False, "job_id": None}
                                                                   for g in range(gpus)]} for i in range(nodes)]
    return {"name": "big", "total_gpus": nodes * gpus, "busy_gpus": 0, "gpu_types": [],
            "blocks": [{"name": "b", "racks": [{"name": "r", "nodes": node_docs}]}]}


def test_wide_nodes_wrap_to_the_width() -> None:
    lines = [t.plain for t in render_map(_cluster(2, 72), {}, width=40)]
    assert all(len(line) <= 40 for line in lines[:-1])  # the legend may be longer
    assert sum(line.count(".") for line in lines[:-1]) == 144


def test_per_rack_wraps_many_nodes() -> None:
    lines = [t.plain for t in render_map(_cluster(18, 4), {}, width=30, per_rack=True)]
    assert all(len(line) <= 30 for line in lines[:-1])
    assert sum(line.count(".") for line in lines[:-1]) == 72
