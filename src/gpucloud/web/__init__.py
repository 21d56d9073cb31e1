"""The dashboard: static HTML, JavaScript modules and CSS served by the API server itself (no Node, no build
step). :func:`mount_dashboard` serves ``index.html`` at ``/`` and the files under ``static/`` at ``/static/``;
the pages talk to ``/api/v1`` with the token the user logs in with (see docs/dashboard.md)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

STATIC_DIR = Path(__file__).with_name("static")

#: browsers revalidate every file (cheap 304s) so that a new server version is never mixed with cached modules
_NO_CACHE = {"Cache-Control": "no-cache"}


class _Static(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(_NO_CACHE)
        return response


def mount_dashboard(app: FastAPI) -> None:
    """Serve the dashboard from ``app``: ``GET /`` is the single page, ``/static/...`` its files."""
    index = STATIC_DIR / "index.html"

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(index, media_type="text/html; charset=utf-8", headers=_NO_CACHE)

    app.mount("/static", _Static(directory=STATIC_DIR), name="static")


__all__ = ["STATIC_DIR", "mount_dashboard"]
