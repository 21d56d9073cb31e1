"""The server's side of the launcher process (:mod:`.launcherd`): start it when first needed, hand it one rank to
start, read the keeper's report, and start a new launcher when the old one has died or hangs.

Why a launcher: exec'ing a bash wrapper per rank from the server cost 2.5–5 ms of CPU on a 2-core machine. The
launcher is a small Python process started once; it forks a keeper per rank (with the command's ``posix_spawn``,
about 1–2 ms) and goes back to reading requests, while the keeper reports straight to the server.

A request carries the write end of a fresh pipe; the caller reads ``"<keeper pid> <command pid>\\n"`` from its
read end (or why the rank cannot start). Nothing is lost when the launcher dies: keepers do not depend on it, and a
request it had not yet forked simply gets no report (its pipe is closed with the launcher), so ``start`` says the
rank did not start.
A request whose send failed (the launcher was already gone) is sent again to a new launcher; that is safe,
because a launcher acts only on a request it received whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

from gpucloud.service.executors.base import LaunchError

SCRIPT = Path(__file__).with_name("launcherd.py")
_HEADER = struct.Struct("!I")


class Launcher:
    """One launcher process, started on first use and again whenever it is found dead; thread-safe."""

    def __init__(self, python: str | None = None, timeout_s: float = 10.0) -> None:
        self.python = python or sys.executable
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None

    @property
    def pid(self) -> int | None:
        """The launcher's pid, if one was started and has not been stopped (it may have died since)."""
        return self._proc.pid if self._proc is not None else None

    def start(self, request: dict[str, object]) -> tuple[int, int] | str:
        """Have a keeper start one rank: ``(keeper pid, command pid)``, or why it did not (``""`` when nobody said:
        the launcher died first). The command runs only if this call read the keeper's report: a report that
        comes after the timeout finds the pipe closed, and the keeper stops the command before it ran."""
        body = json.dumps(request).encode()
        read_fd, write_fd = os.pipe()
        try:
            try:
                self._send(_HEADER.pack(len(body)), body, write_fd)
            finally:
                os.close(write_fd)
            line, timed_out = _read_line(read_fd, self.timeout_s)
        finally:
            os.close(read_fd)
        keeper, _, command = line.partition(" ")
        if not timed_out and keeper.isdigit() and command.isdigit():
            return int(keeper), int(command)
        if timed_out:  # a hanging launcher is replaced at the next launch
            self.stop()
            return f"no answer from the launcher within {self.timeout_s:g}s"
        return line

    def stop(self) -> None:
        """Stop the launcher (it exits when its socket closes; killed if it does not). Keepers keep running."""
        with self._lock:
            self._stop_locked()

    def _send(self, head: bytes, body: bytes, fd: int) -> None:
        with self._lock:
            for attempt in (1, 2):
                sock = self._ensure_started()
                try:
                    socket.send_fds(sock, [head], [fd])
                    sock.sendall(body)
                    return
                except OSError as e:  # gone (EPIPE) or hanging (timeout): it never got the whole request
                    self._stop_locked()
                    if attempt == 2:
                        raise LaunchError(f"the launcher process does not take requests: {e}") from None

    def _ensure_started(self) -> socket.socket:
        if self._sock is not None and self._proc is not None and self._proc.poll() is None:
            return self._sock
        self._stop_locked()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._proc = subprocess.Popen(
                [self.python, "-I", "-S", str(SCRIPT), str(theirs.fileno())],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        except OSError as e:
            ours.close()
            raise LaunchError(f"cannot start the launcher process {self.python}: {e.strerror or e}") from None
        finally:
            theirs.close()
        ours.settimeout(self.timeout_s)
        self._sock = ours
        return ours

    def _stop_locked(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.wait(1.0)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGKILL)
            proc.wait()


def _read_line(fd: int, timeout_s: float) -> tuple[str, bool]:
    """The first line from ``fd`` (up to a newline or EOF) and whether ``timeout_s`` passed first (then the line
    is whatever came, possibly incomplete)."""
    deadline = time.monotonic() + timeout_s
    buf = b""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            return buf.decode("utf-8", errors="replace").strip(), True
        chunk = os.read(fd, 256)
        if not chunk:
            break
        buf += chunk
    return buf.partition(b"\n")[0].decode("utf-8", errors="replace").strip(), False
