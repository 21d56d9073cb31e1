"""The launcher process: a small, long-lived Python process that forks a *keeper* for each rank it is asked to start.

It runs outside the server (``python -I -S launcherd.py FD``, standard library only, nothing of gpucloud imported,
so it starts in ~20 ms and each fork copies little) and reads requests from the unix stream socket ``FD``: a
4-byte length, sent with one file descriptor attached (``SCM_RIGHTS``: the write end of the server's report pipe for
this rank), then that many bytes of JSON: ``program`` (the resolved path), ``argv``, ``env``, ``cwd``, ``stdout``,
``stderr``, ``exit``. It forks,
closes its copy of the pipe, and reads the next request. It exits when the server closes the socket (the server
ended, or killed it to restart it). Keepers are in sessions of their own and do not depend on it: they outlive it.
It ignores ``SIGCHLD``, so the kernel reaps its keepers (and, once it is gone, their new parent does).

A keeper does what the bash wrapper used to do, for a fraction of its CPU (a fork of this small process instead
of an exec of bash):

1. starts a new session (so it is in no group the server or the launcher signals) and makes ``/dev/null``
   and the rank's log files its stdin, stdout and stderr (it keeps no descriptor of the server or launcher);
2. enters the working directory; failing that it writes ``126 <reason>`` to the exit file and reports nothing;
3. starts the command with ``posix_spawn`` (a ``vfork``: this process is not copied) in a process group of its
   own (pgid = its pid), with every signal at its default disposition and none blocked; an exec that fails is
   reported to the server (``cannot execute ...``), which fails the launch;
4. reports ``"<keeper pid> <command pid>\\n"`` on the report pipe, and keeps the pipe open until it exits, so
   the server sees end of file the moment the rank has ended (:mod:`.exits`). If the server is no longer
   listening (it gave up on this launch), it kills the command's group instead and exits;
5. forwards SIGTERM, SIGINT, SIGHUP, SIGUSR1 and SIGUSR2 that it receives to the command's group;
6. waits for the command and writes its status as one ``write()`` of ``"<status>\\n"`` to the exit file:
   the exit code, or 128 + N when the command was killed by signal N (the shell's convention).
"""

from __future__ import annotations

import contextlib
import errno
import gc
import json
import os
import signal
import socket
import struct
import sys
from typing import Any

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
_HEADER = struct.Struct("!I")
_CATCHABLE = sorted(set(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP})


def main(sock_fd: int) -> None:
    sock = socket.socket(fileno=sock_fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the keepers
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a keeper whose server stopped listening must see EPIPE
    gc.freeze()  # forked keepers then never touch (and copy) these objects' pages
    while True:
        got = _receive(sock)
        if got is None:
            return
        request, report_fd = got
        if os.fork() == 0:
            code = 1
            try:
                code = _keep(request, report_fd, sock_fd)
            finally:
                os._exit(code)
        os.close(report_fd)


def _receive(sock: socket.socket) -> tuple[dict[str, Any], int] | None:
    """The next request and its report pipe, or None once the server has closed the socket."""
    try:
        head, fds, _, _ = socket.recv_fds(sock, _HEADER.size, 1)
    except ConnectionError:
        return None
    for fd in fds:
        os.set_inheritable(fd, False)  # never passed on to the command (recv_fds ignores MSG_CMSG_CLOEXEC)
    if len(head) < _HEADER.size or not fds:
        for fd in fds:
            os.close(fd)
        return None
    (size,) = _HEADER.unpack(head)
    body = bytearray()
    while len(body) < size:
        chunk = sock.recv(size - len(body))
        if not chunk:
            os.close(fds[0])
            return None
        body += chunk
    return json.loads(body), fds[0]


def _keep(request: dict[str, Any], report_fd: int, sock_fd: int) -> int:
    """The keeper of one rank (a forked child of the launcher); returns its exit status."""
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.close(sock_fd)
    try:
        _redirect(0, os.devnull, os.O_RDONLY)
        _redirect(1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        _redirect(2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    except OSError as e:
        os.write(report_fd, f"cannot open the log file {e.filename}: {e.strerror}\n".encode())
        return 1
    exit_file = request["exit"]
    try:
        os.chdir(request["cwd"])
    except OSError:
        _write_status(exit_file, f"126 cannot enter the working directory {request['cwd']}")
        return 126
    command = [0]

    def forward(sig: int, _frame: object) -> None:
        if command[0] > 0:
            with contextlib.suppress(OSError):
                os.killpg(command[0], sig)

    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)  # held until the command's pid is known
    for sig in FORWARDED:
        signal.signal(sig, forward)
    try:
        pid = _spawn(request["program"], request["argv"], request["env"])
    except OSError as e:
        os.write(report_fd, f"cannot execute {request['program']}: {e.strerror}\n".encode(errors="replace"))
        return 1
    command[0] = pid
    try:
        os.write(report_fd, f"{os.getpid()} {pid}\n".encode())  # kept open until this process exits
    except OSError:  # the server gave up on this launch: leave nothing behind
        os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return 1
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
    _, status = os.waitpid(pid, 0)  # retried after a forwarded signal (PEP 475)
    code = os.waitstatus_to_exitcode(status)
    _write_status(exit_file, str(code if code >= 0 else 128 - code))
    return 0


def _spawn(program: str, argv: list[str], env: dict[str, str]) -> int:
    """Start the command (``vfork`` + exec: no copy of this process) in a new process group, every signal at its
    default disposition and none blocked. A text file without ``#!`` (which the kernel refuses) runs under
    ``/bin/sh``, as ``execvp`` does; a binary it refuses is an error."""
    options: dict[str, Any] = {"setpgroup": 0, "setsigdef": _CATCHABLE, "setsigmask": ()}
    try:
        return os.posix_spawn(program, argv, env, **options)
    except OSError as e:
        if e.errno != errno.ENOEXEC:
            raise
        with open(program, "rb") as f:
            if b"\0" in f.read(256):
                raise
        return os.posix_spawn("/bin/sh", ["/bin/sh", program, *argv[1:]], env, **options)


def _redirect(fd: int, path: str, flags: int) -> None:
    opened = os.open(path, flags, 0o644)
    if opened != fd:
        os.dup2(opened, fd)
        os.close(opened)


def _write_status(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, f"{text}\n".encode())
    finally:
        os.close(fd)


if __name__ == "__main__":
    main(int(sys.argv[1]))
