"""Exit notices: learn the moment a rank's keeper exits, so the control loop can poll at once instead of at its
next tick (0.5 s by default: for short jobs that idle wait, not the launching, limited the start rate).

Each keeper keeps the write end of its report pipe open until it exits (after writing the exit file). The server
keeps the read end in an ``epoll`` set watched by one daemon thread; end of file there calls ``callback`` (the
loop's ``wake``). It is only a hint: the exit file stays the record, and jobs re-attached after a restart, or
beyond ``limit`` watched pipes (each costs the server a file descriptor), are found by the loop's tick as before.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
from collections.abc import Callable


class ExitNotices:
    """Watches report pipes; calls ``callback`` (from its own thread) when one or more reach end of file."""

    def __init__(self, limit: int = 512) -> None:
        self.limit = limit
        self.callback: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._fds: set[int] = set()
        self._epoll: select.epoll | None = None
        self._stop_r = self._stop_w = -1

    def watch(self, fd: int) -> None:
        """Take ownership of ``fd`` (a report pipe's read end): watched if anyone listens and there is room,
        else closed."""
        with self._lock:
            if self.callback is None or len(self._fds) >= self.limit:
                os.close(fd)
                return
            if self._epoll is None:
                self._start()
            assert self._epoll is not None
            self._epoll.register(fd, select.EPOLLIN | select.EPOLLHUP)
            self._fds.add(fd)

    def close(self) -> None:
        """Stop watching (the thread ends); the pipes are closed, the keepers do not notice."""
        with self._lock:
            if self._stop_w >= 0:
                os.write(self._stop_w, b"x")

    def _start(self) -> None:
        self._epoll = select.epoll()
        self._stop_r, self._stop_w = os.pipe()
        self._epoll.register(self._stop_r, select.EPOLLIN)
        threading.Thread(target=self._run, args=(self._epoll, self._stop_r), name="gpucloud-exit-notices",
                         daemon=True).start()

    def _run(self, epoll: select.epoll, stop_r: int) -> None:
        while True:
            events = epoll.poll()
            ended = False
            with self._lock:
                for fd, _ in events:
                    if fd == stop_r:
                        self._shut_locked()
                        return
                    epoll.unregister(fd)
                    os.close(fd)
                    self._fds.discard(fd)
                    ended = True
                callback = self.callback
            if ended and callback is not None:
                with contextlib.suppress(Exception):
                    callback()

    def _shut_locked(self) -> None:
        for fd in (*self._fds, self._stop_r, self._stop_w):
            os.close(fd)
        self._fds.clear()
        if self._epoll is not None:
            self._epoll.close()
        self._epoll = None
        self._stop_r = self._stop_w = -1
