"""The usage page on a server with no tariff (the default ``./scripts/start`` setup; its own server, since the
money tests load one): GPU-hours come from the jobs' runs, so a job that ran shows as a bar (and one still running
counts up to now); the note says charging is off and there is no points chart; members see their org only."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from server_proc import ServerProcess, wait_for
from webutil import login, make_user, nav, no_english, shot, submit


def _hex(css: str) -> str:
    nums = [int(v) for v in css[css.index("(") + 1:css.index(")")].split(",")[:3]]
    return "#" + "".join(f"{v:02x}" for v in nums)


def test_usage_page_without_a_tariff_shows_gpu_hours(server: ServerProcess, new_page: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    lab, inst = f"lab-{tag}", f"inst-{tag}"
    with server.client() as op:
        assert op.get("/api/v1/tariffs").json()["tariffs"] == []
        ann = make_user(op, f"ann-{tag}", lab)
        ben = make_user(op, f"ben-{tag}", inst)
    # ann's job runs 2 GPUs for about a second and ends; ben's is still running while the page is looked at.
    done = submit(ann, server.url, argv=["sh", "-c", "sleep 1"], num_gpus=2, walltime="10m", name="ran")
    going = submit(ben, server.url, argv=["sleep", "60"], num_gpus=1, walltime="10m", name="going")
    with server.client() as op:
        try:
            wait_for("ann's job to end",
                     lambda: op.get(f"/api/v1/jobs/{done['id']}").json()["state"] == "succeeded", timeout=30)
            wait_for("ben's job to run",
                     lambda: op.get(f"/api/v1/jobs/{going['id']}").json()["state"] == "running", timeout=30)
            series = op.get("/api/v1/usage/series?bucket=day").json()
            ran = [i for i in series["items"] if i["org"] in (lab, inst)]
            # GPU-hours from the runs (ann's: 2 GPUs × at least a second), and no points without a tariff
            assert {i["org"] for i in ran} == {lab, inst}
            assert all(Decimal(i["gpu_hours"]) > 0 and i["points"] == i["charged"] == "0.0000" for i in ran)
            assert sum(Decimal(i["gpu_hours"]) for i in ran if i["org"] == lab) >= Decimal("0.0005")  # 2 s / 3600
            expected_bars = len({(i["bucket"], i["org"]) for i in series["items"] if Decimal(i["gpu_hours"]) > 0})

            page = new_page()
            login(page, server.url, server.token or "")
            nav(page, "usage")
            page.locator("#chart-hours svg rect[data-bar]").first.wait_for()
            note = page.locator("#usage-charging")
            assert note.get_attribute("data-charging") == "false"
            assert "Charging is off" in note.inner_text() and "GPU-hours" in note.inner_text()
            assert page.locator("#chart-points").count() == 0  # no points chart without a tariff
            # ben's running job may have reached a new day's bucket since: at least the bars counted above
            assert page.locator("#chart-hours rect[data-bar]").count() >= expected_bars
            for org in (lab, inst):
                bar = page.locator(f"#chart-hours rect[data-bar][data-series='{org}']").first
                assert Decimal(bar.get_attribute("data-value") or "0") > 0
            assert lab in page.locator("#chart-hours .chart-legend").inner_text()
            shot(page, "usage-no-tariff-en")
            # an org has one colour: the chart's is the map's (ben's job still runs there)
            chart = page.eval_on_selector(f"#chart-hours .chart-legend li[data-series='{inst}'] .swatch",
                                          "el => getComputedStyle(el).backgroundColor")
            assert page.locator(f"#chart-hours rect[data-series='{inst}']").first.get_attribute("fill") == \
                _hex(chart)
            nav(page, "map")
            page.locator(f"#legend li[data-org='{inst}']").wait_for()
            assert page.eval_on_selector(f"#legend li[data-org='{inst}'] .swatch",
                                         "el => getComputedStyle(el).backgroundColor") == chart
            nav(page, "usage")
            page.locator("#chart-hours rect[data-bar]").first.wait_for()
            page.click("button[data-lang=ja]")
            page.locator("#usage-charging", has_text="料金表").wait_for()
            page.locator("#chart-hours rect[data-bar]").first.wait_for()
            no_english(page, "usage (no tariff)")

            # a member: their org's bars only
            member = new_page()
            login(member, server.url, ann)
            nav(member, "usage")
            member.locator(f"#chart-hours rect[data-bar][data-series='{lab}']").first.wait_for()
            assert {r.get_attribute("data-series") for r in member.locator("#usage-charts rect[data-bar]").all()} \
                == {lab}
            assert member.locator("#chart-points").count() == 0
            assert inst not in member.locator("#page").inner_text()
        finally:
            op.post(f"/api/v1/jobs/{going['id']}/cancel")
