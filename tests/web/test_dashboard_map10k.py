"""The map at scale: the 10,240-GPU example cluster with every GPU held except some down nodes and some idle in a
reservation, served by a stub of the API inside the browser (fake_api.py); every cell is drawn, in its org's
colour or its state's, and the first render is recorded. How long it takes is benchmarks/bench_dashboard.py's
figure, not a test's: a timing bound fails on a loaded machine for reasons that are not the map's."""

from __future__ import annotations

import json
from typing import Any

from fake_api import BASE_URL, ORGS, FakeApi, occupied_cluster
from webutil import canvas_pixel, shot

DOWN, RESERVED, RESERVED_CORNER = "#1f2937", "#fde68a", "#f59e0b"


def _nodes(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for b in doc["blocks"] for r in b["racks"] for n in r["nodes"]]


def test_map_draws_every_gpu_of_the_10k_cluster(new_page: Any) -> None:
    doc, jobs = occupied_cluster(down_every=97, reserved_every=89)
    assert doc["total_gpus"] == 10_240
    nodes = _nodes(doc)
    down = [n for n in nodes if n["state"] == "down"]
    active = [n for n in nodes if n["reservation"] and n["reservation"]["active"]]
    reserved_idle = [n for n in active if not n["gpus"][0]["busy"]]
    reserved_busy = [n for n in active if n["gpus"][0]["busy"]]
    upcoming = [n for n in nodes if n["reservation"] and not n["reservation"]["active"]]
    assert len(down) > 5 and len(reserved_idle) > 5 and len(reserved_busy) > 5 and upcoming
    gpus = lambda ns: sum(len(n["gpus"]) for n in ns)  # noqa: E731
    busy = 10_240 - gpus(down) - gpus(reserved_idle)
    assert doc["busy_gpus"] == busy

    page = new_page(viewport={"width": 1600, "height": 1000})
    FakeApi(doc, jobs).install(page)
    page.add_init_script("localStorage.setItem('gpucloud.token', 'gpc_fake')")
    page.goto(f"{BASE_URL}/#/map")
    page.wait_for_selector("#cluster-map[data-cells]", timeout=20_000)
    data = page.eval_on_selector("#cluster-map", "c => ({...c.dataset})")
    assert int(data["cells"]) == 10_240
    assert int(data["busy"]) == busy and int(data["hidden"]) == 0
    assert int(data["down"]) == gpus(down)
    assert int(data["reserved"]) == gpus(reserved_idle)
    assert int(data["reservedBusy"]) == gpus(reserved_busy)
    orgs = json.loads(data["orgs"])
    assert sorted(orgs) == sorted(ORGS) and sum(orgs.values()) == busy
    assert len(json.loads(data["jobs"])) == len(jobs) == 1280 - len(down) - len(reserved_idle)
    legend = {li.get_attribute("data-state"): li.inner_text() for li in page.locator("#legend li[data-state]").all()}
    assert legend["down"].endswith(f"{gpus(down):,}") and legend["reserved"].endswith(f"{gpus(reserved_idle):,}")
    assert legend["reserved-busy"].endswith(f"{gpus(reserved_busy):,}")

    # The states are drawn: a down GPU dark (off its red diagonal), a reserved idle one amber, a busy one in a
    # reservation with an amber corner.
    def rect(node: dict[str, Any], gpu: int = 0) -> Any:
        return page.evaluate("([n, g]) => window.__gpucloudMap.cellRect(n, g)", [node["name"], gpu])

    for node in down[:3]:
        r = rect(node)
        assert canvas_pixel(page, r["x"] + 1.2, r["y"] + 1.2) == DOWN
    for node in reserved_idle[:3]:
        r = rect(node, 1)
        assert canvas_pixel(page, r["x"] + r["size"] / 2, r["y"] + r["size"] / 2) == RESERVED
    for node in reserved_busy[:3]:
        r = rect(node, 2)
        assert canvas_pixel(page, r["x"] + r["size"] - 1.8, r["y"] + 0.2) == RESERVED_CORNER
        assert canvas_pixel(page, r["x"] + 1.2, r["y"] + r["size"] - 1.8) not in (RESERVED_CORNER, RESERVED)

    # all cells fit in the canvas: the last GPU of the last node is drawn inside it
    last = doc["blocks"][-1]["racks"][-1]["nodes"][-1]
    c = page.evaluate("([n, g]) => window.__gpucloudMap.cellCenter(n, g)", [last["name"], 7])
    size = page.eval_on_selector("#cluster-map", "c => [c.clientWidth, c.clientHeight]")
    assert 0 < c["x"] < size[0] and 0 < c["y"] < size[1]
    first = page.evaluate("() => window.__gpucloudMapFirstRender")  # what bench_dashboard.py reads
    assert first["cells"] == 10_240 and first["sinceNavigationMs"] >= first["ms"] >= 0, first

    # Tooltips: the down reason; the reservation's name and window.
    box = page.locator("#cluster-map").bounding_box()
    assert box is not None
    for node, wanted in ((down[0], "PSU failure"), (reserved_idle[0], reserved_idle[0]["reservation"]["name"]),
                         (reserved_busy[0], reserved_busy[0]["reservation"]["name"])):
        c = page.evaluate("([n, g]) => window.__gpucloudMap.cellCenter(n, g)", [node["name"], 0])
        page.mouse.move(box["x"] + c["x"], box["y"] + c["y"])
        page.wait_for_function("(w) => document.getElementById('map-tooltip')?.textContent.includes(w)", arg=wanted)
    assert page.locator("#map-tooltip [data-tip=reservation]").count() == 1
    page.mouse.move(0, 0)
    shot(page, "map-10k-en", docs=True)
