"""Everything done on one host: start ranks through the launcher, learn when they end, signal them, read their logs
and exit files, and tell a new leader whether a launch attempt was started here.

The local executor runs one :class:`HostRunner` in the server (the host is the server's machine); the Ray executor
runs one inside an agent actor on every Ray node. Files under ``root`` (see ``docs/executors.md``)::

    fence                     the newest leader epoch seen here: launches of older epochs are refused
    jobs/<job>/               mode 0711, owned by the server's account
        rank.<attempt>.<r>    the launch record of rank r: its keeper, then its command (JSON lines)
        exit.<attempt>.<r>    how rank r ended (:mod:`.exitfile`)
        stdout.log ...        rank 0's output (stdout.rank<k>.log for rank k): owned by the job's account, 0600
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path

from gpucloud.service.executors import procs
from gpucloud.service.executors.base import ExitStatus, Handle, HandleValue
from gpucloud.service.executors.exitfile import read_exit_file
from gpucloud.service.executors.exits import ExitWatch
from gpucloud.service.executors.launcher import Launcher

VANISHED = "process vanished"
#: handles of this format carry ``v`` = 2 (per rank: keeper and command identity in clock ticks, boot id)
HANDLE_VERSION = 2
STREAMS = ("stdout", "stderr")


def log_name(stream: str, rank: int) -> str:
    """The file name of a rank's ``stdout`` or ``stderr`` inside the job's directory."""
    return f"{stream}.log" if rank == 0 else f"{stream}.rank{rank}.log"


@dataclass(frozen=True, slots=True)
class RankRequest:
    """One rank to start: what the keeper needs (the environment is complete: GPU ids, gang variables...)."""

    job_id: str
    attempt: int
    rank: int
    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: str
    account: str | None = None


@dataclass(frozen=True, slots=True)
class RankRef:
    """A started rank on its host: its keeper's and its command's pid and start time (clock ticks), on one boot."""

    job_id: str
    attempt: int
    rank: int
    keeper: int
    kstart: int
    pgid: int
    pgstart: int
    boot: str

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.job_id, self.attempt, self.rank)

    def to_handle(self, node: str, host: str) -> dict[str, HandleValue]:
        r = self.rank
        return {f"node.{r}": node, f"host.{r}": host, f"pid.{r}": self.keeper, f"start.{r}": self.kstart,
                f"pgid.{r}": self.pgid, f"pgstart.{r}": self.pgstart, f"boot.{r}": self.boot}

    @classmethod
    def of(cls, handle: Handle, rank: int) -> RankRef:
        """Rank ``rank`` of a handle of this format; ValueError if the handle is of another format."""
        d = handle.data
        if d.get("v") != HANDLE_VERSION:
            raise ValueError("the handle was written by an older gpucloud server and cannot be re-attached")
        return cls(handle.job_id, handle.attempt, rank, int(d[f"pid.{rank}"]), int(d[f"start.{rank}"]),
                   int(d[f"pgid.{rank}"]), int(d[f"pgstart.{rank}"]), str(d[f"boot.{rank}"]))


def handle_base(world: int, attempt: int) -> dict[str, HandleValue]:
    return {"v": HANDLE_VERSION, "world": world, "attempt": attempt}


class HostRunner:
    """Runs ranks on this host under ``root``. ``watch``: a process whose death must kill every rank started here
    (a Ray node's agent); ``None`` for the local executor, whose jobs outlive the server."""

    def __init__(self, root: Path, python: str | None = None, launch_timeout_s: float = 10.0,
                 watch: tuple[int, int] | None = None) -> None:
        self.root = Path(root)
        self.launcher = Launcher(python, launch_timeout_s)
        self.launch_timeout_s = launch_timeout_s
        self.exits = ExitWatch()
        self._watch = watch
        self._ready = False

    # -- files ----------------------------------------------------------------------------------------------

    def _prepare(self) -> None:
        if not self._ready:
            jobs = self.root / "jobs"
            jobs.mkdir(parents=True, exist_ok=True)
            os.chmod(jobs, 0o711)  # the job's account reaches its own log files by name, lists nothing
            self._ready = True

    def job_dir(self, job_id: str) -> Path:
        return self.root / "jobs" / job_id

    def record_path(self, job_id: str, attempt: int, rank: int) -> Path:
        return self.job_dir(job_id) / f"rank.{attempt}.{rank}"

    def exit_path(self, job_id: str, attempt: int, rank: int) -> Path:
        return self.job_dir(job_id) / f"exit.{attempt}.{rank}"

    def fence(self, epoch: int) -> None:
        """From now on refuse launches of leader epochs older than ``epoch`` (under the keepers' lock)."""
        self._prepare()
        fd = os.open(self.root / "fence", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
            if epoch > (int(text) if text.isdigit() else 0):
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{epoch}\n".encode(), 0)
        finally:
            os.close(fd)

    # -- start ------------------------------------------------------------------------------------------------

    def start(self, req: RankRequest, epoch: int) -> RankRef | str:
        """Start one rank (blocks until its keeper reported, a few ms): its reference, or why it did not start."""
        self._prepare()
        job_dir = self.job_dir(req.job_id)
        try:
            job_dir.mkdir(exist_ok=True)
            os.chmod(job_dir, 0o711)
        except OSError as exc:
            return f"cannot create the job's directory {job_dir}: {exc.strerror or exc}"
        request: dict[str, object] = {
            "job": req.job_id, "attempt": req.attempt, "rank": req.rank, "epoch": epoch,
            "argv": list(req.argv), "env": req.env, "cwd": req.cwd, "account": req.account,
            "fence": str(self.root / "fence"), "record": str(self.record_path(req.job_id, req.attempt, req.rank)),
            "exit": str(self.exit_path(req.job_id, req.attempt, req.rank)),
            "stdout": str(job_dir / log_name("stdout", req.rank)),
            "stderr": str(job_dir / log_name("stderr", req.rank)),
        }
        if self._watch is not None:
            request["watch"] = {"pid": self._watch[0], "start": self._watch[1]}
        got = self.launcher.start(request)
        if isinstance(got, str):
            return got or "the launcher did not start the rank"
        keeper, command = got
        ref = self._ref_from_record(req.job_id, req.attempt, req.rank)
        if ref is None or ref.keeper != keeper or ref.pgid != command:
            return f"the launch record of rank {req.rank} does not match its keeper's report"
        self.exits.watch(ref.key, ref.keeper, ref.kstart)
        return ref

    def _read_record(self, job_id: str, attempt: int, rank: int) -> list[dict[str, object]] | None:
        try:
            text = self.record_path(job_id, attempt, rank).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        lines = []
        for line in text.splitlines(keepends=True):
            if line.endswith("\n"):
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    break
        return lines

    def _ref_from_record(self, job_id: str, attempt: int, rank: int) -> RankRef | None:
        lines = self._read_record(job_id, attempt, rank)
        if not lines or len(lines) < 2:
            return None
        first, second = lines[0], lines[1]
        try:
            return RankRef(job_id, attempt, rank, int(str(first["keeper"])), int(str(first["kstart"])),
                           int(str(second["cmd"])), int(str(second["cstart"])), str(first["boot"]))
        except (KeyError, ValueError):
            return None

    # -- watch ------------------------------------------------------------------------------------------------

    def watch(self, ref: RankRef) -> bool:
        """Watch a rank started by an earlier server (re-attached); False if it must be checked by polling."""
        return self.exits.watch(ref.key, ref.keeper, ref.kstart)

    def ended(self) -> set[Hashable]:
        """Keys (job, attempt, rank) of watched ranks whose keeper exited since the last call."""
        return self.exits.take()

    def status(self, ref: RankRef) -> tuple[ExitStatus, bool] | None:
        """How the rank ended and whether its command started; ``None`` while it runs."""
        exit_path = self.exit_path(ref.job_id, ref.attempt, ref.rank)
        found = read_exit_file(exit_path)
        if found is not None:
            return found
        if procs.is_running(ref.keeper, ref.kstart):
            return None
        found = read_exit_file(exit_path)  # it may have ended between the first read and the check
        if found is not None:
            return found
        if procs.group_is_ours(ref.pgid, ref.pgstart, ref.boot):
            return None  # the keeper is gone but the command still runs: it can still be signalled
        return ExitStatus(None, VANISHED), True

    # -- signal -----------------------------------------------------------------------------------------------

    def signal(self, refs: Iterable[RankRef], sig: int) -> None:
        """Send ``sig`` to each rank's command group, only if it is provably still ours (never a reused pid)."""
        for ref in refs:
            if procs.is_running(ref.keeper, ref.kstart) or procs.group_is_ours(ref.pgid, ref.pgstart, ref.boot):
                procs.signal_group(ref.pgid, sig)

    # -- failover ---------------------------------------------------------------------------------------------

    def find(self, job_id: str, attempt: int, ranks: Iterable[int]) -> dict[int, RankRef | None]:
        """For a launch attempt a dead leader may or may not have made: each rank's reference if its command was
        started, ``None`` if it never was (or never will be: call :meth:`fence` with the new epoch first)."""
        out: dict[int, RankRef | None] = {}
        for rank in ranks:
            out[rank] = self._settled(job_id, attempt, rank)
        return out

    def _settled(self, job_id: str, attempt: int, rank: int) -> RankRef | None:
        deadline = time.monotonic() + self.launch_timeout_s + 1.0
        while True:
            lines = self._read_record(job_id, attempt, rank)
            if not lines:
                return None
            exit_found = read_exit_file(self.exit_path(job_id, attempt, rank))
            if exit_found is not None and not exit_found[1]:
                return None  # stopped before it ran anything
            ref = self._ref_from_record(job_id, attempt, rank)
            if ref is not None:
                return ref
            first = lines[0]
            keeper_alive = procs.is_running(int(str(first.get("keeper", 0))), int(str(first.get("kstart", -1))))
            if not keeper_alive or time.monotonic() > deadline:
                return None  # its keeper died before it forked the command
            time.sleep(0.01)  # the keeper is between its record and the fork

    # -- logs -------------------------------------------------------------------------------------------------

    def read_log(self, job_id: str, rank: int, stream: str, offset: int, limit: int) -> tuple[bytes, bool]:
        """Up to ``limit`` bytes of a rank's stream from ``offset``, and whether that reached the end of the file
        (a missing file reads as empty)."""
        if stream not in STREAMS:
            raise ValueError(f"unknown stream {stream!r}")
        try:
            fd = os.open(self.job_dir(job_id) / log_name(stream, rank), os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return b"", True
        try:
            data = os.pread(fd, limit, offset)
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        return data, offset + len(data) >= size

    def close(self) -> None:
        """Stop the launcher process and the exit watch; the ranks keep running."""
        self.launcher.stop()
        self.exits.close()
