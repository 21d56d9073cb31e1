"""``login`` (check a token with the server and store it with the URL) and ``whoami``."""

from __future__ import annotations

import os

from gpucloud.cli.command import JSON, Arg, Group, Namespace
from gpucloud.cli.output import echo, print_json
from gpucloud.errors import InputError
from gpucloud.sdk.client import Client
from gpucloud.sdk.config import config_path, normalize_url, write_config_file

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from typing import Any

commands = Group()


def who(me: dict[str, Any]) -> str:
    """``alice (member, org alpha)``."""
    return f"{me['name']} ({me['role']}" + (f", org {me['org']})" if me.get("org") else ")")


@commands.command(
    "login",
    Arg("--url", help="The server, e.g. http://host:8080 (default: $GPUCLOUD_URL)."),
    Arg("--token", help="Your API token, gpc_... (default: $GPUCLOUD_TOKEN, else asked for without echo)."),
    JSON,
)
def login(a: Namespace) -> None:
    """Check the token against the server and store the URL and token in the config file (mode 0600)."""
    url = a.url or os.environ.get("GPUCLOUD_URL")
    if not url:
        raise InputError("--url", "give the server's URL, e.g. --url http://host:8080")
    token = a.token or os.environ.get("GPUCLOUD_TOKEN")
    if not token:
        import getpass

        token = getpass.getpass("Token: ").strip()
        if not token:
            raise InputError("--token", "give your API token (gpc_...)")
    url = normalize_url(url)
    with Client(url, token) as client:
        me = client.get("/me")
    path = write_config_file(url, token)
    if a.as_json:
        print_json({"url": url, "config": str(path), "me": me})
        return
    echo(f"logged in to {url} as {who(me)}; saved to {path}")


@commands.command("whoami", JSON)
def whoami(a: Namespace) -> None:
    """Show who the stored token belongs to, and at which server."""
    with Client() as client:
        me = client.get("/me")
        url = client.url
    if a.as_json:
        print_json(me)
        return
    echo(f"{who(me)} at {url} (config: {config_path()})")
