"""A job's logs in the dashboard against a real server: the ranks of a two-node job (its placement, in rank order),
the log of the rank chosen (asked for with ``rank=``), the whole log downloaded, and a search through it with line
numbers — each checked against ``GET /jobs/{id}/logs``."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from server_proc import ServerProcess, wait_for
from webutil import english_left, login, make_user, shot, submit

SCRIPT = 'for i in $(seq 1 3000); do echo "line $i of the log"; done; echo needle-found; exec sleep 300'


def _whole(op: httpx.Client, job: int, rank: int) -> str:
    out, offset = "", 0
    while True:
        chunk = op.get(f"/api/v1/jobs/{job}/logs?rank={rank}&offset={offset}&limit=1048576").json()
        out += chunk["text"]
        offset = chunk["next_offset"]
        if offset >= chunk["size"]:
            return out


def test_ranks_download_and_search(server: ServerProcess, op: httpx.Client, new_page: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    token = make_user(op, f"lena-{tag}", f"lab-{tag}")
    job = submit(token, server.url, argv=["sh", "-c", SCRIPT], num_gpus=8, nodes=2, grace="1s", name="two-ranks")
    try:
        wait_for("the log", lambda: "needle-found" in _whole(op, job["id"], 0), timeout=30)
        placement = op.get(f"/api/v1/jobs/{job['id']}").json()["placement"]
        page = new_page()
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if "/logs?" in r.url else None)
        login(page, server.url, token)
        page.goto(f"{server.url}/#/jobs/{job['id']}")
        page.locator("#job-log").wait_for()
        options = page.locator("#log-rank option").all_inner_texts()
        assert options == [f"Rank {i} · {p['node']}" for i, p in enumerate(placement)]
        # rank 1: every log request from now on names it
        page.select_option("#log-rank", "1")
        page.locator("#job-logs[data-rank='1']").wait_for()
        asked.clear()
        page.wait_for_function("() => document.getElementById('job-log').textContent.includes('needle-found')",
                               timeout=20_000)
        assert asked and all(parse_qs(urlsplit(u).query)["rank"] == ["1"] for u in asked)
        whole = _whole(op, job["id"], 1)
        # the whole log as a file
        with page.expect_download() as info:
            page.click("#log-download")
        download = info.value
        assert download.suggested_filename == f"job-{job['id']}-rank1-stdout.log"
        with open(download.path(), encoding="utf-8") as f:
            assert f.read() == whole
        # search: the matching lines of the whole log with their numbers
        page.fill("#log-search", "line 2999 ")
        page.click("#log-search-go")
        results = page.locator("#log-results[data-matches='1']")
        results.wait_for()
        assert results.locator("li").get_attribute("data-line") == "2999"
        page.fill("#log-search", "NEEDLE")
        page.press("#log-search", "Enter")
        page.locator("#log-results[data-matches='1'] li[data-line='3001']").wait_for()
        lines = whole.split("\n")
        assert lines[3000] == "needle-found"
        page.fill("#log-search", "of the log")
        page.click("#log-search-go")
        page.locator("#log-results[data-matches='1000']").wait_for()  # the first 1,000 of 3,000 matches
        shot(page, "job-logs-en", docs=True)
        page.click("button[data-lang=ja]")
        page.locator("#log-search-go", has_text="検索").wait_for()
        page.fill("#log-search", "needle")
        page.click("#log-search-go")
        page.locator("#log-results[data-matches='1']", has_text="一致した行").wait_for()
        assert not english_left(page), english_left(page)
    finally:
        op.post(f"/api/v1/jobs/{job['id']}/cancel")
