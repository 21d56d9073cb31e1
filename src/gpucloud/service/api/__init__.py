"""The REST API (FastAPI): :func:`create_app` builds it; routers live in ``routers/``, bodies in ``schemas``."""

from gpucloud.service.api.app import API_PREFIX, create_app
from gpucloud.service.api.context import AppContext

__all__ = ["API_PREFIX", "AppContext", "create_app"]
