"""The exit watch: a pidfd per watched process, a callback when one ends, a descriptor budget."""

from __future__ import annotations

import subprocess
import threading

from gpucloud.service.executors import procs
from gpucloud.service.executors.exits import ExitWatch


def test_the_end_of_a_watched_process_calls_back_and_is_taken_once() -> None:
    watch = ExitWatch(limit=8)
    ended = threading.Semaphore(0)
    watch.callback = ended.release
    proc = subprocess.Popen(["sleep", "30"])
    try:
        start = procs.start_ticks(proc.pid)
        assert start is not None and watch.watch("a", proc.pid, start)
        assert not ended.acquire(timeout=0.1) and watch.take() == set()
        proc.kill()
        assert ended.acquire(timeout=10)
        assert watch.take() == {"a"} and watch.take() == set()
    finally:
        proc.kill()
        proc.wait()
        watch.close()


def test_gone_and_reused_pids_count_as_ended_and_the_budget_is_kept() -> None:
    watch = ExitWatch(limit=1)
    first, second = subprocess.Popen(["sleep", "30"]), subprocess.Popen(["sleep", "30"])
    gone = subprocess.Popen(["true"])
    gone.wait()
    try:
        assert watch.watch("gone", gone.pid, 1)  # no such process any more: ended at once
        start = procs.start_ticks(first.pid)
        assert start is not None
        assert watch.watch("reused", first.pid, start + 1)  # another start time: not the process we started
        assert watch.take() == {"gone", "reused"}
        assert watch.watch("first", first.pid, start)
        second_start = procs.start_ticks(second.pid)
        assert second_start is not None and not watch.watch("second", second.pid, second_start)  # over budget
        watch.forget({"first"})
        assert watch.watch("second", second.pid, second_start)  # room again
    finally:
        for p in (first, second):
            p.kill()
            p.wait()
        watch.close()
