"""Where the server is and which token to send: the config file, overridden by the environment.

The config file is ``$GPUCLOUD_CONFIG`` or ``~/.config/gpucloud/config.json`` (``$XDG_CONFIG_HOME`` is honoured),
written by ``gpucloud login`` with mode 0600. ``GPUCLOUD_URL`` and ``GPUCLOUD_TOKEN`` override what it holds.
"""

from __future__ import annotations

import json
import os

from gpucloud.errors import GpucloudError

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8080"


class Config:
    """The server's URL and the token to send (None: none configured)."""

    __slots__ = ("token", "url")

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url
        self.token = token

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Config) and (self.url, self.token) == (other.url, other.token)

    def __hash__(self) -> int:
        return hash((self.url, self.token))

    def __repr__(self) -> str:
        return f"Config(url={self.url!r}, token={'set' if self.token else None})"


def config_path() -> Path:
    """Where the config lives: ``$GPUCLOUD_CONFIG``, else ``$XDG_CONFIG_HOME`` or ``~/.config`` / gpucloud."""
    from pathlib import Path

    return Path(_config_file())


def _config_file() -> str:
    explicit = os.environ.get("GPUCLOUD_CONFIG")
    if explicit:
        return os.path.expanduser(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "gpucloud", "config.json")


def read_config_file(path: str | Path | None = None) -> dict[str, str]:
    """The stored ``{"url", "token"}`` (empty when there is no file); a corrupt file is an error naming it."""
    path = path or _config_file()
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise GpucloudError(f"{path}: cannot read the config file ({exc}); run gpucloud login again") from None
    if not isinstance(data, dict):
        raise GpucloudError(f"{path}: the config file is not a JSON object; run gpucloud login again")
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str)}


def write_config_file(url: str, token: str, path: Path | None = None) -> Path:
    """Store ``url`` and ``token`` atomically, readable by the owner only (0600). Returns the path."""
    import tempfile
    from pathlib import Path

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
    env_url = os.environ.get("GPUCLOUD_URL")
    env_token = os.environ.get("GPUCLOUD_TOKEN")
    stored = {} if env_url and env_token else read_config_file()
    url = env_url or stored.get("url") or DEFAULT_URL
    token = env_token or stored.get("token") or None
    return Config(url=normalize_url(url), token=token)


def normalize_url(url: str) -> str:
    """``host:8080`` → ``http://host:8080``; no trailing slash."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    return url.rstrip("/")
