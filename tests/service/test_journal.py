"""The launch journal: an intent file that gets the handle appended as one JSON line; old handle files still read."""

from __future__ import annotations

import json
from pathlib import Path

from gpucloud.service.control.journal import LaunchJournal, handle_to_json
from gpucloud.service.executors.base import Handle

HANDLE = Handle("local", "7", {"pid.0": 123, "start.0": 1.5, "log_dir": "/x"})


def test_nothing_journaled(tmp_path: Path) -> None:
    journal = LaunchJournal(tmp_path / "jobs" / "7", 1)
    assert not journal.intended()
    assert journal.read_handle() is None


def test_intent_then_handle_in_one_file(tmp_path: Path) -> None:
    journal = LaunchJournal(tmp_path / "jobs" / "7", 2)
    journal.write_intent()  # creates the job's directory too
    assert journal.intended() and journal.read_handle() is None
    journal.write_handle(HANDLE)
    assert journal.read_handle() == HANDLE
    assert sorted(p.name for p in journal.log_dir.iterdir()) == ["launch.2.intent"]
    assert LaunchJournal(journal.log_dir, 1).read_handle() is None  # another attempt


def test_a_handle_line_without_its_newline_was_not_written(tmp_path: Path) -> None:
    journal = LaunchJournal(tmp_path, 1)
    journal.intent.write_text(json.dumps(handle_to_json(HANDLE)))  # as if cut off
    assert journal.intended() and journal.read_handle() is None


def test_the_handle_file_of_an_earlier_server_is_read(tmp_path: Path) -> None:
    journal = LaunchJournal(tmp_path, 1)
    journal.write_intent()
    (tmp_path / "launch.1.handle.json").write_text(json.dumps(handle_to_json(HANDLE)))
    assert journal.read_handle() == HANDLE
