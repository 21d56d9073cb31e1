"""The launcher process: a small, long-lived Python process that forks a *keeper* for each rank it is asked to start.

It runs on the rank's host, outside the server (``python -I -S launcherd.py FD``, standard library only, nothing of
gpucloud imported but the two stdlib-only modules next to it, so it starts in ~20 ms and each fork copies little).
It reads requests from the unix stream socket ``FD``: a 4-byte length, sent with one file descriptor attached
(``SCM_RIGHTS``: the write end of the caller's report pipe for this rank), then that many bytes of JSON (see
:class:`gpucloud.service.executors.host.RankRequest` for the fields). It forks, closes its copy of the pipe and reads
the next request. It exits when the caller closes the socket. Keepers are in sessions of their own and do not depend
on it; it ignores ``SIGCHLD``, so the kernel reaps its keepers.

A keeper, for one rank:

1. starts a new session; looks up the job's OS account (``account``; none: the launcher's own); makes
   ``/dev/null`` and the rank's log files its stdin, stdout and stderr — files created for the account, mode 0600;
2. takes the host's *fence* (``fence``, an ``flock``-ed file holding the newest leader epoch seen): a request of an
   older epoch is refused (a stalled former leader can never launch); otherwise it creates the rank's *record*
   (``record``, with ``O_EXCL``: an attempt's rank is started at most once on a host) holding its own identity —
   a record whose command provably never ran (see :func:`_void_if_never_started`) is set aside first, so a launch
   that a restarted server requeues can be made again;
3. forks the command's process: a new process group (pgid = its pid), every signal at its default disposition and
   none blocked, the account's groups, gid and uid, its HOME/USER/LOGNAME, the working directory entered and the
   program resolved as that account would (:mod:`program`); a failure there is the launch's failure;
4. reports ``"<keeper pid> <command pid>\\n"`` on the report pipe, appends the command's identity to the record, and
   only then lets the command ``exec``: if nobody reads the pipe any more (the caller gave up, or died), the
   command is stopped before it ran anything and the exit file says it never started;
5. forwards SIGTERM, SIGINT, SIGHUP, SIGUSR1 and SIGUSR2 that it receives to the command's group; with ``watch``
   (a process that must stay alive: a Ray node's agent) it kills the command's group if that process dies;
6. waits for the command and writes its status to the exit file (``exit``) as one ``write()`` of one JSON line:
   ``code`` (the exit code, or 128 + N when killed by signal N, the shell's convention), ``at`` (the host's time),
   ``started`` and ``reason`` when there is one to give.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gc
import json
import os
import pwd
import select
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass
from typing import Any

sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import procs  # type: ignore[import-not-found,unused-ignore]
import program  # type: ignore[import-not-found,unused-ignore]

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
_HEADER = struct.Struct("!I")
_CATCHABLE = sorted(set(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP})
#: what the command's process sends the keeper once it is ready to exec (anything else is why it cannot start)
_READY = b"\x00ready\n"


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    groups: list[int]
    home: str


def main(sock_fd: int) -> None:
    sock = socket.socket(fileno=sock_fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the keepers
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a keeper whose caller stopped listening must see EPIPE
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
    """The next request and its report pipe, or None once the caller has closed the socket."""
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


def _say(fd: int, text: str) -> bool:
    """One line on the report pipe; False if nobody listens any more."""
    try:
        os.write(fd, (text.replace("\n", " ") + "\n").encode(errors="replace"))
        return True
    except OSError:
        return False


def _keep(request: dict[str, Any], report_fd: int, sock_fd: int) -> int:
    """The keeper of one rank (a forked child of the launcher); returns its own exit status."""
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.close(sock_fd)
    exit_file = request["exit"]
    try:
        account = _account(request.get("account"))
    except LookupError as exc:
        _say(report_fd, str(exc))
        return 1
    try:
        _redirect(0, os.devnull, os.O_RDONLY, None)
        _redirect(1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, account)
        _redirect(2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, account)
    except OSError as exc:
        _say(report_fd, f"cannot open the log file {exc.filename}: {exc.strerror}")
        return 1
    refused = _fence_and_record(request)
    if refused:
        _say(report_fd, refused)
        return 1
    return _run(request, account, report_fd, exit_file)


def _account(name: str | None) -> Account | None:
    """The OS account a job runs as (None: this process's own); LookupError with the reason if unusable."""
    if not name:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise LookupError(f"no OS account {name!r} on host {socket.gethostname()}") from None
    if entry.pw_uid == 0:
        raise LookupError(f"refusing to run a job as {name!r} (uid 0) on host {socket.gethostname()}")
    groups = os.getgrouplist(name, entry.pw_gid)  # the supplementary groups, the primary one included
    return Account(name, entry.pw_uid, entry.pw_gid, groups, entry.pw_dir)


def _fence_and_record(request: dict[str, Any]) -> str | None:
    """Check the host's fence for the request's epoch and create the rank's record; the reason if refused."""
    fd = os.open(request["fence"], os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
        newest = int(text) if text.isdigit() else 0
        epoch = int(request["epoch"])
        if epoch < newest:
            return f"fenced: a newer control loop (epoch {newest}) leads; this launch of epoch {epoch} is refused"
        if epoch > newest:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{epoch}\n".encode(), 0)
        try:
            rec = os.open(request["record"], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        except FileExistsError:
            if not _void_if_never_started(request):
                return (f"rank {request['rank']} of job {request['job']} attempt {request['attempt']} was already "
                        "launched on this host; it is never launched twice")
            rec = os.open(request["record"], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            me = os.getpid()
            _line(rec, {"keeper": me, "kstart": procs.start_ticks(me), "boot": procs.boot_id(), "epoch": epoch})
        finally:
            os.close(rec)
        return None
    finally:
        os.close(fd)


def _void_if_never_started(request: dict[str, Any]) -> bool:
    """An existing record of this attempt's rank whose command provably never ran is set aside (renamed ``.void``,
    its exit file removed) so the attempt can be launched now: its exit file says it never started (the caller
    stopped waiting, or the command could not start), or its keeper is gone before it recorded a command (it can no
    longer fork one). Called under the fence lock, so no other keeper decides the same record at once."""
    record, exit_file = request["record"], request["exit"]
    try:
        with open(exit_file, encoding="utf-8") as f:
            status = json.loads(f.read() or "null")
        never = isinstance(status, dict) and status.get("started") is False
    except (FileNotFoundError, ValueError):
        never = False
    if not never:
        try:
            with open(record, encoding="utf-8") as f:
                lines = [json.loads(line) for line in f.read().splitlines() if line.strip()]
        except (FileNotFoundError, ValueError):
            return False
        never = (len(lines) == 1 and "cmd" not in lines[0]
                 and not procs.is_running(int(lines[0].get("keeper", 0)), int(lines[0].get("kstart", -1))))
    if never:
        os.replace(record, record + ".void")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(exit_file)
    return never


def _run(request: dict[str, Any], account: Account | None, report_fd: int, exit_file: str) -> int:
    """Fork the command, report it, let it exec, forward signals, wait, and write the exit file."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)  # held until the command's pid is known
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ready_r)
            os.close(go_w)
            os.close(report_fd)
            _become_command(request, account, ready_w, go_r)
        finally:
            os._exit(127)
    os.close(ready_w)
    os.close(go_r)
    ready = _read_ready(ready_r)
    if ready != _READY:  # the command cannot start: say why, it has ended
        os.waitpid(pid, 0)
        why = ready.decode(errors="replace").strip() or "the command's process died before it could start"
        _write_status(exit_file, {"code": 127, "started": False, "reason": why})
        _say(report_fd, why)
        return 1
    command = [pid]

    def forward(sig: int, _frame: object) -> None:
        with contextlib.suppress(OSError):
            os.killpg(command[0], sig)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    with contextlib.suppress(OSError):
        rec = os.open(request["record"], os.O_WRONLY | os.O_APPEND)
        _line(rec, {"cmd": pid, "cstart": procs.start_ticks(pid)})
        os.close(rec)
    if not _say(report_fd, f"{os.getpid()} {pid}"):  # nobody waits for this launch: it never starts
        os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        _write_status(exit_file, {"code": 137, "started": False,
                                  "reason": "not started: the server stopped waiting for the launch"})
        return 1
    try:
        os.write(go_w, b"g")
        started = True
    except BrokenPipeError:  # signalled (stopped by the server) before it could exec: it never ran
        started = False
    os.close(go_w)
    failed = _read_to_end(ready_r).decode(errors="replace").strip()  # end of file: the exec succeeded
    os.close(ready_r)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
    lost = _wait(pid, request.get("watch")) if started else ""
    _, status = os.waitpid(pid, 0)  # retried after a forwarded signal (PEP 475)
    code = os.waitstatus_to_exitcode(status)
    record: dict[str, Any] = {"code": code if code >= 0 else 128 - code, "started": started}
    if failed:
        record["reason"] = failed
    if lost:
        record.update(lost=True, reason=lost)
    _write_status(exit_file, record)
    return 0


def _wait(pid: int, watch: dict[str, int] | None) -> str:
    """Wait until the command exits; with ``watch``, kill its group if the watched process dies first (then the
    reason, else "")."""
    if not watch:
        return ""
    command_fd = os.pidfd_open(pid)
    try:
        watched_fd = os.pidfd_open(int(watch["pid"]))
    except ProcessLookupError:
        watched_fd = -1
    if watched_fd < 0 or not procs.is_running(int(watch["pid"]), int(watch["start"])):
        os.killpg(pid, signal.SIGKILL)
        return "killed: the node's agent is gone"
    poller = select.poll()
    poller.register(command_fd, select.POLLIN)
    poller.register(watched_fd, select.POLLIN)
    while True:
        ready = {fd for fd, _ in poller.poll()}
        if command_fd in ready:
            return ""
        if watched_fd in ready:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
            return "killed: the node's agent is gone"


def _become_command(request: dict[str, Any], account: Account | None, ready_w: int, go_r: int) -> None:
    """In the command's process: take the account, enter the working directory, find the program, tell the keeper
    it is ready, wait for its go, exec. Any failure is written to ``ready_w`` (then this process exits 127)."""
    os.setpgid(0, 0)
    for sig in _CATCHABLE:
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    env: dict[str, str] = {str(k): str(v) for k, v in request["env"].items()}
    cwd = request.get("cwd") or ""
    try:
        if account is not None:
            os.setgroups(account.groups)
            os.setgid(account.gid)
            os.setuid(account.uid)
            env.update(HOME=account.home, USER=account.name, LOGNAME=account.name)
            cwd = cwd or account.home
        workdir, path = program.check_can_start(list(request["argv"]), cwd, env)
        os.chdir(workdir)
    except (program.CannotStart, OSError) as exc:
        os.write(ready_w, str(exc).encode(errors="replace"))
        return
    os.write(ready_w, _READY)
    if os.read(go_r, 1) != b"g":
        return
    os.close(go_r)
    os.closerange(3, ready_w)
    os.closerange(ready_w + 1, 65536)
    argv = [str(a) for a in request["argv"]]
    try:
        os.execve(path, argv, env)
    except OSError as exc:
        if exc.errno == errno.ENOEXEC and _is_text(path):  # a script without #!: /bin/sh runs it, as execvp does
            with contextlib.suppress(OSError):
                os.execve("/bin/sh", ["/bin/sh", path, *argv[1:]], env)
        os.write(ready_w, f"cannot execute {path}: {exc.strerror}".encode(errors="replace"))


def _is_text(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return b"\0" not in f.read(256)
    except OSError:
        return False


def _read_ready(fd: int) -> bytes:
    """What the command's process said before exec: exactly ``_READY``, or why it cannot start (to end of file)."""
    out = b""
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            return out
        out += chunk
        if out.startswith(_READY[:1]) and len(out) >= len(_READY):
            return out


def _read_to_end(fd: int) -> bytes:
    out = b""
    while chunk := os.read(fd, 4096):
        out += chunk
    return out


def _redirect(fd: int, path: str, flags: int, account: Account | None) -> None:
    opened = os.open(path, flags | os.O_NOFOLLOW, 0o600)
    if account is not None:
        os.fchown(opened, account.uid, account.gid)
        os.fchmod(opened, 0o600)
    if opened != fd:
        os.dup2(opened, fd)
        os.close(opened)


def _line(fd: int, values: dict[str, Any]) -> None:
    os.write(fd, (json.dumps(values) + "\n").encode())


def _write_status(path: str, values: dict[str, Any]) -> None:
    values.setdefault("at", time.time())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        _line(fd, values)
    finally:
        os.close(fd)


if __name__ == "__main__":
    main(int(sys.argv[1]))
