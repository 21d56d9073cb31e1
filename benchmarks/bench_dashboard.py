"""The dashboard at scale, in headless Chromium (/usr/bin/chromium through Playwright):

- **map**: the 10,240-GPU example cloud (examples/clusters/gpu-cloud-10k.yaml) with every GPU held by one of 1,280
  jobs of 8 orgs, the API answered inside the browser (tests/web/fake_api.py): ms from the map page asking for the
  cluster to the first full drawing, the layout + drawing part of it, and ms from navigation start.
- **queue** and **jobs**: a real ``gpucloud server`` on that cluster with 100,000 jobs in its SQLite database, 10,000
  of them waiting (every node is down, so they stay so): ms from navigation start to the first page of the queue /
  the job list drawn (``performance.mark`` of each drawing), the API call's share of it, and the browser's long
  tasks (over 50 ms, PerformanceObserver ``longtask``) during the first load and during the next refreshes, and how
  long each refresh's drawing took (``performance.measure``); plus the server's time for the list queries the pages
  make (first page, last page, a sort, a search). Long tasks are wall-clock: a loaded machine stretches them.

    .venv/bin/python benchmarks/bench_dashboard.py [--runs 3] [--only map,queue,jobs] [--jobs 100000]
      [--pending 10000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "web"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from fake_api import BASE_URL, CLUSTER_10K, ORGS, FakeApi, occupied_cluster  # noqa: E402
from server_proc import ServerProcess  # noqa: E402
from webutil import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

from gpucloud.model.cluster_file import load_cluster  # noqa: E402
from gpucloud.service.auth import ensure_operator  # noqa: E402
from gpucloud.service.jobs import set_queue_info  # noqa: E402
from gpucloud.service.store import tenants  # noqa: E402
from gpucloud.service.store.engine import make_engine, make_sessionmaker  # noqa: E402
from gpucloud.service.store.migrate import upgrade_engine  # noqa: E402
from gpucloud.service.store.models import JobRow, NodeStateRow, ProjectRow  # noqa: E402

LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__longTasks.push([e.startTime, e.duration]);
}).observe({ type: 'longtask', buffered: true });
"""
T0 = 1_700_000_000.0
STATES = ["succeeded"] * 7 + ["failed", "cancelled", "timed_out"]


def bench_map(browser: Any, runs: int) -> None:
    doc, jobs = occupied_cluster()
    api = FakeApi(doc, jobs)
    render, nav, draw = [], [], []
    for run in range(runs):
        ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
        page = ctx.new_page()
        api.install(page)
        page.add_init_script("localStorage.setItem('gpucloud.token', 'gpc_fake')")
        page.goto(f"{BASE_URL}/#/map")
        page.wait_for_selector("#cluster-map[data-cells]", timeout=30_000)
        first = page.evaluate("() => window.__gpucloudMapFirstRender")
        assert first["cells"] == doc["total_gpus"], first
        render.append(first["ms"])
        nav.append(first["sinceNavigationMs"])
        draw.append(first["drawMs"])
        print(f"map run {run + 1}: first render {first['ms']:.0f} ms (cluster request → drawn), "
              f"{first['sinceNavigationMs']:.0f} ms since navigation; layout + drawing {first['drawMs']:.0f} ms")
        ctx.close()
    print(f"10,240-GPU map, fully occupied: median first render {statistics.median(render):.0f} ms "
          f"(max {max(render):.0f}); layout + drawing {statistics.median(draw):.0f} ms; "
          f"since navigation {statistics.median(nav):.0f} ms")


def seed(data_dir: Path, total: int, pending: int) -> str:
    """A database with ``total`` jobs of 8 orgs on the 10k cluster, ``pending`` of them waiting, every node down;
    the operator's token."""
    engine = make_engine(f"sqlite:///{data_dir / 'gpucloud.db'}")
    upgrade_engine(engine)
    sessions = make_sessionmaker(engine)
    cluster = load_cluster(CLUSTER_10K)
    started = time.perf_counter()
    with sessions.begin() as s:
        token = ensure_operator(s, T0)
        assert token is not None
        people = []
        for name in ORGS:
            org = tenants.create_org(s, name, 1.0, T0)
            project = s.scalar(select(ProjectRow).where(ProjectRow.org_id == org.id))
            assert project is not None
            for u in range(3):
                user = tenants.create_user(s, f"{name}-user{u}", "member", org, T0)
                people.append((org.id, project.id, user.id))
        s.execute(insert(NodeStateRow), [{"node": n.name, "state": "down", "reason": "benchmark: nothing may start",
                                          "at": T0, "by_user": "admin"} for n in cluster.nodes])
    gpu_types = sorted(cluster.gpu_types)
    done = total - pending
    with sessions.begin() as s:
        rows = []
        for i in range(total):
            org_id, project_id, user_id = people[i % len(people)]
            waiting = i >= done
            at = T0 + i * 30.0
            state = "pending" if waiting else STATES[i % len(STATES)]
            gpus = (1, 2, 4, 8, 16, 64)[i % 6]
            rows.append({
                "org_id": org_id, "project_id": project_id, "user_id": user_id, "name": f"job-{i:06d}",
                "argv": ["python", "train.py", f"--seed={i}"], "env": {}, "cwd": "", "num_gpus": gpus,
                "nodes": None, "gpu_type": gpu_types[i % len(gpu_types)], "walltime_s": 3600.0,
                "priority": 0, "priority_class": "normal", "preemptible": True, "grace_s": 10.0, "state": state,
                "reason": "no fitting nodes" if waiting else f"exit code {0 if state == 'succeeded' else 1}",
                "cancel_requested": False, "submitted_at": at, "queued_at": at,
                "started_at": None if waiting else at + 60, "ended_at": None if waiting else at + 1860,
                "exit_code": None if waiting else 0, "placement": None, "assigned_gpu_type": None, "handle": None,
                "run_count": 0 if waiting else 1, "preemptions": 0, "attained_gpu_s": 0.0, "queue_rank": None,
                "idempotency_key": None, "service_class": "standard", "reservation_id": None, "row_version": 1,
            })
            if len(rows) == 10_000:
                s.execute(insert(JobRow), rows)
                rows = []
        if rows:
            s.execute(insert(JobRow), rows)
    with sessions.begin() as s:
        waiting_ids = list(s.scalars(select(JobRow.id).where(JobRow.state == "pending").order_by(JobRow.id)))
        set_queue_info(s, dict.fromkeys(waiting_ids, "no fitting nodes"), waiting_ids)
    engine.dispose()
    print(f"seeded {total:,} jobs ({pending:,} waiting) in {time.perf_counter() - started:.1f} s")
    return token


def measure_page(browser: Any, url: str, token: str, name: str, refreshes: int) -> dict[str, float]:
    """Open ``#/name``; ms from navigation start to the first drawing, the API call's time, the long tasks of the
    first load, and the longest task during ``refreshes`` refreshes after it."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = ctx.new_page()
        page.add_init_script(f"localStorage.setItem('gpucloud.token', '{token}');" + LONG_TASKS)
        page.goto(f"{url}/#/{name}")
        page.wait_for_function(f"() => performance.getEntriesByName('{name}-drawn').length >= 1", timeout=60_000)
        first = page.evaluate(f"""() => {{
            const drawn = performance.getEntriesByName('{name}-drawn')[0].startTime;
            const call = performance.getEntriesByType('resource').find((e) => e.name.includes('/api/v1/{name}?'));
            return {{ drawn, api: call ? call.duration : NaN,
              rows: document.querySelectorAll('#{name} tbody tr').length,
              total: Number(document.querySelector('#{name} table')?.dataset.total),
              tasks: window.__longTasks.filter(([s]) => s <= drawn).map(([, d]) => d) }}; }}""")
        page.wait_for_function(f"(n) => performance.getEntriesByName('{name}-drawn').length >= n",
                               arg=1 + refreshes, timeout=60_000)
        later = page.evaluate(f"""() => {{
            const marks = performance.getEntriesByName('{name}-drawn');
            const from = marks[0].startTime;
            return {{ tasks: window.__longTasks.filter(([s]) => s > from).map(([, d]) => d),
              draws: marks.length,
              drawMs: performance.getEntriesByName('{name}-draw').slice(1).map((e) => e.duration) }}; }}""")
        return {"first": first["drawn"], "api": first["api"], "rows": first["rows"], "total": first["total"],
                "first_long": max(first["tasks"], default=0.0), "refresh_long": max(later["tasks"], default=0.0),
                "refresh_count": len(later["tasks"]), "draws": later["draws"],
                "draw_ms": max(later["drawMs"], default=0.0)}
    finally:
        ctx.close()


def api_times(url: str, token: str, total: int) -> None:
    queries = {
        "queue, first page": "/queue?sort=position&offset=0&limit=50",
        "queue, last page": f"/queue?sort=position&offset={total // 10 - 50}&limit=50",
        "queue, by GPUs": "/queue?sort=-gpus&offset=0&limit=50",
        "jobs, first page": "/jobs?sort=-id&offset=0&limit=50",
        "jobs, last page": f"/jobs?sort=-id&offset={total - 50}&limit=50",
        "jobs, sorted by name": "/jobs?sort=name&offset=0&limit=50",
        "jobs, search by name": "/jobs?q=9999&sort=-id&offset=0&limit=50",
        "jobs, one state": "/jobs?state=failed&sort=-submitted&offset=0&limit=50",
    }
    with httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        for label, path in queries.items():
            c.get(path).raise_for_status()
            times = []
            for _ in range(5):
                t = time.perf_counter()
                r = c.get(path)
                times.append((time.perf_counter() - t) * 1000)
                r.raise_for_status()
            print(f"  API {label:<22} {statistics.median(times):6.1f} ms median of 5 ({len(r.content):,} bytes)")


def bench_lists(browser: Any, runs: int, total: int, pending: int, only: set[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        token = seed(data, total, pending)
        srv = ServerProcess(data, str(CLUSTER_10K), tick=0.5)
        srv.start()
        srv.token = token
        try:
            api_times(srv.url, token, total)
            for name in ("queue", "jobs"):
                if name not in only:
                    continue
                results = [measure_page(browser, srv.url, token, name, refreshes=3) for _ in range(runs)]
                for i, r in enumerate(results, 1):
                    print(f"{name} run {i}: first render {r['first']:.0f} ms since navigation (API call "
                          f"{r['api']:.0f} ms), {r['rows']:.0f} rows of {r['total']:,.0f}; longest task: first load "
                          f"{r['first_long']:.0f} ms, {r['draws'] - 1:.0f} refreshes {r['refresh_long']:.0f} ms "
                          f"({r['refresh_count']:.0f} over 50 ms); a refresh's drawing at most {r['draw_ms']:.1f} ms")
                what = f"{pending:,} waiting jobs" if name == "queue" else f"{total:,} jobs"
                print(f"{name} page, {what}: median first render "
                      f"{statistics.median(r['first'] for r in results):.0f} ms (max "
                      f"{max(r['first'] for r in results):.0f}); longest task during refreshes "
                      f"{max(r['refresh_long'] for r in results):.0f} ms; tasks over 50 ms during refreshes: "
                      f"{sum(r['refresh_count'] for r in results):.0f} in {len(results)} runs; a refresh's drawing: "
                      f"median {statistics.median(r['draw_ms'] for r in results):.1f} ms of the runs' longest")
        finally:
            srv.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="map,queue,jobs")
    ap.add_argument("--jobs", type=int, default=100_000)
    ap.add_argument("--pending", type=int, default=10_000)
    args = ap.parse_args()
    only = set(args.only.split(","))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        if "map" in only:
            bench_map(browser, args.runs)
        if only & {"queue", "jobs"}:
            bench_lists(browser, args.runs, args.jobs, args.pending, only)
        browser.close()


if __name__ == "__main__":
    main()
