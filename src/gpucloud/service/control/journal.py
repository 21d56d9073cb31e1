"""The launch journal: one small file per launch attempt in the job's log directory, so that a server killed
between launching a job and committing its handle never launches it twice.

For attempt ``n`` (= the job's ``run_count + 1``) the loop, in this order:

1. creates ``launch.<n>.intent``, empty, before it asks the executor to launch;
2. appends the executor's :class:`Handle` to it as one line of JSON, with a single ``write()``, right after
   ``launch`` returns (a reader takes a line without its final newline as not written);
3. then commits ``running`` with the handle to the database.

(One file creation per launch: on ext4, creating files is most of the journal's cost. Servers before this wrote
the handle to ``launch.<n>.handle.json`` instead; :meth:`LaunchJournal.read_handle` still reads that.)

Recovery of an ``admitted`` job (see :mod:`.recovery`): no intent file → it was never launched, requeue it;
a handle file → the processes were started, re-attach with that handle; an intent without a handle → the
server died inside ``launch``: the job may have started, so it is failed rather than launched again.
The files live in the page cache, which survives ``kill -9`` of the server (not a crash of the machine).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gpucloud.service.executors.base import Handle


def handle_to_json(handle: Handle) -> dict[str, Any]:
    return {"executor": handle.executor, "job_id": handle.job_id, "data": dict(handle.data)}


def handle_from_json(data: Any) -> Handle | None:
    """The handle stored in ``jobs.handle`` (or a journal file); ``None`` if absent or malformed."""
    if not isinstance(data, dict):
        return None
    try:
        raw = data.get("data") or {}
        values = {str(k): v for k, v in raw.items() if isinstance(v, str | int | float)}
        return Handle(str(data["executor"]), str(data["job_id"]), values)
    except (KeyError, AttributeError, TypeError):
        return None


class LaunchJournal:
    """The journal files of one launch attempt of one job."""

    def __init__(self, log_dir: Path, attempt: int) -> None:
        self.log_dir = Path(log_dir)
        self.intent = self.log_dir / f"launch.{attempt}.intent"
        self.old_handle_file = self.log_dir / f"launch.{attempt}.handle.json"  # written by earlier servers

    def write_intent(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.intent, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.close(fd)

    def write_handle(self, handle: Handle) -> None:
        line = (json.dumps(handle_to_json(handle)) + "\n").encode()
        fd = os.open(self.intent, os.O_WRONLY | os.O_APPEND)
        try:
            if os.write(fd, line) != len(line):
                raise OSError(f"short write to {self.intent}")
        finally:
            os.close(fd)

    def intended(self) -> bool:
        return self.intent.exists()

    def read_handle(self) -> Handle | None:
        """The handle journaled for this attempt, or ``None`` if the launch did not get that far."""
        try:
            text = self.intent.read_text(encoding="utf-8")
        except OSError:
            text = ""
        line, newline, _ = text.partition("\n")
        try:
            if newline:
                return handle_from_json(json.loads(line))
            return handle_from_json(json.loads(self.old_handle_file.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None
