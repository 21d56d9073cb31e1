"""The SDK's exceptions and the one-line messages they carry.

Every failed call raises :class:`ApiError`: ``status`` is the HTTP status (0 when no answer came), ``detail`` the
server's ``detail`` (for a 422, the list of field errors), and the message one line in the server's words — a 422
names each field and the value, 401/403/404/409 say what happened, and a server that cannot be reached is named by
its URL. The CLI prints that line as it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from gpucloud.errors import GpucloudError

_STATUS_WORDS = {
    400: "bad request",
    401: "not authenticated",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    409: "conflict",
    413: "too large",
}


class ApiError(GpucloudError):
    """A call that failed: ``status`` is the HTTP status (0: no answer); ``detail`` what the server said."""

    def __init__(self, message: str, status: int = 0, detail: object = None) -> None:
        self.status = status
        self.detail = detail
        super().__init__(message)


class NotLoggedIn(GpucloudError):
    """No token was given, and none is in the environment or the config file."""


class WaitTimeout(GpucloudError, TimeoutError):
    """:meth:`~gpucloud.sdk.client.Client.wait` gave up before the job ended; ``job`` is how it was last seen."""

    def __init__(self, message: str, job: object) -> None:
        self.job = job
        super().__init__(message)


def _shown(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe_validation(detail: object) -> str:
    """``walltime: must be ... (got '-5')``; several field errors are joined with ``; ``."""
    if not isinstance(detail, list):
        return str(detail)
    parts = []
    for item in detail:
        if not isinstance(item, Mapping):
            parts.append(str(item))
            continue
        field = item.get("field") or ".".join(str(p) for p in item.get("loc", ())) or "input"
        text = f"{field}: {item.get('message') or item.get('msg') or 'invalid'}"
        if item.get("value") is not None:
            text += f" (got {_shown(item['value'])})"
        parts.append(text)
    return "; ".join(parts) or "invalid input"


def error_for(status: int, reason: str, body: bytes, url: str) -> ApiError:
    """The :class:`ApiError` for a non-2xx answer to a request for ``url``."""
    try:
        decoded = json.loads(body)
        detail: object = decoded.get("detail") if isinstance(decoded, dict) else None
    except ValueError:
        detail = None
    if status == 422:
        return ApiError(f"invalid input: {describe_validation(detail)}", status, detail)
    text = " ".join(str(detail).split()) if detail else reason
    if status == 401:
        return ApiError(f"not authenticated: {text} (log in again with gpucloud login)", status, detail)
    word = _STATUS_WORDS.get(status)
    if word is not None:
        return ApiError(text if word in text.lower() else f"{word}: {text}", status, detail)
    return ApiError(f"server error {status} at {url}: {text}", status, detail)
