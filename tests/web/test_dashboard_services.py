"""The services page against a real server with the local executor: an org-admin sees the org's service with
its replicas running, pushes a new count and watches it followed, and deletes it after a confirmation; a member
of another org sees none; Japanese with no English left."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from server_proc import ServerProcess
from webutil import confirm, login, make_user, nav, no_english, shot


def test_services_page_scale_and_delete(server: ServerProcess, op: httpx.Client, new_page: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    lab = f"lab-{tag}"
    ann = make_user(op, f"ann-{tag}", lab, role="org-admin")
    ben = make_user(op, f"ben-{tag}", f"uni-{tag}")
    name = f"ran-{tag}"
    r = op.post("/api/v1/services", json={
        "name": name, "class": "ran", "gpus_per_replica": 1, "gpu_type": "H100-80GB", "sites": ["b0-r0-n0"],
        "demand": {"replicas": 1}, "argv": ["sleep", "600"], "grace_s": 1, "org": lab})
    assert r.status_code == 201, r.text

    page = new_page()
    login(page, server.url, ann)
    nav(page, "services")
    row = page.locator(f"#services tr[data-service-row='{name}']")
    row.locator("td[data-col=running]", has_text="1").wait_for()
    assert row.locator("td[data-col=demand]").inner_text() == "fixed: 1"
    row.locator(f"[data-scale-input='{name}']").fill("2")
    row.locator("[data-action=scale]").click()
    row.locator("td[data-col=wanted]", has_text="2").wait_for()
    row.locator("td[data-col=running]", has_text="2").wait_for()
    shot(page, "services-en", docs=True)
    confirm(row, "delete")
    page.locator("#services tr.empty").wait_for()
    assert op.get(f"/api/v1/services/{name}").status_code == 404

    other = new_page(locale="ja-JP")
    other.add_init_script("localStorage.setItem('gpucloud.lang', 'ja')")
    login(other, server.url, ben)
    nav(other, "services")
    other.locator("#services tr.empty").wait_for()
    no_english(other, "services")
