"""Helpers of the dashboard's browser tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SHOTS = ROOT / "test-artifacts" / "screenshots"
DOCS_IMG = ROOT / "docs" / "img"
VIEWPORT = {"width": 1280, "height": 800}



def login(page: Any, url: str, token: str) -> None:
    page.goto(f"{url}/#/login")
    page.fill("#token", token)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#cluster-map[data-cells]")


def shot(page: Any, name: str, docs: bool = False) -> Path:
    """Screenshot to test-artifacts/screenshots/NAME.png; with ``docs`` and GPUCLOUD_UPDATE_DOCS_IMAGES=1 in
    the environment also to docs/img/dashboard-NAME.png (the committed screenshots the docs show)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if docs and os.environ.get("GPUCLOUD_UPDATE_DOCS_IMAGES"):
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMG / f"dashboard-{name}.png")
    return path


def make_user(op: httpx.Client, name: str, org: str, role: str = "member") -> str:
    """Create ``name`` in ``org`` (creating the org if needed) and return a token of theirs."""
    r = op.post("/api/v1/orgs", json={"name": org})
    assert r.status_code in (201, 409), r.text
    r = op.post("/api/v1/users", json={"name": name, "role": role, "org": org})
    assert r.status_code == 201, r.text
    r = op.post("/api/v1/tokens", json={"user": name, "description": "web test"})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def submit(token: str, url: str, **body: Any) -> dict[str, Any]:
    r = httpx.post(f"{url}/api/v1/jobs", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 201, r.text
    return dict(r.json())


def canvas_pixel(page: Any, x: float, y: float, canvas: str = "cluster-map") -> str:
    """The colour drawn on a canvas at CSS pixel (x, y), as #rrggbb."""
    return str(page.evaluate("""([id, x, y]) => {
        const c = document.getElementById(id), k = c.width / c.clientWidth;
        const d = c.getContext('2d').getImageData(Math.floor(x * k), Math.floor(y * k), 1, 1).data;
        return '#' + [d[0], d[1], d[2]].map((v) => v.toString(16).padStart(2, '0')).join('');
    }""", [canvas, x, y]))
