"""Operations on the cluster map against a real server (its own): a node's panel from a click or the keyboard,
drain / take down now / bring up after a confirmation, filters by org, GPU type and job kept in the address, the
utilisation of each block, keyboard access, dark mode, and a member who sees no operations."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from server_proc import ServerProcess, wait_for
from webutil import canvas_pixel, login, make_user, shot, submit


@pytest.fixture(scope="module")
def world(server: ServerProcess) -> Iterator[dict[str, Any]]:
    """alice's 4-GPU job on one node, bob's 2-GPU job on the other."""
    tag = uuid.uuid4().hex[:6]
    with server.client() as op:
        alice = make_user(op, f"alice-{tag}", f"lab-{tag}")
        bob = make_user(op, f"bob-{tag}", f"inst-{tag}")
        a = submit(alice, server.url, argv=["sh", "-c", "exec sleep 300"], num_gpus=4, grace="1s", name="four")
        b = submit(bob, server.url, argv=["sh", "-c", "exec sleep 300"], num_gpus=2, grace="1s", name="two")
        for j in (a, b):
            wait_for("jobs to run", lambda j=j: op.get(f"/api/v1/jobs/{j['id']}").json()["state"] == "running",
                     timeout=30)
        placed = {j["id"]: op.get(f"/api/v1/jobs/{j['id']}").json()["placement"][0]["node"] for j in (a, b)}
        yield {"tag": tag, "alice": alice, "bob": bob, "a": a, "b": b, "node_a": placed[a["id"]],
               "node_b": placed[b["id"]]}
        for j in (a, b):
            op.post(f"/api/v1/jobs/{j['id']}/cancel")
        for n in placed.values():
            op.put(f"/api/v1/cluster/nodes/{n}/state", json={"state": "up"})


def _data(page: Any, name: str) -> Any:
    return json.loads(page.get_attribute("#cluster-map", f"data-{name}") or "null")


def _click_cell(page: Any, node: str, gpu: int) -> None:
    c = page.evaluate("([n, g]) => window.__gpucloudMap.cellCenter(n, g)", [node, gpu])
    box = page.locator("#cluster-map").bounding_box()
    assert box is not None and c is not None
    page.mouse.click(box["x"] + c["x"], box["y"] + c["y"])


def test_drain_down_and_up_from_the_map(server: ServerProcess, world: dict[str, Any], op: httpx.Client,
                                        new_page: Any) -> None:
    page = new_page()
    login(page, server.url, server.token or "")
    node = world["node_a"]
    page.wait_for_function("(id) => String(id) in JSON.parse(document.getElementById('cluster-map').dataset.jobs)",
                           arg=world["a"]["id"])
    _click_cell(page, node, 1)
    panel = page.locator(f"#node-panel[data-node='{node}']")
    panel.wait_for()
    assert panel.locator(f"a[data-job='{world['a']['id']}']").count() == 4  # its 4 GPUs, each a link to the job
    # drain: asks first; "no" changes nothing
    panel.locator("[data-action=drain]").click()
    panel.locator("[data-confirm=no]").click()
    assert op.get("/api/v1/cluster").json()["blocks"][0]["racks"][0]["nodes"][0]["state"] == "up"
    panel.locator("[data-action=drain]").click()
    panel.locator("[data-node-reason]").fill("firmware update")
    panel.locator("[data-confirm=yes]").click()
    page.wait_for_function("() => document.getElementById('cluster-map').dataset.draining === '4'")
    panel.locator("[data-node-state=down]").wait_for()
    assert op.get(f"/api/v1/jobs/{world['a']['id']}").json()["state"] == "running"  # a drain lets it finish
    nodes = {n["name"]: n for r in op.get("/api/v1/cluster").json()["blocks"][0]["racks"] for n in r["nodes"]}
    assert (nodes[node]["state"], nodes[node]["state_reason"]) == ("down", "firmware update")
    shot(page, "map-drain-en", docs=True)
    # take down now: the confirmation counts its jobs; they are cancelled
    panel.locator("[data-action=down]").click()
    panel.locator("[data-confirm-text=down]", has_text="1 job").wait_for()
    panel.locator("[data-node-reason]").fill("PSU")
    panel.locator("[data-confirm=yes]").click()
    wait_for("the job to be cancelled", lambda: op.get(f"/api/v1/jobs/{world['a']['id']}").json()["state"]
             == "cancelled", timeout=30)
    page.wait_for_function("() => document.getElementById('cluster-map').dataset.down === '4'", timeout=15_000)
    # bring it up
    panel.locator("[data-action=up]").click()
    panel.locator("[data-confirm=yes]").click()
    page.wait_for_function("() => document.getElementById('cluster-map').dataset.down === '0'")
    panel.locator("[data-node-state=up]").wait_for()


def test_filters_blocks_keyboard_and_dark_mode(server: ServerProcess, world: dict[str, Any], op: httpx.Client,
                                               new_page: Any) -> None:
    page = new_page(color_scheme="dark")
    login(page, server.url, server.token or "")
    b = world["b"]["id"]
    page.wait_for_function("(id) => String(id) in JSON.parse(document.getElementById('cluster-map').dataset.jobs)",
                           arg=b)
    # filter by org: only its GPUs match; the choice is in the address and survives a reload
    org = f"inst-{world['tag']}"
    page.select_option("#map-org", org)
    page.wait_for_function("() => document.getElementById('cluster-map').dataset.matching === '2'")
    assert f"org={org}" in page.url
    page.reload()
    page.wait_for_function("() => document.getElementById('cluster-map').dataset.matching === '2'")
    assert page.input_value("#map-org") == org
    page.select_option("#map-org", "")
    page.select_option("#map-gpu-type", "H100-80GB")
    page.wait_for_function("() => document.getElementById('cluster-map').dataset.matching === '8'")
    page.select_option("#map-gpu-type", "")
    page.fill("#map-job", f"#{b}")
    page.wait_for_function("() => document.getElementById('cluster-map').dataset.matching === '2'")
    page.fill("#map-job", "")
    page.wait_for_function("() => document.getElementById('cluster-map').dataset.matching === ''")
    # utilisation per block, as /cluster counts it
    cluster = op.get("/api/v1/cluster").json()
    row = page.locator("#blocks-table tr[data-block=b0]")
    assert row.get_attribute("data-busy") == str(cluster["busy_gpus"]) and row.get_attribute("data-total") == "8"
    # the keyboard: Tab to the map, arrows move the focus, Enter opens the node, Esc closes it
    page.focus("#map-job")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "cluster-map"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    first = cluster["blocks"][0]["racks"][0]["nodes"]
    assert page.get_attribute("#cluster-map", "data-focus") == f"{first[0]['name']}:1"
    page.keyboard.press("ArrowDown")
    assert page.get_attribute("#cluster-map", "data-focus") == f"{first[1]['name']}:1"
    assert "GPU 1" in page.locator("#map-live").inner_text()
    page.keyboard.press("Enter")
    page.locator(f"#node-panel[data-node='{first[1]['name']}']").wait_for()
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.getElementById('node-panel')")
    # dark mode: a dark page, idle GPUs in the dark theme's colour
    assert page.evaluate("() => getComputedStyle(document.body).backgroundColor") == "rgb(11, 17, 32)"
    idle = next((n["name"], g["index"]) for r in cluster["blocks"][0]["racks"] for n in r["nodes"]
                for g in n["gpus"] if not g["busy"] and n["state"] == "up")
    c = page.evaluate("([n, g]) => window.__gpucloudMap.cellCenter(n, g)", list(idle))
    shot(page, "map-dark-en", docs=True)
    assert canvas_pixel(page, c["x"], c["y"]) == "#334155"


def test_a_member_sees_the_node_but_no_operations(server: ServerProcess, world: dict[str, Any],
                                                  new_page: Any) -> None:
    page = new_page()
    login(page, server.url, world["bob"])
    node = world["node_b"]
    page.wait_for_function("() => Number(document.getElementById('cluster-map').dataset.busy) >= 2")
    _click_cell(page, node, 0)
    panel = page.locator(f"#node-panel[data-node='{node}']")
    panel.wait_for()
    assert panel.locator("[data-action]").count() == 0
    assert panel.locator(f"a[data-job='{world['b']['id']}']").count() >= 1
    # light mode: idle GPUs in the light theme's colour
    assert page.evaluate("() => getComputedStyle(document.body).backgroundColor") == "rgb(243, 244, 246)"
