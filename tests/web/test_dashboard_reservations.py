"""Reservations and the ledger in the dashboard against a real server (its own: reservations keep nodes and a
tariff turns charging on). An org-admin in Tokyo time requests a reservation through the form (a 422 next to the
field, the free capacity, a 409 under the form), the operator approves it in the page and it shows its nodes, the
map draws them reserved once the window opens, the org-admin cancels it (with the refund rule said first; one far
ahead is refunded in full), an operator rejects one; a member of the org reads the list only and another org's
member sees none; Japanese with no English left. The usage page's ledger link shows a project's entries, newest
first, 50 a page."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from server_proc import ServerProcess
from webutil import fmt_points, login, make_user, nav, no_english, shot

TZ = "Asia/Tokyo"
TARIFF = {"name": "res-2020", "valid_from": "2020-01-01", "points_per_gpu_hour": {"H100-80GB": "3.6"},
          "service_classes": {"standard": "1.0", "reserved": "1.5"}}


def local(epoch: float) -> str:
    """A datetime-local value in the browser's zone (the page's test context runs in Asia/Tokyo)."""
    return dt.datetime.fromtimestamp(epoch, ZoneInfo(TZ)).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture(scope="module")
def orgs(server: ServerProcess) -> dict[str, Any]:
    """lab: an org-admin (ann) and a member (cy), 1000 points; uni: a member (ben). A tariff with a reserved rate."""
    tag = uuid.uuid4().hex[:6]
    lab, uni = f"lab-{tag}", f"uni-{tag}"
    with server.client() as op:
        r = op.post("/api/v1/tariffs", json={"tariffs": [TARIFF]})
        assert r.status_code == 201, r.text
        out = {"tag": tag, "lab": lab, "uni": uni, "ann": make_user(op, f"ann-{tag}", lab, role="org-admin"),
               "cy": make_user(op, f"cy-{tag}", lab), "ben": make_user(op, f"ben-{tag}", uni)}
        r = op.post(f"/api/v1/budgets/{lab}/default/topup", json={"amount": "1000", "note": "first"})
        assert r.status_code == 200, r.text
    return out


def _row(page: Any, rid: int, state: str | None = None) -> Any:
    sel = f"#reservations tr[data-res-row='{rid}']" + (f"[data-state={state}]" if state else "")
    return page.locator(sel)


def _open(page: Any) -> None:
    nav(page, "reservations")
    page.locator("#reservations table").wait_for()


def test_request_approve_map_cancel(server: ServerProcess, orgs: dict[str, Any], op: httpx.Client,
                                    new_page: Any) -> None:
    tag, lab = orgs["tag"], orgs["lab"]
    ann = new_page(timezone_id=TZ)
    login(ann, server.url, orgs["ann"])
    _open(ann)
    assert ann.locator("#reservations tr.empty").count() == 1
    assert ann.locator("#res-org").count() == 0  # an org-admin reserves for their own org
    assert ann.locator("#res-gpu-type option").all_inner_texts() == ["H100-80GB"]

    # The end before the start: the server's 422, next to the end.
    start = int(time.time()) + 30
    ann.fill("#res-nodes", "1")
    ann.fill("#res-start", local(start))
    ann.fill("#res-end", local(start - 60))
    ann.fill("#res-name", f"course-{tag}")
    ann.click("#res-form button[type=submit]")
    ann.wait_for_function("() => document.querySelector('#res-form [data-error-for=end]')?.textContent.length > 0")
    assert "must be after start" in ann.locator("#res-form [data-error-for=end]").inner_text()
    assert ann.locator("#res-form .field.invalid[data-field=end]").count() == 1

    # The free capacity for the window, then the request.
    ann.fill("#res-end", local(start + 3600))
    ann.click("#res-check")
    ann.locator("#res-capacity[data-free='2'][data-total='2']").wait_for()
    assert ann.locator("#res-form .field.invalid").count() == 0
    assert "2 of 2 nodes (4 GPUs each) free" in ann.locator("#res-capacity").inner_text()
    # the price preview: 1 node × 4 GPUs × 1 h × 3.6 × 1.5 (reserved), as POST /quotes/reservation says
    ann.locator("#res-price[data-price='21.6000']").wait_for()
    quote = httpx.post(f"{server.url}/api/v1/quotes/reservation", headers={"Authorization": f"Bearer {orgs['ann']}"},
                       json={"gpu_type": "H100", "nodes": 1, "start": start, "end": start + 3600}).json()
    assert quote["price"] == "21.6000" and quote["enough"] is True
    assert "21.60 points" in ann.locator("#res-price").inner_text()
    ann.click("#res-form button[type=submit]")
    done = ann.locator("#res-done")
    done.wait_for()
    rid = int(done.get_attribute("data-id") or 0)
    row = _row(ann, rid, "requested")
    row.wait_for()
    assert row.locator("[data-state=requested]").inner_text() == "requested"
    got = op.get(f"/api/v1/reservations/{rid}").json()
    assert (got["start"], got["end"], got["org"], got["project"]) == (start, start + 3600, lab, "default")
    assert row.locator("[data-col=nodes]").inner_text() == "—"
    assert row.locator("[data-action=approve]").count() == 0  # operators approve

    # The same name again: the server's 409, under the form.
    assert ann.input_value("#res-name") == ""
    ann.fill("#res-name", f"course-{tag}")
    ann.click("#res-form button[type=submit]")
    ann.locator("#res-form .form-error", has_text="Conflict:").wait_for()
    assert f"already has a reservation named 'course-{tag}'" in ann.locator("#res-form .form-error").inner_text()

    # The operator approves it in the page: nodes chosen, the price charged (1 node × 4 GPUs × 1 h × 3.6 × 1.5).
    oper = new_page()
    login(oper, server.url, server.token or "")
    _open(oper)
    assert oper.locator("#res-org option", has_text=lab).count() == 1
    # Approving charges at once: the confirmation says how much (the price preview), nothing happens on "no".
    asking = _row(oper, rid, "requested")
    asking.locator("[data-action=approve]").click()
    asking.locator("[data-confirm-text=approve]", has_text="21.60").wait_for()
    asking.locator("[data-confirm=no]").click()
    assert op.get(f"/api/v1/reservations/{rid}").json()["state"] == "requested"
    asking.locator("[data-action=approve]").click()
    asking.locator("[data-confirm-text=approve]", has_text="21.60").wait_for()
    asking.locator("[data-confirm=yes]").click()
    approved = _row(oper, rid, "approved")
    approved.wait_for()
    got = op.get(f"/api/v1/reservations/{rid}").json()
    assert got["state"] == "approved" and len(got["node_names"]) == 1 and got["price"] == "21.6000"
    assert approved.locator("[data-col=nodes]").inner_text() == got["node_names"][0]
    assert approved.locator("[data-col=price]").inner_text() == "21.60"
    _row(ann, rid, "approved").wait_for(timeout=15_000)  # the poll
    assert _row(ann, rid).locator("[data-col=nodes]").inner_text() == got["node_names"][0]
    shot(ann, "reservations-en", docs=True)

    # The map draws the node's GPUs reserved once the window opens.
    nav(oper, "map")
    oper.wait_for_function("() => Number(document.getElementById('cluster-map')?.dataset.reserved) === 4",
                           timeout=45_000)
    assert oper.get_attribute("#cluster-map", "data-busy") == "0"
    _row(ann, rid, "active").wait_for(timeout=15_000)

    # In Japanese: no English left (names, GPU types and node names are data).
    ann.click("button[data-lang=ja]")
    _row(ann, rid, "active").locator("[data-state=active]", has_text="利用中").wait_for()
    assert "空き容量を確認" in ann.locator("#res-check").inner_text()
    no_english(ann, "reservations")
    shot(ann, "reservations-ja", docs=True)
    ann.click("button[data-lang=en]")

    # The org-admin cancels it: the refund rule first; inside the cut-off nothing comes back.
    _row(ann, rid, "active").locator("[data-action=cancel]").click()
    confirm = ann.locator(f"#reservations tr[data-res-row='{rid}'] [data-confirm-text=cancel]")
    assert "cut-off has passed: nothing will be refunded" in confirm.inner_text()
    ann.locator(f"#reservations tr[data-res-row='{rid}'] button[data-confirm=yes]").click()
    cancelled = _row(ann, rid, "cancelled")
    cancelled.wait_for()
    got = op.get(f"/api/v1/reservations/{rid}").json()
    assert got["state"] == "cancelled" and Decimal(got["refunded"] or "0") == 0
    assert cancelled.locator("[data-action]").count() == 0
    oper.wait_for_function("() => Number(document.getElementById('cluster-map')?.dataset.reserved) === 0",
                           timeout=15_000)

    # One three days ahead is refunded in full; the confirmation says it is not late.
    far = int(time.time()) + 3 * 86400
    r = httpx.post(f"{server.url}/api/v1/reservations", headers={"Authorization": f"Bearer {orgs['ann']}"},
                   json={"gpu_type": "H100-80GB", "nodes": 2, "start": far, "end": far + 7200, "name": f"far-{tag}"})
    assert r.status_code == 201, r.text
    far_id = r.json()["id"]
    assert op.post(f"/api/v1/reservations/{far_id}/approve").status_code == 200
    ann.reload()
    _row(ann, far_id, "approved").locator("[data-action=cancel]").click()
    text = ann.locator(f"#reservations tr[data-res-row='{far_id}'] [data-confirm-text=cancel]").inner_text()
    # refundable until the server's cut-off (a day) before the start, shown in local time
    assert "refunded in full (possible until" in text and "nothing will be refunded" not in text
    ann.locator(f"#reservations tr[data-res-row='{far_id}'] button[data-confirm=no]").click()
    assert _row(ann, far_id, "approved").locator("[data-confirm-text]").count() == 0
    _row(ann, far_id, "approved").locator("[data-action=cancel]").click()
    ann.locator(f"#reservations tr[data-res-row='{far_id}'] button[data-confirm=yes]").click()
    refunded = _row(ann, far_id, "cancelled").locator("[data-col=refunded]")
    refunded.wait_for()
    price = op.get(f"/api/v1/reservations/{far_id}").json()["price"]
    assert Decimal(price) == Decimal("86.4")  # 2 × 4 GPUs × 2 h × 3.6 × 1.5
    assert refunded.inner_text() == fmt_points(price)

    # The operator rejects a request with a reason; a refused action is a message line.
    r = httpx.post(f"{server.url}/api/v1/reservations", headers={"Authorization": f"Bearer {orgs['ann']}"},
                   json={"gpu_type": "H100-80GB", "nodes": 1, "start": far, "end": far + 3600, "name": f"no-{tag}"})
    assert r.status_code == 201, r.text
    no_id = r.json()["id"]
    nav(oper, "reservations")
    _row(oper, no_id, "requested").locator("[data-action=reject]").click()
    oper.fill(f"#reservations tr[data-res-row='{no_id}'] input[data-reject-note]", "no trainers that week")
    oper.locator(f"#reservations tr[data-res-row='{no_id}'] button[data-confirm=yes]").click()
    _row(oper, no_id, "rejected").locator(".note", has_text="no trainers that week").wait_for()
    # The reservation's operator form: an org must be named (422 next to the org when none is chosen).
    oper.evaluate("() => { const s = document.getElementById('res-org'); s.value = ''; }")
    oper.fill("#res-start", local(far))
    oper.fill("#res-end", local(far + 3600))
    oper.click("#res-form button[type=submit]")
    oper.wait_for_function("() => document.querySelector('#res-form [data-error-for=org]')?.textContent.length > 0")
    shot(oper, "reservations-operator-en")

    # A member of the org reads the list only; another org's member sees none of it.
    cy = new_page()
    login(cy, server.url, orgs["cy"])
    _open(cy)
    _row(cy, rid, "cancelled").wait_for()
    assert cy.locator("#res-form").count() == 0 and cy.locator("#reservations [data-action]").count() == 0
    assert cy.locator("#reservations tr[data-res-row]").count() == 3
    ben = new_page()
    login(ben, server.url, orgs["ben"])
    _open(ben)
    ben.locator("#reservations tr.empty").wait_for()
    assert ben.locator("#reservations tr[data-res-row]").count() == 0 and ben.locator("#res-form").count() == 0
    assert tag not in ben.locator("#page").inner_text()


def test_ledger_view_pages_newest_first(server: ServerProcess, orgs: dict[str, Any], op: httpx.Client,
                                        new_page: Any) -> None:
    lab = orgs["lab"]
    ledger_url = f"/api/v1/budgets/{lab}/default/ledger"
    for i in range(55):
        assert op.post(f"/api/v1/budgets/{lab}/default/topup", json={"amount": "1", "note": f"t{i}"}).status_code == 200
    total = op.get(f"{ledger_url}?limit=1").json()["total"]
    entries = op.get(f"{ledger_url}?limit=1000").json()["items"]
    assert total == len(entries) >= 56

    page = new_page()
    login(page, server.url, server.token or "")
    nav(page, "usage")
    page.locator(f"#budgets button[data-ledger='{lab}/default']").click()
    rows = page.locator("#ledger-table tr[data-ledger-row]")
    page.locator("#ledger-table tr[data-ledger-row]").first.wait_for()
    assert rows.count() == 50
    first = rows.first
    assert first.get_attribute("data-ledger-row") == str(entries[-1]["id"])
    assert first.locator("[data-col=kind]").inner_text() == "top-up"
    assert first.locator("[data-col=amount]").inner_text() == "1.00"
    assert first.locator("[data-col=note]").inner_text() == "t54"
    assert page.locator("#ledger-range").inner_text() == f"Entries 1–50 of {total} (newest first)"
    assert page.locator("#ledger-prev").is_disabled() and not page.locator("#ledger-next").is_disabled()
    shot(page, "ledger-en")

    page.click("#ledger-next")
    page.wait_for_function("() => document.getElementById('ledger')?.dataset.page === '1'")
    assert rows.count() == total - 50
    assert rows.last.get_attribute("data-ledger-row") == str(entries[0]["id"])
    assert rows.last.locator("[data-col=note]").inner_text() == "first"
    assert page.locator("#ledger-next").is_disabled()
    # The reservation of the other test (when it ran first): its charge and refund, linked by their ref.
    kinds = {r.get_attribute("data-kind") for r in rows.all()}
    if any(e["ref"].startswith("reservation:") for e in entries):
        assert {e["kind"] for e in entries if e["ref"].startswith("reservation:")} <= kinds
        page.locator("#ledger-table td[data-col=ref] a[href='#/reservations']").first.wait_for()
    page.click("#ledger-prev")
    page.wait_for_function("() => document.getElementById('ledger')?.dataset.page === '0'")
    assert rows.count() == 50

    # A top-up made now shows on the next refresh (the page's poll, or reopening).
    assert op.post(f"/api/v1/budgets/{lab}/default/topup", json={"amount": "7", "note": "latest"}).status_code == 200
    page.locator(f"#budgets button[data-ledger='{lab}/default']").click()
    page.locator("#ledger-table tr[data-ledger-row]").first.locator("[data-col=note]", has_text="latest").wait_for()
    assert rows.first.locator("[data-col=amount]").inner_text() == "7.00"

    page.click("button[data-lang=ja]")
    page.locator(f"#budgets button[data-ledger='{lab}/default']").click()
    page.locator("#ledger-table tr[data-ledger-row]").first.locator("[data-col=kind]", has_text="追加").wait_for()
    assert "新しい順" in page.locator("#ledger-range").inner_text()
    no_english(page, "usage (ledger)")
    shot(page, "ledger-ja")

    # A member opens their own org's ledger too (the API refuses other orgs').
    member = new_page()
    login(member, server.url, orgs["cy"])
    nav(member, "usage")
    member.locator(f"#budgets button[data-ledger='{lab}/default']").click()
    member.locator("#ledger-table tr[data-ledger-row]").first.wait_for()
    page.click("#ledger-close")
    assert page.locator("#ledger").is_hidden()
