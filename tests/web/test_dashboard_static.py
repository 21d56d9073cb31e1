"""The dashboard is served by the API app itself (no browser needed): / is the page, /static/ its files, and every
static file is package data."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from gpucloud.web import STATIC_DIR, mount_dashboard

ROOT = Path(__file__).resolve().parents[2]


def test_index_and_static_files_are_served() -> None:
    app = FastAPI()
    mount_dashboard(app)
    client = TestClient(app)
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/app.js">' in r.text
    for name in ("app.js", "map.js", "i18n/en.js", "i18n/ja.js", "style.css"):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200, name
        assert r.headers["cache-control"] == "no-cache"
    assert "javascript" in client.get("/static/app.js").headers["content-type"]
    assert client.get("/static/nope.js").status_code == 404


def test_every_static_file_is_package_data() -> None:
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["gpucloud"]
    pkg = STATIC_DIR.parent.parent
    for f in STATIC_DIR.rglob("*"):
        if f.is_file():
            rel = f.relative_to(pkg).as_posix()
            assert any(fnmatch.fnmatch(rel, g) for g in globs), f"{rel} is not in package-data"
