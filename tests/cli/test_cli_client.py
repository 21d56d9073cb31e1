"""The HTTP client on its own: error lines, the retried submit with one idempotency key, config precedence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from gpucloud.cli import client as client_mod
from gpucloud.cli.client import ApiError, Client, describe_validation, load_config, write_config_file
from gpucloud.cli.main import app


def _client(handler: Any) -> Client:
    return Client("http://api.test", "gpc_t", transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(("status", "body", "expected"), [
    (422, {"detail": [{"field": "walltime", "message": "must be positive", "value": -5}]},
     "invalid input: walltime: must be positive (got -5)"),
    (401, {"detail": "unknown or revoked token"}, "not authenticated: unknown or revoked token"),
    (403, {"detail": "only operators may do this"}, "forbidden: only operators may do this"),
    (404, {"detail": "job 7 not found"}, "job 7 not found"),
    (409, {"detail": "org 'a' already exists"}, "conflict: org 'a' already exists"),
    (500, None, "server error 500"),
])
def test_error_lines(status: int, body: Any, expected: str) -> None:
    c = _client(lambda r: httpx.Response(status, json=body) if body else httpx.Response(status, text="boom"))
    with pytest.raises(ApiError) as info:
        c.get("/x")
    assert str(info.value).startswith(expected) and "\n" not in str(info.value)
    assert info.value.status == status


def test_several_field_errors_are_one_line() -> None:
    line = describe_validation([{"field": "a", "message": "bad"}, {"field": "b", "message": "worse", "value": "x"}])
    assert line == "a: bad; b: worse (got 'x')"


def test_submit_retries_once_with_the_same_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        if len(bodies) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(201, json={"id": 9, "created": True})

    monkeypatch.setattr("gpucloud.cli.jobs.connect", lambda: _client(handler))
    result = CliRunner().invoke(app, ["submit", "--", "true"], env={"GPUCLOUD_CONFIG": str(tmp_path / "c.json")})
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "9"
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    assert bodies[0]["idempotency_key"].startswith("cli-")


def test_command_without_double_dash(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(201, json={"id": 1, "created": True})

    monkeypatch.setattr("gpucloud.cli.jobs.connect", lambda: _client(handler))
    args = ["submit", "--gpus", "2", "python", "train.py", "--lr", "3", "--gpus", "4"]
    result = CliRunner().invoke(app, args, env={"GPUCLOUD_CONFIG": str(tmp_path / "c.json")})
    assert result.exit_code == 0, result.stderr
    assert bodies[0]["argv"] == ["python", "train.py", "--lr", "3", "--gpus", "4"] and bodies[0]["num_gpus"] == 2


def test_other_calls_do_not_retry() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ApiError, match=r"cannot reach the gpucloud server at http://api\.test"):
        _client(handler).get("/jobs")
    assert calls == [1]


def test_config_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "deep" / "config.json"
    monkeypatch.setenv("GPUCLOUD_CONFIG", str(path))
    monkeypatch.delenv("GPUCLOUD_URL", raising=False)
    monkeypatch.delenv("GPUCLOUD_TOKEN", raising=False)
    assert load_config() == client_mod.Config("http://127.0.0.1:8080", None)
    write_config_file("http://stored:1/", "gpc_stored")
    assert load_config() == client_mod.Config("http://stored:1/".rstrip("/"), "gpc_stored")
    monkeypatch.setenv("GPUCLOUD_URL", "other:2")
    monkeypatch.setenv("GPUCLOUD_TOKEN", "gpc_env")
    assert load_config() == client_mod.Config("http://other:2", "gpc_env")
    assert (path.stat().st_mode & 0o777) == 0o600


def test_default_config_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GPUCLOUD_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert client_mod.config_path() == tmp_path / "gpucloud" / "config.json"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert client_mod.config_path() == tmp_path / ".config" / "gpucloud" / "config.json"
