"""Fixtures for the dashboard's browser tests: Debian's Chromium (/usr/bin/chromium) driven by Playwright's sync
API, a real ``gpucloud server`` subprocess (tests/e2e/server_proc.py), screenshots under
test-artifacts/screenshots/ (with GPUCLOUD_UPDATE_DOCS_IMAGES=1 the main ones also go to docs/img/).

Without Chromium or Playwright these tests skip, or fail when GPUCLOUD_REQUIRE_BROWSER=1 (set by .ci/run)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from server_proc import ServerProcess  # noqa: E402
from webutil import CHROMIUM, CHROMIUM_ARGS, VIEWPORT  # noqa: E402


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (.venv/bin/pip install -e '.[dev]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    why = browser_missing()
    if why is not None:
        if os.environ.get("GPUCLOUD_REQUIRE_BROWSER") == "1":
            pytest.fail(f"the dashboard's browser tests must run here (GPUCLOUD_REQUIRE_BROWSER=1) but {why}",
                        pytrace=False)
        pytest.skip(f"dashboard browser tests skipped: {why}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Pages in fresh browser contexts (own localStorage); fails the test on any uncaught page error."""
    contexts: list[Any] = []
    errors: list[str] = []

    def make(**kw: Any) -> Any:
        ctx = browser.new_context(viewport=kw.pop("viewport", VIEWPORT), locale=kw.pop("locale", "en-US"), **kw)
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(10_000)
        page.on("pageerror", lambda e: errors.append(str(e)))
        return page

    yield make
    for ctx in contexts:
        ctx.close()
    assert not errors, f"errors in the page: {errors}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[ServerProcess]:
    """A real server on a 2 × 4-GPU cluster with the local executor (one per test module)."""
    srv = ServerProcess(tmp_path_factory.mktemp("web") / "data", "2x4:H100", tick=0.1)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        srv.kill_job_processes()


@pytest.fixture
def op(server: ServerProcess) -> Iterator[httpx.Client]:
    """The operator's API client."""
    with server.client() as c:
        yield c
