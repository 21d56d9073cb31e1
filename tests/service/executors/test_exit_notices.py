"""Exit notices: end of file on a watched pipe calls the callback; beyond the limit pipes are closed, not watched."""

from __future__ import annotations

import os
import threading

import pytest

from gpucloud.service.executors.exits import ExitNotices


def is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_end_of_file_calls_back_and_the_limit_is_kept() -> None:
    notices = ExitNotices(limit=1)
    calls = threading.Semaphore(0)
    notices.callback = calls.release
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    try:
        notices.watch(r1)
        notices.watch(r2)  # over the limit: closed at once
        assert not is_open(r2)
        assert not calls.acquire(timeout=0.1)
        os.close(w1)  # the "keeper" exits
        assert calls.acquire(timeout=5)
        r3, w3 = os.pipe()
        notices.watch(r3)  # room again
        os.close(w3)
        assert calls.acquire(timeout=5)
    finally:
        notices.close()
        os.close(w2)


def test_without_a_listener_pipes_are_just_closed() -> None:
    notices = ExitNotices()
    r, w = os.pipe()
    notices.watch(r)
    assert not is_open(r)
    os.close(w)


@pytest.mark.parametrize("keep", [True, False])
def test_close_stops_watching(keep: bool) -> None:
    notices = ExitNotices()
    notices.callback = lambda: None
    r, w = os.pipe()
    notices.watch(r)
    notices.close()
    for _ in range(500):
        if not is_open(r):
            break
        threading.Event().wait(0.01)
    assert not is_open(r)
    if keep:  # a later watch starts a new thread
        r2, w2 = os.pipe()
        notices.watch(r2)
        assert is_open(r2)
        notices.close()
        os.close(w2)
    os.close(w)
