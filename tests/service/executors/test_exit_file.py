"""The keeper's exit file: complete files only, exit codes and signals with readable reasons, the time."""

from __future__ import annotations

from pathlib import Path

from gpucloud.service.executors.base import ExitStatus
from gpucloud.service.executors.exitfile import read_exit_file, status_from_code


def test_exit_file_is_read_only_when_complete(tmp_path: Path) -> None:
    f = tmp_path / "exit.1.0"
    assert read_exit_file(f) is None
    f.write_text('{"code": 13, "at": 12.5, "started": true}')
    assert read_exit_file(f) is None  # still being written
    f.write_text('{"code": 13, "at": 12.5, "started": true}\n')
    assert read_exit_file(f) == (ExitStatus(13, "exit code 13", 12.5), True)
    f.write_text('{"code": 127, "at": 3.0, "started": false, "reason": "cannot run program \'x\'"}\n')
    assert read_exit_file(f) == (ExitStatus(127, "cannot run program 'x'", 3.0), False)
    f.write_text('{"code": 137, "at": 4.0, "lost": true, "reason": "killed: the node\'s agent is gone"}\n')
    assert read_exit_file(f) == (ExitStatus(137, "killed: the node's agent is gone", 4.0, lost=True), True)
    f.write_text("garbage\n")
    found = read_exit_file(f)
    assert found is not None and found[0].exit_code is None and "unreadable" in found[0].reason


def test_signals_are_named() -> None:
    assert status_from_code(0).ok
    assert status_from_code(143) == ExitStatus(143, "killed by signal 15 (SIGTERM)")
    assert status_from_code(137).reason == "killed by signal 9 (SIGKILL)"
    assert status_from_code(128).reason == "exit code 128"
    assert status_from_code(255).reason == "exit code 255"
