"""The ``gpucloud`` command itself: every command has its help and ``--json``, usage errors and unknown commands
are one line with exit code 2, ``python -m gpucloud`` is the same command, and the commands that scripts call most
(``jobs``, ``queue``, ``submit``) import nothing heavy — no Typer, Rich, pydantic, httpx, SQLAlchemy, numpy."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from cli_world import Cli, run_gpucloud

from gpucloud.cli.entry import COMMANDS, TYPER_COMMANDS
from gpucloud.cli.entry import main as gpucloud_main

#: Modules a light command must not import (each costs more than the whole command should).
HEAVY = ("typer", "rich", "click", "pydantic", "httpx", "sqlalchemy", "fastapi", "numpy", "matplotlib", "yaml",
         "typing", "dataclasses", "gpucloud.sdk.models", "gpucloud.service", "gpucloud.core")


def every_command() -> list[list[str]]:
    from importlib import import_module

    from gpucloud.cli.command import Group

    out: list[list[str]] = []
    for word, module in COMMANDS.items():
        node = import_module(f"gpucloud.cli.{module}").commands.children[word]
        if isinstance(node, Group):
            out += [[word, sub] for sub in node.children]
            if node.fallback is not None:
                out.append([word])
        else:
            out.append([word])
    return out


@pytest.mark.parametrize("words", every_command(), ids=" ".join)
def test_every_command_has_help_and_json(words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        gpucloud_main([*words, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: gpucloud {' '.join(words)}") and "--json" in text


def test_overview_lists_every_command() -> None:
    result = run_gpucloud(["--help"], {})
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")]
    assert listed == [*COMMANDS, *TYPER_COMMANDS]
    bare = run_gpucloud([], {})
    assert bare.exit_code == 2 and bare.stdout == result.stdout


def test_groups_without_a_command_show_their_commands() -> None:
    result = run_gpucloud(["quota"], {})
    assert result.exit_code == 2 and "set" in result.stdout and "delete" in result.stdout


@pytest.mark.parametrize(("args", "words"), [
    (["nope"], ["no command 'nope'", "gpucloud --help"]),
    (["qeue"], ["did you mean 'queue'?"]),
    (["jobs", "--limit", "0"], ["--limit", "from 1 to 1000", "(got '0')", "gpucloud jobs --help"]),
    (["jobs", "--state", "sleeping"], ["--state", "invalid choice", "'sleeping'"]),
    (["job", "seven"], ["JOB", "whole number", "'seven'"]),
    (["jobs", "--bogus"], ["unrecognized arguments: --bogus"]),
    (["org", "create"], ["required: name", "gpucloud org create --help"]),
    (["org", "frobnicate"], ["COMMAND", "invalid choice", "'frobnicate'"]),
    (["logs", "1", "--poll", "0"], ["--poll", "at least 0.05"]),
    (["quota", "set", "a", "H100", "--guaranteed", "-1"], ["--guaranteed", "at least 0"]),
])
def test_usage_errors_are_one_line(args: list[str], words: list[str]) -> None:
    result = run_gpucloud(args, {"GPUCLOUD_URL": "http://127.0.0.1:9", "GPUCLOUD_TOKEN": "gpc_x"})
    lines = result.stderr.splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and not result.stdout
    for word in words:
        assert word in lines[0], lines[0]


def test_typer_commands_still_run_through_the_entry_point() -> None:
    result = subprocess.run([sys.executable, "-m", "gpucloud", "simulate", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and "--trace" in result.stdout
    bad = subprocess.run([sys.executable, "-m", "gpucloud", "server", "--port", "70000"], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: port")


@pytest.mark.parametrize("args", [["jobs"], ["queue"], ["submit", "--", "true"], ["job", "1"], ["whoami"]])
def test_hot_commands_import_nothing_heavy(world: Cli, args: list[str]) -> None:
    submit = run_gpucloud(["submit", "--", "true"], {"GPUCLOUD_URL": world.server.url,
                                                     "GPUCLOUD_TOKEN": world.tokens["alice"]})
    assert submit.exit_code == 0
    probe = ("import sys\nfrom gpucloud.cli.entry import main\ncode = main(sys.argv[1:])\n"
             "import json; print(json.dumps([code, sorted(sys.modules)]), file=sys.stderr)\n")
    env = {**os.environ, "GPUCLOUD_URL": world.server.url, "GPUCLOUD_TOKEN": world.tokens["alice"]}
    out = subprocess.run([sys.executable, "-c", probe, *args], env=env, capture_output=True, text=True, timeout=30)
    code, modules = json.loads(out.stderr.strip().splitlines()[-1])
    assert code == 0, out.stderr
    loaded = [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert loaded == []
