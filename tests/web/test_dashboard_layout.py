"""The layout on a desktop (1280×800) and a phone (390×844), in English and Japanese, against a real server whose
pages are full: a 16-node job, budgets of many projects, a reservation of 16 nodes with a long note, one waiting
for approval.

- No page scrolls sideways; every table sits in its own scroll container (a phone scrolls the table, not the page).
- The operator's header is one row on a desktop; the language switch never wraps inside its buttons.
- A multi-node job's page wraps its placement and events (the "admitted on …" reason of 16 nodes).
- The reservations table fits a desktop window with its Approve / Reject buttons on screen.
- Every "Ledger" link of the budgets table can be clicked (nothing covers it) and the table stays in its card."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from server_proc import ServerProcess, wait_for
from webutil import PHONE, VIEWPORT, english_left, login, make_user, nav, overflow, shot, submit

TARIFF = {"tariffs": [{"name": "layout", "valid_from": "2020-01-01", "points_per_gpu_hour": {"H100-80GB": "2"},
                       "service_classes": {"standard": "1", "reserved": "1"}}]}
PAGES = ["map", "queue", "jobs", "job", "submit", "reservations", "usage", "tariffs", "programmes", "quotas", "orgs",
         "projects", "users", "tokens"]
READY = {"map": "#blocks-table", "queue": "#queue table", "jobs": "#jobs table", "job": "#events-table",
         "submit": "#price-preview[data-quote]", "reservations": "#reservations-table", "usage": "#budgets",
         "tariffs": "#tariffs table", "programmes": "#programmes-table", "quotas": "#standing-table",
         "orgs": "#orgs table", "projects": "#projects table", "users": "#users table", "tokens": "#tokens table"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[ServerProcess]:
    """16 nodes × 2 GPUs, so that one job can spread over all of them."""
    srv = ServerProcess(tmp_path_factory.mktemp("layout") / "data", "16x2:H100", tick=0.1)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        srv.kill_job_processes()


@pytest.fixture(scope="module")
def full(server: ServerProcess) -> Iterator[dict[str, Any]]:
    tag = uuid.uuid4().hex[:6]
    with server.client() as op:
        assert op.post("/api/v1/tariffs", json=TARIFF).status_code == 201
        token = make_user(op, f"wide-{tag}", f"university-of-long-names-{tag}")
        org = f"university-of-long-names-{tag}"
        for i in range(10):
            r = op.post(f"/api/v1/orgs/{org}/projects", json={"name": f"project-with-a-long-name-{i:02d}"})
            assert r.status_code == 201, r.text
            op.post(f"/api/v1/budgets/{org}/project-with-a-long-name-{i:02d}/topup",
                    json={"amount": "1234567.8912", "cap": "9999999", "expires_at": "2030-01-01"})
        op.post(f"/api/v1/budgets/{org}/default/topup", json={"amount": "100000"})
        big = submit(token, server.url, argv=["sh", "-c", "exec sleep 300"], num_gpus=32, nodes=16, walltime="1h",
                     name="all-sixteen-nodes", grace="1s")
        wait_for("the 16-node job to run", lambda: op.get(f"/api/v1/jobs/{big['id']}").json()["state"] == "running",
                 timeout=30)
        start = time.time() + 3 * 3600
        body = {"gpu_type": "H100", "nodes": 16, "start": start, "end": start + 7200, "org": org,
                "note": "a workshop for every lab of the university, with a note long enough to wrap " * 3}
        res = op.post("/api/v1/reservations", json={**body, "name": f"workshop-{tag}"}).json()
        assert op.post(f"/api/v1/reservations/{res['id']}/approve").status_code == 200
        op.post("/api/v1/reservations", json={**body, "nodes": 2, "name": f"asked-{tag}", "start": start + 86400,
                                               "end": start + 86400 + 3600})
        yield {"job": big, "org": org, "token": token}
        op.post(f"/api/v1/jobs/{big['id']}/cancel")


def _go(page: Any, url: str, name: str, job: int) -> None:
    page.goto(f"{url}/#/{'jobs/' + str(job) if name == 'job' else name}")
    page.locator(READY[name]).first.wait_for()


TABLES_IN_SCROLLERS = "() => [...document.querySelectorAll('table.grid')].every((t) => t.closest('.table-scroll'))"


@pytest.mark.parametrize("viewport", [VIEWPORT, PHONE], ids=["desktop", "phone"])
def test_no_page_scrolls_sideways(server: ServerProcess, full: dict[str, Any], new_page: Any,
                                  viewport: dict[str, int]) -> None:
    page = new_page(viewport=viewport)
    login(page, server.url, server.token or "")
    for lang in ("en", "ja"):
        page.click(f"button[data-lang={lang}]")
        for name in PAGES:
            _go(page, server.url, name, full["job"]["id"])
            assert overflow(page) == 0, f"the {name} page is wider than the window ({lang}, {viewport})"
            assert page.evaluate(TABLES_IN_SCROLLERS), f"a table outside a scroll container on {name}"
            if lang == "ja":
                assert not english_left(page), (name, english_left(page))
            lines = page.evaluate("""() => [...document.querySelectorAll('.lang button')].map((b) => {
                const r = document.createRange(); r.selectNodeContents(b);
                return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size; })""")
            assert lines == [1, 1], f"the language switch wraps: {lines} lines"
            if viewport == PHONE and name in ("jobs", "job", "usage", "reservations", "submit", "map"):
                shot(page, f"phone-{name}-{lang}", docs=name in ("jobs", "map") and lang == "en")
    # the pages under "More" are reached from the header, on a phone too
    for name in ("users", "queue", "tokens"):
        nav(page, name)
        assert overflow(page) == 0


def test_operator_header_is_one_row_on_a_desktop(server: ServerProcess, full: dict[str, Any], new_page: Any) -> None:
    page = new_page()
    login(page, server.url, server.token or "")
    for lang in ("en", "ja"):
        page.click(f"button[data-lang={lang}]")
        page.locator("header.top nav a[data-nav=map]").wait_for()
        tops = page.evaluate("""() => [...document.querySelectorAll(
            'header.top .brand, header.top nav > a, header.top nav summary, header.top .who > *')]
            .map((el) => Math.round(el.getBoundingClientRect().top + el.getBoundingClientRect().height / 2))""")
        assert max(tops) - min(tops) <= 4, f"the header wraps ({lang}): {tops}"
        assert page.evaluate("() => document.querySelector('header.top').getBoundingClientRect().height") < 56
        # the pages under "More" open from it
        page.click("#nav-more > summary")
        page.locator("header nav a[data-nav=tokens]").click()
        page.locator("#page[data-page=tokens]").wait_for()


@pytest.mark.parametrize("viewport", [VIEWPORT, PHONE], ids=["desktop", "phone"])
def test_a_sixteen_node_job_page_wraps(server: ServerProcess, full: dict[str, Any], new_page: Any,
                                       viewport: dict[str, int]) -> None:
    page = new_page(viewport=viewport)
    login(page, server.url, server.token or "")
    _go(page, server.url, "job", full["job"]["id"])
    admitted = page.locator("#events-table td.reason", has_text="admitted on")
    admitted.wait_for()
    assert admitted.inner_text().count(":0,1") == 16
    assert page.locator("#job-placement tbody tr").count() == 16
    assert overflow(page) == 0
    # one read in the page (a refresh may redraw the events between two calls from here)
    box = admitted.evaluate("el => { const r = el.getBoundingClientRect(); "
                            "return { right: r.right, height: r.height }; }")
    assert box["height"] > 60  # wrapped over lines, not one line 3,000 px long
    if viewport == VIEWPORT:  # a phone scrolls the events table inside its container
        assert box["right"] <= viewport["width"]
    shot(page, f"job-16-nodes-{viewport['width']}")


def test_reservations_fit_a_desktop_window(server: ServerProcess, full: dict[str, Any], new_page: Any) -> None:
    page = new_page()
    login(page, server.url, server.token or "")
    _go(page, server.url, "reservations", 0)
    shot(page, "reservations-wide-en")
    scroller = "#reservations-table"
    widths = page.evaluate(f"""() => {{ const t = document.querySelector('{scroller}');
        return [t.scrollWidth, t.closest('.table-scroll').clientWidth]; }}""")
    assert widths[0] <= widths[1], f"the table is {widths[0]} px wide in {widths[1]} px"
    nodes = page.locator("#reservations-table td[data-col=nodes]", has_text="b0-r0-n0").first
    assert nodes.inner_text().count("b") == 16 and (nodes.bounding_box() or {}).get("height", 0) > 40  # wrapped
    for action in ("approve", "reject"):
        button = page.locator(f"#reservations-table [data-action={action}]").first
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= VIEWPORT["width"], (action, box)


def test_every_ledger_link_can_be_clicked(server: ServerProcess, full: dict[str, Any], new_page: Any) -> None:
    page = new_page()
    login(page, server.url, server.token or "")
    _go(page, server.url, "usage", 0)
    page.locator("#topup-form").wait_for()
    assert page.evaluate("""() => { const card = document.getElementById('budgets-card').getBoundingClientRect();
        const table = document.querySelector('#budgets-card .table-scroll').getBoundingClientRect();
        return table.right <= card.right; }"""), "the budgets table sticks out of its card"
    links = page.locator("#budgets button[data-ledger]")
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}) as op:
        assert links.count() == len(op.get("/api/v1/budgets").json()) >= 11
    # every link checked in one go in the page (the list redraws on its own refresh, between two calls from here)
    covered = page.evaluate("""() => [...document.querySelectorAll('#budgets button[data-ledger]')].flatMap((el, i) => {
        el.scrollIntoView({ block: 'center' });
        const r = el.getBoundingClientRect();
        const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
        return top === el || el.contains(top) ? [] : [i]; })""")
    assert covered == [], f"ledger links covered: {covered}"
    links.nth(3).click()
    page.locator("#ledger[data-project]").wait_for()
    assert page.get_attribute("#ledger", "data-project") == links.nth(3).get_attribute("data-ledger")
