"""Exit watch: learn the moment a rank's keeper exits, so its end is read at once instead of by polling.

Each watched keeper gets a pidfd (``pidfd_open``: works for any process, not only children, so ranks re-attached
after a restart are watched too); one daemon thread waits on all of them with ``epoll``. A keeper exits right after
writing its rank's exit file, so a readable pidfd means "read that exit file now". Ranks beyond ``limit`` watched
pidfds (each costs a file descriptor) are not watched: the caller checks them on its own, less often.
"""

from __future__ import annotations

import contextlib
import os
import resource
import select
import threading
from collections.abc import Callable, Hashable

from gpucloud.service.executors import procs


def fd_budget(reserve: int = 1024) -> int:
    """How many descriptors the watch may use: the soft limit is raised to the hard one, minus ``reserve``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    return max(0, min(soft, 1 << 20) - reserve)


class ExitWatch:
    """Watches processes by pidfd; keys whose process ended are collected by :meth:`take`."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = fd_budget() if limit is None else limit
        self.callback: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._keys: dict[int, Hashable] = {}
        self._watched: set[Hashable] = set()
        self._ended: set[Hashable] = set()
        self._news = threading.Event()
        self._epoll: select.epoll | None = None
        self._thread: threading.Thread | None = None
        self._stop_r = self._stop_w = -1

    def watch(self, key: Hashable, pid: int, start: int) -> bool:
        """Watch process ``pid`` (started at ``start`` ticks) under ``key``; False if there is no room (the caller
        must check it itself). A process already gone counts as ended at once."""
        with self._lock:
            if key in self._watched:
                return True
            if len(self._keys) >= self.limit:
                return False
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                fd = -1
            if fd < 0 or procs.start_ticks(pid) != start:  # gone, or a reused pid: not ours
                if fd >= 0:
                    os.close(fd)
                self._watched.add(key)
                self._ended.add(key)
                self._news.set()
                return True
            if self._epoll is None:
                self._start()
            assert self._epoll is not None
            self._epoll.register(fd, select.EPOLLIN)
            self._keys[fd] = key
            self._watched.add(key)
            return True

    def watching(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._watched

    def wait(self, timeout_s: float) -> bool:
        """Wait until a watched process ended that :meth:`take` has not returned yet (True), or the timeout."""
        with self._lock:
            if self._ended:
                return True
            self._news.clear()
        return self._news.wait(timeout_s)

    def take(self) -> set[Hashable]:
        """The keys whose process ended since the last call (no longer watched)."""
        with self._lock:
            out, self._ended = self._ended, set()
            self._watched -= out
            return out

    def forget(self, keys: set[Hashable]) -> None:
        """Stop watching ``keys`` (their jobs are no longer of interest)."""
        with self._lock:
            for fd, key in list(self._keys.items()):
                if key in keys:
                    self._unregister(fd)
            self._watched -= keys
            self._ended -= keys

    def close(self) -> None:
        """Stop watching everything (the thread ends before this returns); the processes do not notice. A later
        :meth:`watch` starts over."""
        with self._lock:
            thread = self._thread
            if self._stop_w >= 0:
                os.write(self._stop_w, b"x")
        if thread is not None:
            thread.join()

    def _unregister(self, fd: int) -> None:
        del self._keys[fd]
        if self._epoll is not None:
            with contextlib.suppress(OSError):
                self._epoll.unregister(fd)
        os.close(fd)

    def _start(self) -> None:
        self._epoll = select.epoll()
        self._stop_r, self._stop_w = os.pipe()
        self._epoll.register(self._stop_r, select.EPOLLIN)
        self._thread = threading.Thread(target=self._run, args=(self._epoll, self._stop_r), name="gpucloud-exit-watch",
                                        daemon=True)
        self._thread.start()

    def _run(self, epoll: select.epoll, stop_r: int) -> None:
        while True:
            events = epoll.poll()
            ended = False
            with self._lock:
                for fd, _ in events:
                    if fd == stop_r:
                        self._shut_locked()
                        return
                    key = self._keys.get(fd)
                    if key is None:
                        continue
                    self._unregister(fd)
                    self._ended.add(key)
                    ended = True
                if ended:
                    self._news.set()
                callback = self.callback
            if ended and callback is not None:
                with contextlib.suppress(Exception):
                    callback()

    def _shut_locked(self) -> None:
        for fd in list(self._keys):
            self._unregister(fd)
        for fd in (self._stop_r, self._stop_w):
            os.close(fd)
        if self._epoll is not None:
            self._epoll.close()
        self._epoll = None
        self._thread = None
        self._stop_r = self._stop_w = -1
        self._watched.clear()
