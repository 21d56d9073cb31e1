"""The map at scale: the 10,240-GPU example cluster with every GPU held, served by a stub of the API inside the
browser (fake_api.py); every cell is drawn, in its org's colour, within the first-render budget."""

from __future__ import annotations

import json
from typing import Any

from fake_api import BASE_URL, ORGS, FakeApi, occupied_cluster
from webutil import shot

FIRST_RENDER_BUDGET_MS = 1000.0


def test_map_draws_every_gpu_of_the_10k_cluster(new_page: Any) -> None:
    doc, jobs = occupied_cluster()
    assert doc["total_gpus"] == 10_240
    page = new_page(viewport={"width": 1600, "height": 1000})
    FakeApi(doc, jobs).install(page)
    page.add_init_script("localStorage.setItem('gpucloud.token', 'gpc_fake')")
    page.goto(f"{BASE_URL}/#/map")
    page.wait_for_selector("#cluster-map[data-cells]", timeout=20_000)
    data = page.eval_on_selector("#cluster-map", "c => ({...c.dataset})")
    assert int(data["cells"]) == 10_240
    assert int(data["busy"]) == 10_240 and int(data["hidden"]) == 0
    orgs = json.loads(data["orgs"])
    assert sorted(orgs) == sorted(ORGS) and sum(orgs.values()) == 10_240
    assert len(json.loads(data["jobs"])) == len(jobs) == 1280
    # all cells fit in the canvas: the last GPU of the last node is drawn inside it
    last = doc["blocks"][-1]["racks"][-1]["nodes"][-1]
    c = page.evaluate("([n, g]) => window.__gpucloudMap.cellCenter(n, g)", [last["name"], 7])
    size = page.eval_on_selector("#cluster-map", "c => [c.clientWidth, c.clientHeight]")
    assert 0 < c["x"] < size[0] and 0 < c["y"] < size[1]
    first = page.evaluate("() => window.__gpucloudMapFirstRender")
    print(f"10,240-GPU map: first render {first['ms']:.0f} ms after the page asked for the cluster, "
          f"{first['sinceNavigationMs']:.0f} ms after navigation")
    assert first["ms"] < FIRST_RENDER_BUDGET_MS, first
    shot(page, "map-10k-en", docs=True)
