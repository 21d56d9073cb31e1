"""Money in the dashboard against a real server (its own, since a tariff turns charging on for every job): the
tariffs page loads a version and shows 422s next to the text; the usage and budgets page shows the seeded budgets'
numbers, a top-up, charts with one bar per bucket × org; members see only their org; the job page shows the costs;
the queue shows the budget wait reason; both languages, with no English left in Japanese."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from server_proc import ServerProcess, wait_for
from webutil import fmt_points, login, make_user, nav, no_english, points_digits, shot, submit

PRICE = "3.6"  # points per H100 GPU-hour
TARIFF_YAML = """# a comment, flow maps and a date: YAML only
tariffs:
  - name: web-2020
    description: the dashboard test's prices
    valid_from: 2020-01-01
    minimum_seconds: 0
    points_per_gpu_hour: {H100-80GB: 3.6}
    service_classes: {standard: 1.0, preemptible: 0.5}
    priority_classes: {high: 1.5}
"""
BAD_TYPE = TARIFF_YAML.replace("web-2020", "web-bad").replace("2020-01-01", "2020-02-01").replace(
    "H100-80GB", "A100-40GB")


@pytest.fixture(scope="module")
def world(server: ServerProcess) -> dict[str, Any]:
    """Two orgs with a member each and a budget each; no tariff yet (the first test loads it from the page)."""
    tag = uuid.uuid4().hex[:6]
    with server.client() as op:
        ann = make_user(op, f"ann-{tag}", f"lab-{tag}")
        ben = make_user(op, f"ben-{tag}", f"inst-{tag}")
        r = op.post(f"/api/v1/budgets/inst-{tag}/default/topup", json={"amount": "50"})
        assert r.status_code == 200, r.text
    return {"tag": tag, "lab": f"lab-{tag}", "inst": f"inst-{tag}", "ann": ann, "ben": ben}


def test_tariffs_page_loads_a_version_and_shows_422_next_to_the_text(server: ServerProcess, world: dict[str, Any],
                                                                      new_page: Any) -> None:
    page = new_page()
    login(page, server.url, server.token or "")
    nav(page, "tariffs")
    page.locator("#tariffs tr.empty").wait_for()
    slot = page.locator("#tariff-form [data-error-for=tariffs]")

    # Not YAML at all: said under the text, nothing sent.
    page.fill("#tariff-text", "tariffs: [unclosed")
    page.click("#tariff-form button[type=submit]")
    page.wait_for_function("() => document.querySelector('#tariff-form [data-error-for=tariffs]')?.textContent")
    assert "Not valid YAML or JSON" in slot.inner_text()

    # A GPU type the cluster does not have: the server's 422, with the field it names, next to the text.
    page.fill("#tariff-text", BAD_TYPE)
    page.click("#tariff-form button[type=submit]")
    page.locator("#tariff-form [data-error-path='tariffs[0].points_per_gpu_hour']").wait_for()
    assert "A100-40GB" in slot.inner_text() and "H100-80GB" in slot.inner_text()
    assert page.locator("#tariff-form .field.invalid[data-field=tariffs]").count() == 1
    shot(page, "tariffs-422-en")

    # A good one: loaded, listed with its prices and multipliers, in force.
    page.fill("#tariff-text", TARIFF_YAML)
    page.click("#tariff-form button[type=submit]")
    page.locator("#tariff-loaded", has_text="web-2020").wait_for()
    assert slot.inner_text() == ""
    row = page.locator("#tariffs tr[data-tariff-row='web-2020']")
    row.wait_for()
    assert row.locator("[data-price='H100-80GB']").inner_text() == "3.60"
    assert row.locator("[data-in-force]").count() == 1
    text = row.inner_text()
    assert "preemptible" in text and "× 0.5" in text and "high" in text and "× 1.5" in text
    with server.client() as op:
        assert [t["name"] for t in op.get("/api/v1/tariffs").json()["tariffs"]] == ["web-2020"]
    # The same again adds nothing; the same name with another price is refused next to the text.
    page.click("#tariff-form button[type=submit]")
    page.locator("#tariff-loaded[data-nothing-new]").wait_for()
    page.fill("#tariff-text", TARIFF_YAML.replace("3.6}", "4.0}"))
    page.click("#tariff-form button[type=submit]")
    page.locator("#tariff-form [data-error-path=name]", has_text="never changed").wait_for()
    page.click("#tariff-example")
    page.wait_for_function("() => document.getElementById('tariff-text')?.value.includes('H100-80GB')")
    page.fill("#tariff-text", "")
    page.reload()
    page.locator("#tariffs tr[data-tariff-row='web-2020']").wait_for()
    shot(page, "tariffs-en", docs=True)
    page.click("button[data-lang=ja]")
    page.locator("#tariffs [data-in-force]", has_text="適用中").wait_for()
    no_english(page, "tariffs")
    shot(page, "tariffs-ja", docs=True)

    # A member reads the list; no form.
    member = new_page()
    login(member, server.url, world["ann"])
    nav(member, "tariffs")
    member.locator("#tariffs tr[data-tariff-row='web-2020']").wait_for()
    assert member.locator("#tariff-form").count() == 0


def test_usage_and_budgets_page(server: ServerProcess, world: dict[str, Any], new_page: Any) -> None:
    lab, inst = world["lab"], world["inst"]
    with server.client() as op:
        if not op.get("/api/v1/tariffs").json()["tariffs"]:  # when run alone
            r = op.post("/api/v1/tariffs", json={"tariffs": [{
                "name": "web-2020", "valid_from": "2020-01-01", "points_per_gpu_hour": {"H100-80GB": PRICE}}]})
            assert r.status_code == 201, r.text
    page = new_page()
    login(page, server.url, server.token or "")
    nav(page, "usage")
    page.locator(f"#budgets tr[data-budget-row='{inst}/default']").wait_for()

    # Top up lab/default from the form: a bad amount is refused next to its field, then 100 with a cap and expiry.
    page.select_option("#topup-project", label=f"{lab} / default")
    page.fill("#topup-amount", "-5")
    page.click("#topup-form button[type=submit]")
    page.wait_for_function(
        "() => document.querySelector('#topup-form [data-error-for=amount]')?.textContent.length > 0")
    assert page.locator("#topup-form .field.invalid[data-field=amount]").count() == 1
    page.fill("#topup-amount", "100")
    page.fill("#topup-cap", "500")
    page.fill("#topup-expires", "2030-01-01")
    page.click("#topup-form button[type=submit]")
    page.locator("#topup-done").wait_for()
    row = page.locator(f"#budgets tr[data-budget-row='{lab}/default']")
    row.locator("td[data-col=balance]", has_text="100.00").wait_for()
    cells = {c.get_attribute("data-col"): (c.get_attribute("data-value"), c.inner_text())
             for c in row.locator("td[data-col]").all()}
    assert cells["balance"] == ("100.0000", "100.00") and cells["held"] == ("0.0000", "0.00")
    assert cells["available"] == ("100.0000", "100.00") and cells["cap"] == ("500.0000", "500.00")
    assert cells["expires"][0] == "1893456000"  # 2030-01-01 00:00 UTC
    assert "2030" in cells["expires"][1]
    other = page.locator(f"#budgets tr[data-budget-row='{inst}/default'] td[data-col=balance]")
    assert other.inner_text() == "50.00" and other.get_attribute("data-value") == "50.0000"

    # One short job in each org: charged when it ends; its page shows the estimate and the final cost.
    jobs = [submit(world[u], server.url, argv=["sh", "-c", "sleep 1"], num_gpus=1, walltime="10m", name=f"charge-{u}")
            for u in ("ann", "ben")]
    with server.client() as op:
        for j in jobs:
            url = f"/api/v1/jobs/{j['id']}"
            wait_for(f"job {j['id']} to end", lambda url=url: op.get(url).json()["state"] == "succeeded", timeout=30)
        done = [op.get(f"/api/v1/jobs/{j['id']}").json() for j in jobs]
        budgets = {f"{b['org']}/{b['project']}": b for b in op.get("/api/v1/budgets").json()}
        series = op.get("/api/v1/usage/series?bucket=day").json()
        months = op.get("/api/v1/usage/series?bucket=month").json()
    for j in done:
        assert j["estimated_cost"] == "0.6000"  # 1 GPU × 3.6 × 10 min
        assert Decimal(j["final_cost"]) > 0
    lab_budget = budgets[f"{lab}/default"]
    assert Decimal(lab_budget["balance"]) == Decimal("100") - Decimal(done[0]["final_cost"])
    mine = [i for i in series["items"] if i["org"] in (lab, inst)]
    assert {i["org"] for i in mine} == {lab, inst}
    # GPU-hour bars come from the jobs' runs, point bars from the charges (here the same runs, all charged)
    expected_bars = len({(i["bucket"], i["org"]) for i in series["items"] if Decimal(i["gpu_hours"]) > 0})
    assert expected_bars >= 2

    page.reload()
    cell = f"#budgets tr[data-budget-row='{lab}/default'] td[data-col=balance]"
    balance = page.locator(cell)
    balance.wait_for()
    page.wait_for_function("([sel, v]) => document.querySelector(sel)?.dataset.value === v",
                           arg=[cell, lab_budget["balance"]])
    digits = points_digits([b["balance"] for b in budgets.values()])  # one number of decimals for the column
    assert balance.inner_text() == fmt_points(lab_budget["balance"], digits)
    page.locator("#chart-hours svg rect[data-bar]").first.wait_for()
    assert page.locator("#chart-hours svg").count() == 1
    assert int(page.get_attribute("#chart-hours", "data-bars") or 0) == expected_bars
    assert page.locator("#chart-hours rect[data-bar]").count() == expected_bars
    assert page.locator("#chart-points rect[data-bar]").count() == len(
        {(i["bucket"], i["org"]) for i in series["items"] if Decimal(i["points"]) > 0})
    assert page.locator("#chart-hours svg").get_attribute("data-buckets") == str(len(series["buckets"])) == "30"
    bar = page.locator(f"#chart-points rect[data-bar][data-series='{lab}']")
    assert Decimal(bar.get_attribute("data-value") or "0") == sum(
        Decimal(i["points"]) for i in series["items"] if i["org"] == lab)
    assert lab in page.locator("#chart-points .chart-legend").inner_text()
    shot(page, "usage-en", docs=True)

    # Per month, per project.
    page.select_option("#usage-bucket", "month")
    page.wait_for_function("() => document.getElementById('usage-charts')?.dataset.bucket === 'month'")
    assert page.locator("#chart-hours svg").get_attribute("data-buckets") == "12"
    assert page.locator("#chart-hours rect[data-bar]").count() == len(
        {(i["bucket"], i["org"]) for i in months["items"] if Decimal(i["gpu_hours"]) > 0})
    page.select_option("#usage-group", "project")
    page.wait_for_function("() => document.getElementById('usage-charts')?.dataset.group === 'project'")
    assert page.locator(f"#chart-hours rect[data-series='{lab}/default']").count() >= 1

    page.click("button[data-lang=ja]")
    page.locator("#budgets th", has_text="残高").wait_for()
    page.locator("#chart-hours rect[data-bar]").first.wait_for()
    for word in ("有効期限", "上限", "確保中"):
        assert word in page.locator("#budgets").inner_text()
    no_english(page, "usage")
    shot(page, "usage-ja", docs=True)

    # The job page: estimated and final cost, in points.
    page.goto(f"{server.url}/#/jobs/{done[0]['id']}")
    page.locator("#job-info [data-prop='job.finalCost'] [data-points]").wait_for()
    assert page.locator("#job-info [data-prop='job.finalCost'] [data-points]").get_attribute("data-points") == \
        done[0]["final_cost"]
    assert "ポイント" in page.locator("#job-info [data-prop='job.estimatedCost']").inner_text()
    page.click("button[data-lang=en]")
    est = page.locator("#job-info [data-prop='job.estimatedCost']")
    shown = fmt_points("0.6000", points_digits([done[0]["estimated_cost"], done[0]["final_cost"]]))
    est.locator("[data-points]", has_text=f"{shown} points").wait_for()
    shot(page, "job-cost-en")

    # A member: only their org's budget and usage, no top-up form.
    member = new_page()
    login(member, server.url, world["ann"])
    nav(member, "usage")
    member.locator(f"#budgets tr[data-budget-row='{lab}/default']").wait_for()
    assert member.locator(f"#budgets tr[data-budget-row='{inst}/default']").count() == 0
    assert {r.get_attribute("data-budget-row").split("/")[0]
            for r in member.locator("#budgets tr[data-budget-row]").all()} == {lab}
    assert member.locator("#topup-form").count() == 0
    member.locator("#chart-hours rect[data-bar]").first.wait_for()
    assert {r.get_attribute("data-series") for r in member.locator("#usage-charts rect[data-bar]").all()} == {lab}
    assert inst not in member.locator("#page").inner_text()
    shot(member, "usage-member-en")


def test_queue_shows_the_budget_wait_reason(server: ServerProcess, world: dict[str, Any], op: httpx.Client,
                                            new_page: Any) -> None:
    if not op.get("/api/v1/tariffs").json()["tariffs"]:
        r = op.post("/api/v1/tariffs", json={"tariffs": [{
            "name": "web-2020", "valid_from": "2020-01-01", "points_per_gpu_hour": {"H100-80GB": PRICE}}]})
        assert r.status_code == 201, r.text
    tag = world["tag"]
    broke = make_user(op, f"cy-{tag}", f"broke-{tag}")  # no budget: the job waits for one
    job = submit(broke, server.url, argv=["true"], num_gpus=1, walltime="1h", name="no-money")
    try:
        wait_for("the budget reason", lambda: op.get(f"/api/v1/jobs/{job['id']}").json()["reason"] == "budget",
                 timeout=20)
        page = new_page()
        login(page, server.url, server.token or "")
        nav(page, "queue")
        cell = page.locator(f"#queue tr[data-job-row='{job['id']}'] [data-reason=budget]")
        cell.wait_for()
        assert cell.inner_text() == "not enough budget for its walltime"
        page.click("button[data-lang=ja]")
        page.locator(f"#queue tr[data-job-row='{job['id']}'] [data-reason=budget]", has_text="予算不足").wait_for()
    finally:
        op.post(f"/api/v1/jobs/{job['id']}/cancel")


def test_burn_rate_days_left_and_the_cost_of_each_job(server: ServerProcess, world: dict[str, Any], op: httpx.Client,
                                                      new_page: Any) -> None:
    """A project with 0.05 points runs 4 GPUs into their 8 s walltime: 4 × 3.6 × 8 / 3600 = 0.032 charged today.
    Its burn rate is 0.032 / 7 a day, the 0.018 left last 3.9 days: low, and the page warns."""
    if not op.get("/api/v1/tariffs").json()["tariffs"]:
        r = op.post("/api/v1/tariffs", json={"tariffs": [{
            "name": "web-2020", "valid_from": "2020-01-01", "points_per_gpu_hour": {"H100-80GB": PRICE}}]})
        assert r.status_code == 201, r.text
    tag = world["tag"]
    short = make_user(op, f"dee-{tag}", f"short-{tag}")
    assert op.post(f"/api/v1/budgets/short-{tag}/default/topup", json={"amount": "0.05"}).status_code == 200
    job = submit(short, server.url, argv=["sh", "-c", "exec sleep 60"], num_gpus=4, walltime="8s", grace="1s",
                 name="runs-out")
    wait_for("the walltime", lambda: op.get(f"/api/v1/jobs/{job['id']}").json()["state"] == "timed_out", timeout=40)
    assert op.get(f"/api/v1/jobs/{job['id']}").json()["final_cost"] == "0.0320"
    page = new_page()
    login(page, server.url, server.token or "")
    nav(page, "usage")
    row = page.locator(f"#budgets tr[data-budget-row='short-{tag}/default']")
    row.locator("[data-low]").wait_for()
    assert row.locator("td[data-col=burn]").get_attribute("data-value") == "0.0046"
    assert row.locator("td[data-col=days]").get_attribute("data-value") == "3.94"
    assert row.locator("td[data-col=days]").inner_text().startswith("3.9")
    page.locator("#budget-warning:not([hidden])").wait_for()
    # every column of points shows one number of decimals
    for col in ("balance", "held", "available", "spent"):
        texts = page.locator(f"#budgets td[data-col={col}]").all_inner_texts()
        assert len({len(t.split(".")[1]) for t in texts if "." in t}) == 1, (col, texts)
    shot(page, "usage-low-en")
    # the jobs list shows what each job cost
    page.goto(f"{server.url}/#/jobs?q=runs-out")
    cost = page.locator(f"#jobs tr[data-job-row='{job['id']}'] td[data-col=cost]")
    cost.wait_for()
    assert cost.get_attribute("data-value") == "0.0320" and cost.inner_text() == fmt_points("0.0320") == "0.032"
