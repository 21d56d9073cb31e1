"""The CLI's HTTP client of the REST API and its stored configuration (server URL and token).

The config file is ``$GPUCLOUD_CONFIG`` or ``~/.config/gpucloud/config.json`` (``$XDG_CONFIG_HOME`` is
honoured), written with mode 0600. ``GPUCLOUD_URL`` and ``GPUCLOUD_TOKEN`` override what it holds.

Every failure becomes an :class:`ApiError` (a :class:`~gpucloud.errors.GpucloudError`), whose message is the
one line the CLI prints: 422s name the field, 401/403/404/409 say so plainly, and a server that cannot be
reached is named by its URL.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from gpucloud.errors import GpucloudError

DEFAULT_URL = "http://127.0.0.1:8080"
API_PREFIX = "/api/v1"
TIMEOUT_S = 30.0

#: Failures after which a request with an idempotency key may safely be sent again.
_RETRYABLE = (httpx.ConnectError, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadTimeout)

_STATUS_WORDS = {
    400: "bad request",
    401: "not authenticated",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    409: "conflict",
}


class ApiError(GpucloudError):
    """A request that failed: the message is one line for the user; ``status`` is the HTTP status (0: none)."""

    def __init__(self, message: str, status: int = 0) -> None:
        self.status = status
        super().__init__(message)


class NotLoggedIn(GpucloudError):
    """No token in the environment or the config file."""


# --- stored configuration ------------------------------------------------------------------------------------


def config_path() -> Path:
    """Where the config lives: ``$GPUCLOUD_CONFIG``, else ``$XDG_CONFIG_HOME`` or ``~/.config`` / gpucloud."""
    explicit = os.environ.get("GPUCLOUD_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "gpucloud" / "config.json"


@dataclass(frozen=True, slots=True)
class Config:
    """Where the server is and which token to send."""

    url: str
    token: str | None


def read_config_file(path: Path | None = None) -> dict[str, str]:
    """The stored ``{"url", "token"}`` (empty when there is no file); a corrupt file is an error naming it."""
    path = path or config_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise GpucloudError(f"{path}: cannot read the config file ({exc}); run gpucloud login again") from None
    if not isinstance(data, dict):
        raise GpucloudError(f"{path}: the config file is not a JSON object; run gpucloud login again")
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str)}


def write_config_file(url: str, token: str, path: Path | None = None) -> Path:
    """Store ``url`` and ``token`` atomically, readable by the owner only (0600). Returns the path."""
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"url": url, "token": token}, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    os.chmod(path, 0o600)
    return path


def load_config() -> Config:
    """The config file overridden by ``GPUCLOUD_URL`` / ``GPUCLOUD_TOKEN``."""
    stored = read_config_file()
    url = os.environ.get("GPUCLOUD_URL") or stored.get("url") or DEFAULT_URL
    token = os.environ.get("GPUCLOUD_TOKEN") or stored.get("token") or None
    return Config(url=normalize_url(url), token=token)


def normalize_url(url: str) -> str:
    """``host:8080`` → ``http://host:8080``; no trailing slash."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    return url.rstrip("/")


# --- errors --------------------------------------------------------------------------------------------------


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


def error_for(response: httpx.Response) -> ApiError:
    """The :class:`ApiError` for a non-2xx response."""
    code = response.status_code
    try:
        detail: object = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if code == 422:
        return ApiError(f"invalid input: {describe_validation(detail)}", code)
    text = " ".join(str(detail).split()) if detail else response.reason_phrase
    if code == 401:
        return ApiError(f"not authenticated: {text} (log in again with gpucloud login)", code)
    word = _STATUS_WORDS.get(code)
    if word is not None:
        return ApiError(text if word in text.lower() else f"{word}: {text}", code)
    return ApiError(f"server error {code} at {response.request.url}: {text}", code)


# --- the client ----------------------------------------------------------------------------------------------


class Client:
    """A thin JSON client of ``/api/v1``. Use as a context manager, or call :meth:`close`."""

    def __init__(self, url: str, token: str | None, *, timeout: float = TIMEOUT_S,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url = normalize_url(url)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # Loading the CA bundle costs ~0.1 s per command; a plain-http server never needs it (redirects are
        # not followed, so every request goes to this http URL).
        verify = self.url.startswith("https://")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport,
                                  verify=verify)

    @classmethod
    def from_config(cls, *, need_token: bool = True) -> Client:
        cfg = load_config()
        if need_token and not cfg.token:
            raise NotLoggedIn("not logged in: run gpucloud login --url URL --token TOKEN (or set GPUCLOUD_TOKEN)")
        return cls(cfg.url, cfg.token)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None,
                retries: int = 0) -> Any:
        """Send one API call and return its decoded JSON body (None for an empty one).

        ``path`` is relative to ``/api/v1`` (``/healthz`` excepted). A connection error is retried ``retries``
        times with the same body (so a retried submit keeps its idempotency key).
        """
        response = self._send(method, path, json=json, params=params, retries=retries)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ApiError(f"{self.url} did not answer with JSON (is it a gpucloud server?)") from None

    def get_text(self, path: str, **params: Any) -> str:
        """A GET whose answer is text (e.g. CSV), returned as is."""
        return self._send("GET", path, params=params).text

    def _send(self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None,
              retries: int = 0) -> httpx.Response:
        """Send one request; a non-2xx answer or a transport failure raises :class:`ApiError`."""
        full = path if path.startswith("/healthz") else API_PREFIX + path
        query = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        while True:
            try:
                response = self._http.request(method, full, json=json, params=query)
                break
            except httpx.TransportError as exc:
                if attempt < retries and isinstance(exc, _RETRYABLE):
                    attempt += 1
                    continue
                raise self._transport_error(exc) from None
        if response.is_error:
            raise error_for(response)
        return response

    def _transport_error(self, exc: httpx.TransportError) -> ApiError:
        if isinstance(exc, httpx.ConnectError):
            why = str(exc).split("]")[-1].strip() or "connection refused"
            return ApiError(f"cannot reach the gpucloud server at {self.url}: {why}")
        if isinstance(exc, httpx.TimeoutException):
            return ApiError(f"the gpucloud server at {self.url} did not answer in time")
        return ApiError(f"talking to the gpucloud server at {self.url} failed: {exc or type(exc).__name__}")

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None, *, retries: int = 0) -> Any:
        return self.request("POST", path, json=body, retries=retries)

    def put(self, path: str, body: Any = None) -> Any:
        return self.request("PUT", path, json=body)

    def patch(self, path: str, body: Any = None) -> Any:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)


def seg(name: object) -> str:
    """``name`` quoted for use as one path segment."""
    return quote(str(name), safe="")


def connect() -> Client:
    """A client for the configured server and token (raises :class:`NotLoggedIn` without a token)."""
    return Client.from_config()
