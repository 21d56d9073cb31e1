"""First render of the dashboard's cluster map at scale: the 10,240-GPU example cloud
(examples/clusters/gpu-cloud-10k.yaml) with every GPU held by one of 1,280 jobs of 8 orgs, in headless Chromium
(/usr/bin/chromium through Playwright). The API is answered inside the browser (tests/web/fake_api.py), so the
figure is the browser's work: fetch + parse of the 10,240-GPU document, layout and drawing on one <canvas>.

    .venv/bin/python benchmarks/bench_dashboard.py [--runs 5]

Prints, per run and as the median: ms from the map page asking for the cluster to the first full drawing, the
layout + drawing part of it, and ms from navigation start (module loading and /me included).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "web"))

from fake_api import BASE_URL, FakeApi, occupied_cluster  # noqa: E402
from webutil import CHROMIUM, CHROMIUM_ARGS  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    doc, jobs = occupied_cluster()
    api = FakeApi(doc, jobs)
    render, nav, draw = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for run in range(args.runs):
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
            print(f"run {run + 1}: first render {first['ms']:.0f} ms (cluster request → drawn), "
                  f"{first['sinceNavigationMs']:.0f} ms since navigation; layout + drawing {first['drawMs']:.0f} ms; "
                  f"{first['cells']} cells")
            ctx.close()
        browser.close()
    print(f"10,240-GPU map, fully occupied, headless Chromium: median first render {statistics.median(render):.0f} ms "
          f"(max {max(render):.0f}); layout + drawing {statistics.median(draw):.0f} ms; "
          f"since navigation {statistics.median(nav):.0f} ms")


if __name__ == "__main__":
    main()
