"""The dashboard's start-time forecasts against a real server: the queue shows a waiting job's predicted start,
its page the forecast and, on request, the shape advice, the submit form when the job would start; in Japanese
with no English left."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from server_proc import ServerProcess, wait_for
from webutil import login, make_user, no_english, shot, submit


def test_queue_and_job_page_show_the_forecast_and_advice(server: ServerProcess, op: httpx.Client,
                                                         new_page: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    alice = make_user(op, f"fc-alice-{tag}", f"fc-{tag}")
    big = submit(alice, server.url, argv=["sleep", "120"], num_gpus=8, walltime="1h", grace="1s")
    small = submit(alice, server.url, argv=["sleep", "1"], num_gpus=2, walltime="10m", grace="1s")
    try:
        wait_for("the big job to run", lambda: op.get(f"/api/v1/jobs/{big['id']}").json()["state"] == "running",
                 timeout=20)
        page = new_page()
        login(page, server.url, alice)
        page.click("header nav a[data-nav=queue]")
        cell = page.locator(f"#queue tr[data-job-row='{small['id']}'] [data-forecast]")
        cell.wait_for()
        started = op.get(f"/api/v1/jobs/{big['id']}").json()["started_at"]
        assert abs(float(cell.get_attribute("data-forecast") or 0) - (started + 3600)) < 5
        assert cell.inner_text().startswith("in ")

        page.goto(f"{server.url}/#/jobs/{small['id']}")
        page.locator("#job-forecast").wait_for()
        assert page.locator("[data-prop='forecast.waitsFor']").inner_text() == "running jobs to free enough GPUs"
        page.click("#ask-advice")
        page.locator("#advice-table tr[data-current=yes]").wait_for()
        assert page.locator("#advice-table tbody tr").count() >= 2  # its own request and another node count
        shot(page, "job-forecast-en")
        # the submit form: when the job being written would start (1 GPU, after the big job)
        page.goto(f"{server.url}/#/submit")
        preview = page.locator("#start-preview[data-start]:not([data-start=''])")
        preview.wait_for()
        assert abs(float(preview.get_attribute("data-start") or 0) - (started + 3600)) < 5
        assert preview.inner_text().startswith("Would start: in ")
        page.goto(f"{server.url}/#/jobs/{small['id']}")
        page.locator("#job-forecast").wait_for()
        page.click("button[data-lang=ja]")
        page.locator("#advice-card h2", has_text="もっと早く").wait_for()
        page.click("#ask-advice")
        page.locator("#advice-table tr[data-current=yes]").wait_for()
        no_english(page, "the job page with its forecast")
    finally:
        for job in (big, small):
            op.post(f"/api/v1/jobs/{job['id']}/cancel")
        wait_for("jobs to end", lambda: all(op.get(f"/api/v1/jobs/{j['id']}").json()["state"] == "cancelled"
                                            for j in (big, small)), timeout=20)
