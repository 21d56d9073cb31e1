"""Submitting from the browser against a real server (its own, with a tariff: 3.6 points per H100 GPU-hour, a
``shared`` class of 1.25 for part of a node, ``high`` priority 1.5): the live price preview (the same numbers as
``POST /quotes/job``, worked out by hand), errors next to their fields, the job as a ``gpucloud submit`` command that
a shell reads back to the same argv (and the clipboard gets), the submission itself, the command shown on the job
page with its quoting, "1 GPU", and resubmitting a job from its page."""

from __future__ import annotations

import shlex
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from server_proc import ServerProcess
from webutil import english_left, login, make_user, nav, shot

TARIFF = {"tariffs": [{"name": "submit-2020", "valid_from": "2020-01-01", "points_per_gpu_hour": {"H100-80GB": "3.6"},
                       "service_classes": {"standard": "1", "shared": "1.25", "interactive": "2"},
                       "priority_classes": {"high": "1.5"}}]}
COMMAND = """python -c 'print("a b")' --flag "x y" it\\'s"""
ARGV = ["python", "-c", 'print("a b")', "--flag", "x y", "it's"]


@pytest.fixture(scope="module")
def world(server: ServerProcess) -> Iterator[dict[str, Any]]:
    tag = uuid.uuid4().hex[:6]
    with server.client() as op:
        assert op.post("/api/v1/tariffs", json=TARIFF).status_code == 201
        alice = make_user(op, f"alice-{tag}", f"lab-{tag}")
        assert op.post(f"/api/v1/budgets/lab-{tag}/default/topup", json={"amount": "10"}).status_code == 200
        yield {"tag": tag, "alice": alice, "org": f"lab-{tag}"}
        for job in op.get("/api/v1/jobs?state=pending&state=running&state=admitted").json()["items"]:
            op.post(f"/api/v1/jobs/{job['id']}/cancel")


def _quote(server: ServerProcess, token: str, **body: Any) -> dict[str, Any]:
    r = httpx.post(f"{server.url}/api/v1/quotes/job", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_price_preview_cli_command_and_submit(server: ServerProcess, world: dict[str, Any], op: httpx.Client,
                                              new_page: Any) -> None:
    page = new_page(permissions=["clipboard-read", "clipboard-write"])
    login(page, server.url, world["alice"])
    nav(page, "submit")
    page.locator("#price-preview[data-quote=priced]").wait_for()
    # 2 GPUs for 30 minutes on part of a 4-GPU node: 3.6 × 1.25 × 2 × 0.5 h = 4.5 points held
    page.fill("#submit-command", COMMAND)
    page.fill("#submit-gpus", "2")
    page.fill("#submit-walltime", "30m")
    option = page.locator("#price-preview li[data-gpu-type='H100-80GB']")
    page.wait_for_function("() => document.querySelector(\"#price-preview li[data-gpu-type='H100-80GB']\")"
                           "?.dataset.hold === '4.5000'")
    assert option.get_attribute("data-enough") == "true"
    api = _quote(server, world["alice"], num_gpus=2, walltime="30m")["options"][0]
    assert (api["hold"], api["service_class"]) == ("4.5000", "shared")
    assert "4.50 points held" in option.inner_text()
    assert page.locator("#submit-argv-note").inner_text() == "6 arguments"
    # the same job as a command: a shell reads it back to the same argv; the clipboard gets it
    cli = page.locator("#cli-command").inner_text()
    assert shlex.split(cli) == ["gpucloud", "submit", "--gpus", "2", "--walltime", "30m", "--", *ARGV]
    page.click("#cli-card #copy-cli")
    page.locator("#cli-card .copy .ok", has_text="Copied").wait_for()
    assert page.evaluate("() => navigator.clipboard.readText()") == cli
    # high priority, 8 GPUs, 10 h: 3.6 × 1.5 × 8 × 10 = 432 points; the project has 10: the form says so
    page.select_option("#submit-priority", "high")
    page.fill("#submit-gpus", "8")
    page.fill("#submit-walltime", "10h")
    page.wait_for_function("() => document.querySelector(\"#price-preview li[data-gpu-type='H100-80GB']\")"
                           "?.dataset.hold === '432.0000'")
    assert option.get_attribute("data-enough") == "false" and option.locator("[data-short]").count() == 1
    shot(page, "submit-en", docs=True)
    # bad input: named next to its field (by the server for the walltime, by the page for an open quote)
    page.fill("#submit-walltime", "ten hours")
    page.locator("#submit-form [data-error-for=walltime]:not(:empty)").wait_for()
    page.fill("#submit-walltime", "30m")
    page.wait_for_function("() => document.querySelector('#submit-form [data-error-for=walltime]').textContent === ''")
    page.fill("#submit-command", "echo 'unclosed")
    page.locator("#submit-form [data-error-for=argv]", has_text="not closed").wait_for()
    page.click("#submit-go")
    assert "/submit" in page.url  # nothing sent
    # submit: 2 GPUs, normal priority, an environment variable
    page.fill("#submit-command", COMMAND)
    page.fill("#submit-gpus", "2")
    page.select_option("#submit-priority", "normal")
    page.fill("#submit-name", "from-the-browser")
    page.click("details.more-fields > summary")
    page.fill("#submit-env", "SEED=1\nNOTE=a=b")
    page.click("#submit-go")
    page.wait_for_url("**/#/jobs/*")
    job_id = int(page.url.rsplit("/", 1)[1])
    job = op.get(f"/api/v1/jobs/{job_id}").json()
    assert (job["argv"], job["num_gpus"], job["walltime_s"], job["env"], job["name"]) == (
        ARGV, 2, 1800, {"SEED": "1", "NOTE": "a=b"}, "from-the-browser")
    # its page shows the command as a shell reads it, and "2 GPUs"
    page.locator("#job-command").wait_for()
    assert shlex.split(page.locator("#job-command").inner_text()) == ARGV
    assert page.locator("#job-info [data-prop='job.shape']").inner_text().startswith("2 GPUs")
    # resubmit: the form filled in from the job; a new job with the same argv and environment
    page.click("#resubmit")
    page.locator(f"#submit-form[data-from='{job_id}']").wait_for()
    assert shlex.split(page.input_value("#submit-command")) == ARGV
    assert page.input_value("#submit-gpus") == "2" and page.input_value("#submit-walltime") == "30m"
    page.fill("#submit-gpus", "1")
    page.click("#submit-go")
    page.wait_for_function("(old) => /#\\/jobs\\/\\d+$/.test(location.hash) && !location.hash.endsWith('/' + old)",
                           arg=job_id)
    again = op.get(f"/api/v1/jobs/{int(page.url.rsplit('/', 1)[1])}").json()
    assert (again["argv"], again["env"], again["num_gpus"]) == (ARGV, job["env"], 1)
    # one GPU is "1 GPU", here and in the list
    page.locator("#job-info [data-prop='job.shape']", has_text="1 GPU ·").wait_for()
    nav(page, "jobs")
    row = page.locator(f"#jobs tr[data-job-row='{again['id']}']")
    row.wait_for()
    assert "1 GPU ·" in row.inner_text() and "1 GPUs" not in row.inner_text()


def test_submit_page_in_japanese(server: ServerProcess, world: dict[str, Any], new_page: Any) -> None:
    page = new_page(locale="ja-JP")
    login(page, server.url, world["alice"])
    nav(page, "submit")
    page.fill("#submit-command", "python train.py")
    page.locator("#price-preview li[data-gpu-type='H100-80GB']", has_text="ポイントを保留").wait_for()
    assert page.locator("#page h1").inner_text() == "ジョブの投入"
    assert not english_left(page), english_left(page)
    shot(page, "submit-ja", docs=True)
