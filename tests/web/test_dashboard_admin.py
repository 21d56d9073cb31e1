"""Running the tenants from the dashboard against a real server (its own): quotas and fair share at a glance (who
borrows from whom), deleting a quota only after a confirmation, a user's role changed and the user deactivated and
reactivated (their token refused meanwhile), a project created (and offered by the submit form), an org's kind,
and the programmes page (a 422 next to the field it names)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from server_proc import ServerProcess, wait_for
from webutil import confirm, english_left, login, make_user, nav, shot, submit


@pytest.fixture(scope="module")
def world(server: ServerProcess) -> Iterator[dict[str, Any]]:
    """lab is guaranteed 4 H100 and holds none; inst is guaranteed 2 and holds 6 (4 borrowed: 2 nobody's, 2 lab's)."""
    tag = uuid.uuid4().hex[:6]
    lab, inst = f"lab-{tag}", f"inst-{tag}"
    with server.client() as op:
        admin = make_user(op, f"lead-{tag}", lab, role="org-admin")
        amy = make_user(op, f"amy-{tag}", lab)
        bob = make_user(op, f"bob-{tag}", inst)
        for org, n in ((lab, 4), (inst, 2)):
            assert op.put(f"/api/v1/orgs/{org}/quotas/H100-80GB", json={"guaranteed": n}).status_code == 200
        job = submit(bob, server.url, argv=["sh", "-c", "exec sleep 300"], num_gpus=6, nodes=2, grace="1s",
                     name="borrower")
        wait_for("the borrower to run", lambda: op.get(f"/api/v1/jobs/{job['id']}").json()["state"] == "running",
                 timeout=30)
        yield {"tag": tag, "lab": lab, "inst": inst, "admin": admin, "amy": amy, "bob": bob, "job": job}
        op.post(f"/api/v1/jobs/{job['id']}/cancel")


def test_quotas_and_fair_share_at_a_glance(server: ServerProcess, world: dict[str, Any], op: httpx.Client,
                                           new_page: Any) -> None:
    lab, inst = world["lab"], world["inst"]
    page = new_page()
    login(page, server.url, server.token or "")
    nav(page, "quotas")
    row = page.locator(f"#glance-table tr[data-glance-row='{inst}/H100-80GB']")
    row.wait_for()
    assert (row.get_attribute("data-used"), row.get_attribute("data-borrowed")) == ("6", "4")
    page.locator(f"#fair-loans li[data-loan='{inst}<']").wait_for()
    loans = {li.get_attribute("data-loan"): li.get_attribute("data-gpus")
             for li in page.locator("#fair-loans li[data-loan]").all()}
    assert loans == {f"{inst}<": "2", f"{inst}<{lab}": "2"}  # 2 nobody is guaranteed, then 2 of lab's idle 4
    doc = op.get("/api/v1/fairshare").json()
    standing = {o["org"]: o for o in doc["orgs"]}
    for org in (lab, inst):
        r = page.locator(f"#standing-table tr[data-standing-row='{org}']")
        assert r.locator("td").last.inner_text() == str(standing[org]["rank"])
    assert page.locator(f"#standing-table tr[data-standing-row='{inst}'] [data-standing]").get_attribute(
        "data-standing") == ("over" if standing[inst]["standing"] > 1.1 else "fair")
    shot(page, "quotas-en", docs=True)
    # deleting a quota asks first
    page.select_option("#quota-org", lab)
    quota = page.locator(f"#quotas[data-org='{lab}'] tr[data-quota-row='H100-80GB']")  # once lab's list is drawn
    quota.locator("[data-action=delete]").click()
    quota.locator("[data-confirm-text=delete]", has_text=lab).wait_for()
    quota.locator("[data-confirm=no]").click()
    assert len(op.get(f"/api/v1/orgs/{lab}/quotas").json()) == 1
    confirm(quota, "delete")
    page.locator("#quotas tr.empty").wait_for()
    assert op.get(f"/api/v1/orgs/{lab}/quotas").json() == []
    page.wait_for_function("(org) => !document.querySelector(`#fair-loans li[data-loan='${org}']`)",
                           arg=f"{inst}<{lab}", timeout=15_000)
    # an org-admin reads their org's row, no loans, no forms
    lead = new_page()
    login(lead, server.url, world["admin"])
    nav(lead, "quotas")
    lead.locator(f"#standing-table tr[data-standing-row='{lab}']").wait_for()
    assert lead.locator("#standing-table tr[data-standing-row]").count() == 1
    assert lead.locator("#quota-form").count() == 0 and lead.locator("#fair-loans").count() == 0
    lead.click("button[data-lang=ja]")
    lead.locator("#page h1", has_text="クォータと公平配分").wait_for()
    assert not english_left(lead), english_left(lead)


def test_role_change_deactivation_and_projects(server: ServerProcess, world: dict[str, Any], op: httpx.Client,
                                               new_page: Any) -> None:
    amy, tag, lab = world["amy"], world["tag"], world["lab"]
    page = new_page()
    login(page, server.url, world["admin"])  # the org's admin
    nav(page, "users")
    row = page.locator(f"#users tr[data-user-row='amy-{tag}']")
    row.wait_for()
    assert page.locator(f"#users tr[data-user-row='lead-{tag}'] [data-action]").count() == 0  # not yourself
    # make amy an org-admin: confirmed, then her own token can list users
    row.locator(f"select[data-role-for='amy-{tag}']").select_option("org-admin")
    row.locator("[data-confirm-text=role]", has_text="org admin").wait_for()
    row.locator("[data-confirm=yes]").click()
    page.locator(f"#users tr[data-user-row='amy-{tag}'] select[data-role-for='amy-{tag}']").wait_for()
    wait_for("the role", lambda: op.get(f"/api/v1/users/amy-{tag}").json()["role"] == "org-admin")
    assert httpx.get(f"{server.url}/api/v1/users", headers={"Authorization": f"Bearer {amy}"}).status_code == 200
    # deactivate her: refused at once; reactivate
    confirm(page.locator(f"#users tr[data-user-row='amy-{tag}']"), "deactivate")
    page.locator(f"#users tr[data-user-row='amy-{tag}'][data-active=false]").wait_for()
    assert httpx.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {amy}"}).status_code == 401
    shot(page, "users-en", docs=True)
    confirm(page.locator(f"#users tr[data-user-row='amy-{tag}']"), "reactivate")
    page.locator(f"#users tr[data-user-row='amy-{tag}'][data-active=true]").wait_for()
    assert httpx.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {amy}"}).status_code == 200
    # a project: created from the page, listed, offered when submitting
    nav(page, "projects")
    page.fill("#project-name", f"vision-{tag}")
    page.click("#project-form button[type=submit]")
    page.locator("#project-done").wait_for()
    page.locator(f"#projects tr[data-project-row='{lab}/vision-{tag}']").wait_for()
    assert f"vision-{tag}" in [p["name"] for p in op.get(f"/api/v1/orgs/{lab}/projects").json()]
    page.fill("#project-name", "no spaces")
    page.click("#project-form button[type=submit]")
    page.locator("#project-form [data-error-for=name]:not(:empty)").wait_for()
    nav(page, "submit")
    page.locator(f"#submit-project option[value='vision-{tag}']").wait_for(state="attached")


def test_org_kinds_and_programmes(server: ServerProcess, world: dict[str, Any], op: httpx.Client,
                                  new_page: Any) -> None:
    lab, tag = world["lab"], world["tag"]
    page = new_page()
    login(page, server.url, server.token or "")
    nav(page, "orgs")
    row = page.locator(f"#orgs tr[data-org-row='{lab}']")
    row.locator("select[name=kind]").select_option("university")
    row.locator("button", has_text="Save").click()
    row.locator(".ok").wait_for()
    assert op.get(f"/api/v1/orgs/{lab}").json()["kind"] == "university"
    nav(page, "programmes")
    page.fill("#prog-name", f"half-{tag}")
    page.fill("#prog-share", "2")
    page.fill("#prog-total", "1000")
    page.fill("#prog-kinds", "university")
    page.click("#programme-form button[type=submit]")
    page.locator("#programme-form [data-error-for=share]:not(:empty)").wait_for()
    page.fill("#prog-share", "1/2")
    page.click("#programme-form button[type=submit]")
    prog = page.locator(f"#programmes-table tr[data-programme-row='half-{tag}']")
    prog.wait_for()
    assert prog.locator("[data-col=share]").inner_text() == "1/2"
    assert prog.locator("[data-col=total]").get_attribute("data-value") == "1000.0000"
    assert "university" in prog.inner_text()
    shot(page, "programmes-en", docs=True)
    member = new_page(locale="ja-JP")
    login(member, server.url, world["amy"])
    nav(member, "programmes")
    member.locator(f"#programmes-table tr[data-programme-row='half-{tag}']").wait_for()
    assert member.locator("#programme-form").count() == 0
    assert not english_left(member), english_left(member)
