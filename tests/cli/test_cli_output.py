"""How tables come out: into a pipe or a file every row is one line however long (nothing cut, no colour); on a
terminal (a real pseudo-terminal here) they are coloured and fitted to its width, long cells cut with …"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios

from cli_world import Cli, submit

from gpucloud.cli.output import Text, fit, table_lines, width_of

ANSI = re.compile(r"\x1b\[[0-9;]*m")
LONG_NAME = "a-rather-long-experiment-name-" * 4  # 120 characters


def gpucloud(cli: Cli, user: str, *args: str, tty_columns: int | None = None) -> str:
    """``gpucloud ARGS`` as a real process, its stdout a pipe or (with ``tty_columns``) a pseudo-terminal."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR", "TERM")}
    env.update(GPUCLOUD_URL=cli.server.url, GPUCLOUD_TOKEN=cli.tokens[user], GPUCLOUD_CONFIG=str(cli.config),
               TERM="xterm")
    cmd = [sys.executable, "-m", "gpucloud", *args]
    if tty_columns is None:
        return subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, timeout=30).stdout
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, tty_columns, 0, 0))
    proc = subprocess.Popen(cmd, env=env, stdout=follower, stderr=subprocess.DEVNULL)
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    assert proc.wait(30) == 0
    return out.decode().replace("\r\n", "\n")


def test_piped_rows_are_never_wrapped_or_cut(world: Cli) -> None:
    job = submit(world, "alice", "--name", LONG_NAME, "--", "sleep", "1")
    out = gpucloud(world, "alice", "jobs")
    lines = out.splitlines()
    assert len(lines) == 2 and "\x1b[" not in out
    assert LONG_NAME in lines[1] and lines[1].split()[0] == str(job) and len(lines[1]) > 150
    assert lines[0].split() == ["ID", "NAME", "STATE", "ORG", "USER", "GPUS", "WALLTIME", "SUBMITTED", "COMMAND",
                                "REASON"]
    assert lines[1].index("pending") == lines[0].index("STATE")  # aligned under its header


def test_a_terminal_gets_colour_and_rows_fitted_to_its_width(world: Cli) -> None:
    submit(world, "alice", "--name", LONG_NAME, "--", "sleep", "1")
    out = gpucloud(world, "alice", "jobs", tty_columns=80)
    assert "\x1b[33mpending\x1b[0m" in out  # the state in its colour
    lines = [ANSI.sub("", line) for line in out.splitlines()]
    assert len(lines) == 2 and all(width_of(line) <= 80 for line in lines)
    assert "…" in lines[1] and LONG_NAME not in lines[1]
    wide = [ANSI.sub("", line) for line in gpucloud(world, "alice", "jobs", tty_columns=300).splitlines()]
    assert LONG_NAME in wide[1]


def test_fit_narrows_the_widest_columns_first() -> None:
    assert fit([4, 30, 10], 80) == [4, 30, 10]
    assert fit([4, 30, 10], 30) == [4, 12, 10]
    assert fit([4, 6, 6], 5) == [4, 6, 6]  # never below the minimum: the terminal wraps what is left


def test_wide_characters_are_aligned() -> None:
    rows = [[Text("東京大学"), Text("1")], [Text("tokyo"), Text("2")]]
    lines = [line.plain for line in table_lines(("ORG", "N"), rows, None)]
    assert [width_of(line[: line.index(line.split()[-1])]) for line in lines] == [10, 10, 10]
