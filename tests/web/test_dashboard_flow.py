"""The dashboard end to end against a real server: the operator sees a member's job on the map (cells in the org's
colour) and a waiting job in the queue, opens the job, reads its log tail, cancels it from the UI and watches the
map change without a reload; Japanese labels; a member of another org sees none of it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from server_proc import ServerProcess, wait_for
from webutil import confirm, login, make_user, shot, submit


def _pixel(page: Any, x: float, y: float) -> str:
    """The colour drawn on the map canvas at CSS pixel (x, y), as #rrggbb."""
    return str(page.evaluate("""([x, y]) => {
        const c = document.getElementById('cluster-map'), k = c.width / c.clientWidth;
        const d = c.getContext('2d').getImageData(Math.round(x * k), Math.round(y * k), 1, 1).data;
        return '#' + [d[0], d[1], d[2]].map((v) => v.toString(16).padStart(2, '0')).join('');
    }""", [x, y]))


def _rgb_to_hex(css: str) -> str:
    nums = [int(v) for v in css[css.index("(") + 1:css.index(")")].split(",")[:3]]
    return "#" + "".join(f"{v:02x}" for v in nums)


MAP_DATA = "JSON.parse(document.getElementById('cluster-map')?.dataset.{} || '{{}}')"


def _map_data(page: Any, name: str) -> Any:
    return json.loads(page.get_attribute("#cluster-map", f"data-{name}") or "null")


def test_operator_sees_map_queue_job_log_and_cancels(server: ServerProcess, op: httpx.Client, new_page: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    org, other = f"tokyo-{tag}", f"kyoto-{tag}"
    alice = make_user(op, f"alice-{tag}", org)
    bob = make_user(op, f"bob-{tag}", other)
    # A job on every GPU of the 2 × 4 cluster, and one that must wait behind it.
    big = submit(alice, server.url, argv=["sh", "-c", "echo line-from-the-job; exec sleep 120"], num_gpus=8,
                 name="llm-pretrain", grace="1s")
    small = submit(alice, server.url, argv=["sh", "-c", "echo small; exec sleep 120"], num_gpus=2, name="eval",
                   grace="1s")
    try:
        page = new_page()
        login(page, server.url, server.token or "")

        # Map: the 8 GPUs in the org's colour (legend swatch == pixel drawn), the tooltip names the job.
        page.wait_for_function(f"(org) => {MAP_DATA.format('orgs')}[org] === 8",
                               arg=org)
        assert _map_data(page, "jobs") == {str(big["id"]): 8}
        swatch = _rgb_to_hex(page.eval_on_selector(f"#legend li[data-org='{org}'] .swatch",
                                                   "el => getComputedStyle(el).backgroundColor"))
        box = page.locator("#cluster-map").bounding_box()
        assert box is not None
        for node in ("b0-r0-n0", "b0-r0-n1"):
            for gpu in range(4):
                c = page.evaluate("([n, g]) => window.__gpucloudMap.cellCenter(n, g)", [node, gpu])
                assert _pixel(page, c["x"], c["y"]) == swatch
        c = page.evaluate("() => window.__gpucloudMap.cellCenter('b0-r0-n1', 2)")
        page.mouse.move(box["x"] + c["x"], box["y"] + c["y"])
        tip = page.locator("#map-tooltip")
        tip.wait_for(state="visible")
        assert f"Job #{big['id']}" in tip.inner_text() and org in tip.inner_text()
        shot(page, "map-en", docs=True)

        # Queue: the waiting job with its position, shape and reason.
        page.click("header nav a[data-nav=queue]")
        row = page.locator(f"#queue tr[data-job-row='{small['id']}']")
        row.wait_for()
        cells = row.locator("td").all_inner_texts()
        assert cells[0] == "1" and "2 GPUs" in cells[5] and cells[8] in {
            "no fitting nodes", "behind the head job", "submitted"}, cells
        assert page.locator(f"#queue tr[data-job-row='{big['id']}']").count() == 0
        shot(page, "queue-flow-en")

        # Jobs: both, filterable by state; open the running one.
        page.click("header nav a[data-nav=jobs]")
        page.locator(f"#jobs tr[data-job-row='{small['id']}']").wait_for()
        page.select_option("#filter-state", "pending")
        page.wait_for_function("(id) => !document.querySelector(`#jobs tr[data-job-row='${id}']`)", arg=big["id"])
        assert page.locator(f"#jobs tr[data-job-row='{small['id']}']").count() == 1
        page.select_option("#filter-state", "")
        page.locator(f"#jobs tr[data-job-row='{big['id']}']").wait_for()
        shot(page, "jobs-en", docs=True)
        page.click(f"#jobs a[data-job='{big['id']}']")

        # The job page: placement, events, the log tail.
        page.wait_for_function("() => document.getElementById('job-log')?.textContent.includes('line-from-the-job')")
        assert page.locator("#job-placement tr").count() == 3  # head + 2 nodes
        assert "running" in page.locator("#job-events").inner_text()
        assert page.locator(".page-head .badge[data-state=running]").count() == 1
        shot(page, "job-en", docs=True)

        # Cancel from the UI; the job ends and the waiting one starts on the map, without a reload.
        confirm(page.locator("#job-actions"), "cancel")
        page.locator(".page-head .badge[data-state=cancelled]").wait_for(timeout=20_000)
        assert op.get(f"/api/v1/jobs/{big['id']}").json()["state"] == "cancelled"
        page.click("header nav a[data-nav=map]")
        page.wait_for_function(f"(id) => String(id) in {MAP_DATA.format('jobs')}",
                               arg=small["id"], timeout=15_000)
        renders = int(page.get_attribute("#cluster-map", "data-renders") or 0)
        page.wait_for_function("(n) => Number(document.getElementById('cluster-map')?.dataset.renders) > n",
                               arg=renders, timeout=8_000)  # it keeps polling

        # Japanese: the toggle translates the labels and is remembered.
        page.click("button[data-lang=ja]")
        page.locator("header nav a[data-nav=map]", has_text="クラスタマップ").wait_for()
        assert page.locator("#legend li[data-state=idle]").inner_text().startswith("空き")
        shot(page, "map-ja", docs=True)
        page.reload()
        page.locator("header nav a[data-nav=queue]", has_text="キュー").wait_for()
        page.goto(f"{server.url}/#/jobs/{big['id']}")
        page.locator(".page-head .badge[data-state=cancelled]", has_text="キャンセル済み").wait_for()
        assert "ログ" in page.locator("#page").inner_text()
        shot(page, "job-ja", docs=True)

        # A member of another org: the busy GPUs are shown as held by a job they may not see; no rows anywhere.
        member = new_page()
        login(member, server.url, bob)
        member.wait_for_function("() => Number(document.getElementById('cluster-map')?.dataset.busy) >= 2")
        assert _map_data(member, "orgs") == {} and _map_data(member, "jobs") == {}
        assert member.get_attribute("#cluster-map", "data-hidden") == member.get_attribute("#cluster-map", "data-busy")
        c = member.evaluate("() => window.__gpucloudMap.cellCenter('b0-r0-n0', 0)")
        mbox = member.locator("#cluster-map").bounding_box()
        assert mbox is not None
        member.mouse.move(mbox["x"] + c["x"], mbox["y"] + c["y"])
        member.locator("#map-tooltip [data-tip=hidden]", has_text="Held by a job you may not see").wait_for()
        shot(member, "map-member-en", docs=True)
        assert member.locator("header nav a[data-nav=orgs]").count() == 0
        assert member.locator("header nav a[data-nav=users]").count() == 0
        member.click("header nav a[data-nav=queue]")
        member.locator("#queue tr.empty").wait_for()
        member.click("header nav a[data-nav=jobs]")
        member.locator("#jobs tr.empty").wait_for()
        assert member.locator("#jobs tr[data-job-row]").count() == 0
        member.goto(f"{server.url}/#/jobs/{small['id']}")
        member.locator("#job-missing").wait_for()
        assert member.locator("#job-log").count() == 0 or member.locator("#job-log").inner_text() == ""
    finally:
        for job in (big, small):
            op.post(f"/api/v1/jobs/{job['id']}/cancel")
        wait_for("jobs to end", lambda: all(op.get(f"/api/v1/jobs/{j['id']}").json()["state"] == "cancelled"
                                            for j in (big, small)), timeout=20)
