"""Finding jobs in the dashboard against a real server (its own: a full cluster and 120 waiting jobs).

- Jobs: search, filters and sorting are kept in the address; the same address opened elsewhere shows the same view;
  pages come from the server and each refresh asks for the one page shown, once.
- Queue: 50 entries a page with their position in the whole queue; a member sees their org-mates' entries but can
  open only their own jobs.
- A job preempted back into the queue shows how long it ran, not the time since its first start."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from server_proc import ServerProcess, wait_for
from webutil import login, make_user, nav, shot, submit


@pytest.fixture(scope="module")
def world(server: ServerProcess) -> Iterator[dict[str, Any]]:
    """alice's low-priority job was preempted by bob's urgent one (which now holds every GPU); 120 jobs wait."""
    tag = uuid.uuid4().hex[:6]
    with server.client() as op:
        alice = make_user(op, f"alice-{tag}", f"lab-{tag}")
        amy = make_user(op, f"amy-{tag}", f"lab-{tag}")
        bob = make_user(op, f"bob-{tag}", f"inst-{tag}")
        low = submit(alice, server.url, argv=["sh", "-c", "exec sleep 300"], num_gpus=8, priority="low", grace="1s",
                     name="low-and-preempted")
        wait_for("the low job to run", lambda: op.get(f"/api/v1/jobs/{low['id']}").json()["state"] == "running",
                 timeout=30)
        urgent = submit(bob, server.url, argv=["sh", "-c", "exec sleep 300"], num_gpus=8, priority="urgent",
                        grace="1s", name="urgent")
        wait_for("the preemption", lambda: op.get(f"/api/v1/jobs/{low['id']}").json()["state"] == "pending"
                 and op.get(f"/api/v1/jobs/{low['id']}").json()["preemptions"] == 1, timeout=30)
        waiting = [submit(alice if i % 2 else amy, server.url, argv=["true"], num_gpus=1, name=f"sweep-{i:03d}")
                   for i in range(120)]
        yield {"tag": tag, "alice": alice, "amy": amy, "low": low, "urgent": urgent, "waiting": waiting}
        for j in [low, urgent, *waiting]:
            op.post(f"/api/v1/jobs/{j['id']}/cancel")


def _params(url: str) -> dict[str, list[str]]:
    fragment = urlsplit(url).fragment
    return parse_qs(fragment.split("?", 1)[1]) if "?" in fragment else {}


def _rows(page: Any, table: str) -> list[int]:
    """The job ids of the table's rows, read in one go (a refresh may redraw the table between two reads)."""
    ids: list[str] = page.eval_on_selector_all(f"#{table} tr[data-job-row]", "rs => rs.map(r => r.dataset.jobRow)")
    return [int(i) for i in ids]


def test_jobs_filters_sort_and_pages_live_in_the_address(server: ServerProcess, world: dict[str, Any],
                                                         op: httpx.Client, new_page: Any) -> None:
    page = new_page()
    login(page, server.url, server.token or "")
    nav(page, "jobs")
    page.locator("#jobs tr[data-job-row]").first.wait_for()
    assert page.locator("#jobs tbody tr").count() == 50
    # search by name, newest first: the page asks the server (q=) and shows what it answers
    page.fill("#filter-q", "sweep-11")
    page.wait_for_function("() => document.querySelectorAll('#jobs tr[data-job-row]').length === 10")
    expected = [j["id"] for j in op.get("/api/v1/jobs?q=sweep-11").json()["items"]]
    assert _rows(page, "jobs") == expected and len(expected) == 10
    # sort by name, then the other way round
    page.click("#jobs th button[data-sort=name]")
    page.locator("#jobs th[aria-sort=ascending] button[data-sort=name]").wait_for()
    page.wait_for_function("(first) => document.querySelector('#jobs tr[data-job-row]')?.dataset.jobRow == first",
                           arg=str(op.get("/api/v1/jobs?q=sweep-11&sort=name").json()["items"][0]["id"]))
    page.click("#jobs th button[data-sort=name]")
    page.locator("#jobs th[aria-sort=descending] button[data-sort=name]").wait_for()
    page.wait_for_function("(first) => document.querySelector('#jobs tr[data-job-row]')?.dataset.jobRow == first",
                           arg=str(op.get("/api/v1/jobs?q=sweep-11&sort=-name").json()["items"][0]["id"]))
    page.select_option("#filter-state", "pending")
    page.wait_for_function("() => location.hash.includes('state=pending')")
    params = _params(page.url)
    assert params["q"] == ["sweep-11"] and params["sort"] == ["-name"] and params["state"] == ["pending"]
    shown = _rows(page, "jobs")
    # the same address in another browser shows the same view, its controls set
    other = new_page()
    login(other, server.url, server.token or "")
    other.goto(page.url)
    other.locator("#jobs tr[data-job-row]").first.wait_for()
    other.wait_for_function("(n) => document.querySelectorAll('#jobs tr[data-job-row]').length === n", arg=len(shown))
    assert _rows(other, "jobs") == shown
    assert other.input_value("#filter-q") == "sweep-11" and other.input_value("#filter-state") == "pending"
    assert other.locator("#jobs th[aria-sort=descending] button[data-sort=name]").count() == 1
    # clear the filters: every job, 50 a page; go to page 3
    page.click("#jobs-reset")
    page.wait_for_function("() => !location.hash.includes('?')")
    total = op.get("/api/v1/jobs?offset=0&limit=1").json()["total"]
    page.locator(f"#jobs table[data-total='{total}']").wait_for()
    page.click("nav.pager button[data-page='2']")
    page.wait_for_function("() => location.hash.includes('page=2')")
    page.click("nav.pager button[data-page='3']")
    page.locator("#jobs table[data-page='3']").wait_for()
    assert _rows(page, "jobs") == [j["id"] for j in op.get("/api/v1/jobs?offset=100&limit=50").json()["items"]]
    shot(page, "jobs-find-en")

    # each refresh asks for the page shown, once (not every page loaded so far)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/v1/jobs?" in r.url else None)
    loads = int(page.get_attribute("#jobs", "data-loads") or 0)
    page.wait_for_function("(n) => Number(document.getElementById('jobs').dataset.loads) >= n + 3", arg=loads,
                           timeout=20_000)
    done = int(page.get_attribute("#jobs", "data-loads") or 0) - loads
    assert len(asked) in (done, done + 1)  # one may be on its way
    assert all(parse_qs(urlsplit(u).query)["offset"] == ["100"] for u in asked)


def test_queue_pages_and_what_a_member_may_open(server: ServerProcess, world: dict[str, Any], op: httpx.Client,
                                                new_page: Any) -> None:
    page = new_page()
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/v1/queue" in r.url else None)
    login(page, server.url, server.token or "")
    nav(page, "queue")
    page.locator("#queue tr[data-job-row]").first.wait_for()
    queue = op.get("/api/v1/queue?limit=50").json()
    assert queue["total_pending"] >= 121
    assert page.locator("#queue tbody tr").count() == 50
    assert _rows(page, "queue") == [e["job"]["id"] for e in queue["items"]]
    cells = page.locator("#queue tr[data-job-row] td:first-child").all_inner_texts()
    assert cells == [str(e["position"]) for e in queue["items"]]
    assert str(queue["total_pending"]) in page.locator("#queue-note").inner_text()
    assert page.locator("nav.pager [data-pages]").get_attribute("data-pages") == str(-(-queue["total"] // 50))
    assert asked and all(parse_qs(urlsplit(u).query).get("limit") == ["50"] for u in asked)
    page.click("nav.pager button[data-page='2']")
    page.locator("#queue table[data-page='2']").wait_for()
    first = page.locator("#queue tr[data-job-row] td:first-child").first.inner_text()
    assert first == "51"
    shot(page, "queue-en", docs=True)

    # amy sees alice's entries too, but only her own jobs are links
    member = new_page()
    login(member, server.url, world["amy"])
    nav(member, "queue")
    member.locator("#queue tr[data-job-row]").first.wait_for()
    tag = world["tag"]
    # each row's user and whether it links to the job, read in one go (a refresh may redraw the table meanwhile)
    seen: list[list[Any]] = member.eval_on_selector_all(
        "#queue tr[data-job-row]", "rs => rs.map(r => [r.querySelectorAll('td')[4].innerText, "
        "r.querySelectorAll('a[data-job]').length])")
    users = set()
    for user, job_links in seen:
        users.add(user)
        assert job_links == (1 if user == f"amy-{tag}" else 0), user
    assert users == {f"amy-{tag}", f"alice-{tag}"}
    member.fill("#filter-user", f"amy-{tag}")
    member.wait_for_function("() => location.hash.includes('user=amy')")
    member.wait_for_function("() => [...document.querySelectorAll('#queue tr[data-job-row] td:nth-child(5)')]"
                             ".every((td) => td.textContent.startsWith('amy-'))")


def test_a_preempted_job_shows_the_time_it_ran(server: ServerProcess, world: dict[str, Any], op: httpx.Client,
                                              new_page: Any) -> None:
    low = op.get(f"/api/v1/jobs/{world['low']['id']}").json()
    assert low["state"] == "pending" and low["ran_s"] is not None
    page = new_page()
    login(page, server.url, server.token or "")
    page.goto(f"{server.url}/#/jobs?q=low-and-preempted")
    cell = page.locator(f"#jobs tr[data-job-row='{low['id']}'] td[data-col=ran]")
    cell.wait_for()
    assert float(cell.get_attribute("data-value") or "nan") == low["ran_s"]
    shown = cell.inner_text()
    loads = int(page.get_attribute("#jobs", "data-loads") or 0)
    page.wait_for_function("(n) => Number(document.getElementById('jobs').dataset.loads) >= n + 2", arg=loads,
                           timeout=20_000)
    assert cell.inner_text() == shown  # it waits: the time it ran does not grow
    page.goto(f"{server.url}/#/jobs/{low['id']}")
    ran = page.locator("#job-info [data-prop='job.ran'] [data-ran]")
    ran.wait_for()
    assert float(ran.get_attribute("data-ran") or "nan") == low["ran_s"] and ran.inner_text() == shown
