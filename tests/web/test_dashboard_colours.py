"""Org colours on the 10,240-GPU example map (eight orgs, served by tests/web/fake_api.py): every org's colour is
far from every other's (CIE76 ΔE ≥ 30, no two near-identical greens) and from the map's fixed colours, and the
cells are drawn in the legend's colour. (The same org's colour on the usage charts: test_dashboard_usage.py.)"""

from __future__ import annotations

import itertools
import math
from typing import Any

from fake_api import BASE_URL, FakeApi, occupied_cluster
from webutil import canvas_pixel

FIXED = ["#e5e7eb", "#64748b", "#1f2937", "#fde68a"]  # idle, hidden, down, reserved


def _lab(colour: str) -> tuple[float, float, float]:
    """CIE L*a*b* of an sRGB colour (#rrggbb or rgb(r, g, b)), D65."""
    if colour.startswith("rgb"):
        rgb = [int(v) / 255 for v in colour[colour.index("(") + 1:colour.index(")")].split(",")[:3]]
    else:
        rgb = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    x = (0.4124 * lin[0] + 0.3576 * lin[1] + 0.1805 * lin[2]) / 0.95047
    y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    z = (0.0193 * lin[0] + 0.1192 * lin[1] + 0.9505 * lin[2]) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def _hex(css: str) -> str:
    nums = [int(v) for v in css[css.index("(") + 1:css.index(")")].split(",")[:3]]
    return "#" + "".join(f"{v:02x}" for v in nums)


def test_org_colours_are_far_apart_and_drawn_as_the_legend_says(browser: Any) -> None:
    doc, jobs = occupied_cluster()
    api = FakeApi(doc, jobs)
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
    try:
        page = ctx.new_page()
        api.install(page)
        page.add_init_script("localStorage.setItem('gpucloud.token', 'gpc_fake')")
        page.goto(f"{BASE_URL}/#/map")
        page.wait_for_selector("#cluster-map[data-cells]", timeout=30_000)
        swatches = {li.get_attribute("data-org"): li.locator(".swatch").evaluate(
            "el => getComputedStyle(el).backgroundColor") for li in page.locator("#legend li[data-org]").all()}
        assert len(swatches) == 8
        for (a, ca), (b, cb) in itertools.combinations(swatches.items(), 2):
            assert math.dist(_lab(ca), _lab(cb)) >= 30, (a, ca, b, cb)
        for org, colour in swatches.items():
            assert min(math.dist(_lab(colour), _lab(f)) for f in FIXED) >= 20, org
            job = next(j for j in jobs if j["org"] == org)
            node = job["placement"][0]["node"]
            c = page.evaluate("([n, g]) => window.__gpucloudMap.cellCenter(n, g)", [node, 0])
            assert canvas_pixel(page, c["x"], c["y"]) == _hex(colour), org
    finally:
        ctx.close()
