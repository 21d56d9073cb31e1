"""The keeper's exit file: complete files only, exit codes and signals with readable reasons."""

from __future__ import annotations

from pathlib import Path

from gpucloud.service.executors.base import ExitStatus
from gpucloud.service.executors.exitfile import read_exit_file, status_from_code


def test_exit_file_is_read_only_when_complete(tmp_path: Path) -> None:
    f = tmp_path / "exit.0"
    assert read_exit_file(f) is None
    f.write_text("13")
    assert read_exit_file(f) is None  # still being written
    f.write_text("13\n")
    assert read_exit_file(f) == ExitStatus(13, "exit code 13")
    f.write_text("126 cannot enter the working directory /gone\n")
    assert read_exit_file(f) == ExitStatus(126, "cannot enter the working directory /gone")
    f.write_text("garbage\n")
    status = read_exit_file(f)
    assert status is not None and status.exit_code is None and "unreadable" in status.reason


def test_signals_are_named() -> None:
    assert status_from_code(0).ok
    assert status_from_code(143) == ExitStatus(143, "killed by signal 15 (SIGTERM)")
    assert status_from_code(137).reason == "killed by signal 9 (SIGKILL)"
    assert status_from_code(128).reason == "exit code 128"
    assert status_from_code(255).reason == "exit code 255"
