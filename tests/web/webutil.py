"""Helpers of the dashboard's browser tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

import os
import re
import shutil
from decimal import Decimal
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
PHONE = {"width": 390, "height": 844}
#: Words allowed inside Japanese text: units, names, file formats and key names that Japanese UIs write in Latin
#: letters.
ALLOWED_LATIN = re.compile(r"\b(GPU|API|ID|YAML|JSON|Tab|Enter|Esc|Page Up|Page Down|Up|Down)\b|gpc_")

# Visible text of the page outside data (elements marked data-raw: names, commands, server messages, the language
# names of the toggle), plus placeholders, titles and labels of controls.
VISIBLE_TEXT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || el.closest('[data-raw], script, style, noscript, [hidden]')) continue;
    if (!el.getClientRects().length && el.tagName !== 'OPTION') continue;
    out.push(n.textContent.trim());
  }
  for (const el of document.querySelectorAll('[placeholder], [title], [aria-label]')) {
    if (el.closest('[data-raw]')) continue;
    for (const a of ['placeholder', 'title', 'aria-label']) if (el.getAttribute(a)) out.push(el.getAttribute(a));
  }
  out.push(document.title.replace(/ · gpucloud$/, ''));
  return out;
}"""


def english_left(page: Any) -> list[str]:
    """Visible texts of a page in Japanese that still hold Latin letters (beyond the allowed words)."""
    return [s for s in page.evaluate(VISIBLE_TEXT) if re.search(r"[A-Za-z]", ALLOWED_LATIN.sub("", s))]


def no_english(page: Any, where: str) -> None:
    english = english_left(page)
    assert not english, f"English left on the {where} page in Japanese: {english}"


def fmt_points(text: str, digits: int | None = None) -> str:
    """What the page shows for points in English: ``digits`` decimals (default: 2 to 4, as few as show the value
    exactly), thousands separated."""
    value = Decimal(text)
    if digits is None:
        digits = points_digits([text])
    return f"{value:,.{digits}f}"


def points_digits(texts: list[str | None]) -> int:
    """The decimals (2 to 4) that show every one of these amounts exactly: one column, one number of decimals."""
    return min(4, max([2] + [len(t.split(".")[1].rstrip("0")) for t in texts if t and "." in t]))


def nav(page: Any, name: str) -> None:
    """Go to a page through the header (opening "More" for the pages under it)."""
    link = page.locator(f"header nav a[data-nav={name}]")
    if not link.is_visible():
        page.click("#nav-more > summary")
    link.click()
    page.locator(f"#page[data-page={name}]").wait_for()


def confirm(scope: Any, action: str) -> None:
    """Click the button of ``action`` (``data-action``) in ``scope``, then "yes" in its confirmation step."""
    scope.locator(f"[data-action={action}]").click()
    scope.locator("[data-confirm=yes]").click()


def overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than the window (0: it does not scroll sideways)."""
    return int(page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth"))



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
