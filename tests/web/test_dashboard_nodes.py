"""Down and reserved nodes on the map against a real server (its own: a node down and a reservation change where
other tests' jobs could run): a down node is drawn dark with its reason in the tooltip; the idle GPUs of a node in an
active reservation are amber with the reservation in the tooltip; a job running inside the reservation keeps its
org's colour with the reservation's corner; another org's member sees the reservation without whose it is."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
from server_proc import ServerProcess, wait_for
from webutil import canvas_pixel, login, make_user, shot, submit

DOWN, RESERVED, CORNER = "#1f2937", "#fde68a", "#f59e0b"


def _data(page: Any, name: str) -> int:
    return int(page.get_attribute("#cluster-map", f"data-{name}") or 0)


def _hover(page: Any, node: str, gpu: int) -> None:
    box = page.locator("#cluster-map").bounding_box()
    c = page.evaluate("([n, g]) => window.__gpucloudMap.cellCenter(n, g)", [node, gpu])
    page.mouse.move(box["x"] + c["x"], box["y"] + c["y"])


def test_down_and_reserved_nodes_on_the_map(server: ServerProcess, op: httpx.Client, new_page: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    lab, other = f"lab-{tag}", f"uni-{tag}"
    ann = make_user(op, f"ann-{tag}", lab)
    ben = make_user(op, f"ben-{tag}", other)
    r = op.put("/api/v1/cluster/nodes/b0-r0-n1/state", json={"state": "down", "reason": "PSU failure"})
    assert r.status_code == 200, r.text
    now = time.time()
    r = op.post("/api/v1/reservations", json={"gpu_type": "H100-80GB", "nodes": 1, "start": now + 1, "end": now + 3600,
                                              "name": f"workshop-{tag}", "org": lab})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    r = op.post(f"/api/v1/reservations/{rid}/approve", json={})
    assert r.status_code == 200 and r.json()["node_names"] == ["b0-r0-n0"], r.text
    job = None
    try:
        page = new_page()
        login(page, server.url, server.token or "")
        page.wait_for_function("() => Number(document.getElementById('cluster-map')?.dataset.reserved) === 4",
                               timeout=15_000)
        assert (_data(page, "down"), _data(page, "busy"), _data(page, "reservedBusy")) == (4, 0, 0)
        for gpu in range(4):
            rect = page.evaluate("([n, g]) => window.__gpucloudMap.cellRect(n, g)", ["b0-r0-n1", gpu])
            assert canvas_pixel(page, rect["x"] + 3, rect["y"] + 3) == DOWN
            c = page.evaluate("([n, g]) => window.__gpucloudMap.cellCenter(n, g)", ["b0-r0-n0", gpu])
            assert canvas_pixel(page, c["x"], c["y"]) == RESERVED
        legend = page.locator("#legend li[data-state=down]").inner_text()
        assert legend.startswith("Down") and legend.endswith("4")
        _hover(page, "b0-r0-n1", 2)
        page.locator("#map-tooltip [data-tip=down-reason]", has_text="PSU failure").wait_for()
        _hover(page, "b0-r0-n0", 1)
        tip = page.locator("#map-tooltip [data-tip=reservation]")
        tip.wait_for()
        assert f"workshop-{tag}" in tip.inner_text() and lab in tip.inner_text()
        shot(page, "map-states-en", docs=True)

        # A job inside the reservation: its org's colour, with the reservation's corner.
        job = submit(ann, server.url, argv=["sh", "-c", "exec sleep 60"], num_gpus=2, reservation=f"workshop-{tag}",
                     walltime="30m", grace="1s")
        page.wait_for_function("() => Number(document.getElementById('cluster-map')?.dataset.reservedBusy) === 2",
                               timeout=15_000)
        assert (_data(page, "reserved"), _data(page, "busy")) == (2, 2)
        placed = op.get(f"/api/v1/jobs/{job['id']}").json()["placement"]
        node, gpu = placed[0]["node"], placed[0]["gpus"][0]
        rect = page.evaluate("([n, g]) => window.__gpucloudMap.cellRect(n, g)", [node, gpu])
        assert canvas_pixel(page, rect["x"] + rect["size"] - 2, rect["y"] + 1) == CORNER
        page.click("button[data-lang=ja]")
        page.locator("#legend li[data-state=down]", has_text="停止中").wait_for()
        _hover(page, "b0-r0-n1", 0)
        page.locator("#map-tooltip [data-tip=down-reason]", has_text="理由").wait_for()
        shot(page, "map-states-ja")

        # Another org's member: the reservation is there, whose it is not.
        member = new_page()
        login(member, server.url, ben)
        member.wait_for_function("() => Number(document.getElementById('cluster-map')?.dataset.reservedBusy) === 2")
        _hover(member, "b0-r0-n0", 3 if gpu != 3 else 0)
        mtip = member.locator("#map-tooltip [data-tip=reservation]")
        mtip.wait_for()
        assert f"workshop-{tag}" in mtip.inner_text() and lab not in member.locator("#map-tooltip").inner_text()
    finally:
        if job is not None:
            op.post(f"/api/v1/jobs/{job['id']}/cancel")
            url = f"/api/v1/jobs/{job['id']}"
            wait_for("the job to end", lambda: op.get(url).json()["state"] == "cancelled", timeout=20)
        op.post(f"/api/v1/reservations/{rid}/cancel", json={})
        op.put("/api/v1/cluster/nodes/b0-r0-n1/state", json={"state": "up"})
