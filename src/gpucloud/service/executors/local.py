"""The local executor (the default): runs each job as real process groups on this machine.

One process group per node of the job's placement (a multi-node gang on one machine gets one per node, each
with its own rank and ``CUDA_VISIBLE_DEVICES``). Each rank runs under a keeper forked by the launcher process
(:mod:`.launcher`, :mod:`.launcherd`), which records the exit status in ``log_dir/exit.<rank>``
(:mod:`.exitfile`) so the status survives the server dying. Files in ``log_dir``:

- ``stdout.log`` / ``stderr.log``: rank 0's output; ``stdout.rank<k>.log`` / ``stderr.rank<k>.log``: rank k's;
- ``exit.<rank>``: ``"<status>\\n"`` written when the rank ends (exit code, or 128 + signal).

The :class:`Handle` keeps, per rank, the keeper's pid and start time (to recognise a reused pid) and the
command's process group id and its leader's start time, plus the boot time.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

from gpucloud.service.executors import procs
from gpucloud.service.executors.base import ExitStatus, Handle, LaunchError, LaunchSpec, NodeGpus
from gpucloud.service.executors.exitfile import read_exit_file
from gpucloud.service.executors.exits import ExitNotices
from gpucloud.service.executors.launcher import Launcher
from gpucloud.service.executors.program import check_can_start

VANISHED = "process vanished"


def log_names(rank: int) -> tuple[str, str]:
    """The stdout and stderr file names of ``rank`` inside the job's log directory."""
    if rank == 0:
        return "stdout.log", "stderr.log"
    return f"stdout.rank{rank}.log", f"stderr.rank{rank}.log"


def job_env(spec: LaunchSpec, node: NodeGpus) -> dict[str, str]:
    """The environment of one rank: the job's own plus the GPU ids and gang coordinates."""
    env = dict(spec.env)
    env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in node.gpus)
    env["GPUCLOUD_JOB_ID"] = spec.job_id
    env["GPUCLOUD_NODE_RANK"] = str(node.rank)
    env["GPUCLOUD_WORLD_SIZE"] = str(len(spec.placement))
    env["GPUCLOUD_NODE"] = node.node
    return env


class LocalExecutor:
    """Runs jobs as process groups on this machine; see the module docstring for the files it keeps."""

    name: str = "local"
    #: launch() may run in several threads at once (the control loop launches many jobs in parallel)
    parallel_launch: bool = True

    def __init__(self, python: str | None = None, launch_timeout_s: float = 10.0) -> None:
        self.launcher = Launcher(python, launch_timeout_s)
        self.exit_notices = ExitNotices()

    def on_exit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from another thread) soon after a rank launched here has ended."""
        self.exit_notices.callback = callback

    def close(self) -> None:
        """Stop the launcher process (started again by the next launch) and exit notices; jobs keep running."""
        self.launcher.stop()
        self.exit_notices.close()

    # -- launch ---------------------------------------------------------------------------------------------

    def launch(self, spec: LaunchSpec) -> Handle:
        nodes = sorted(spec.placement, key=lambda n: n.rank)
        if not nodes:
            raise LaunchError(f"job {spec.job_id}: empty placement, nothing to run")
        if [n.rank for n in nodes] != list(range(len(nodes))):
            raise LaunchError(f"job {spec.job_id}: ranks must be 0..{len(nodes) - 1}, got {[n.rank for n in nodes]}")
        cwd, program = check_can_start(spec.argv, spec.cwd, spec.env)
        try:
            log_dir = Path(spec.log_dir)
            log_dir.mkdir(parents=True, exist_ok=True)
            log_dir = log_dir.resolve()
        except OSError as e:
            raise LaunchError(f"cannot create log directory {spec.log_dir}: {e.strerror or e}") from None
        data: dict[str, str | int | float] = {
            "log_dir": str(log_dir),
            "world": len(nodes),
            "boot": procs.boot_time(),
        }
        try:
            for node in nodes:
                data.update(self._launch_rank(spec, node, cwd, program, log_dir))
        except BaseException:
            self.kill(Handle(self.name, spec.job_id, data))
            raise
        return Handle(self.name, spec.job_id, data)

    def _launch_rank(self, spec: LaunchSpec, node: NodeGpus, cwd: str, program: str,
                     log_dir: Path) -> dict[str, str | int | float]:
        rank = node.rank
        exit_file = log_dir / f"exit.{rank}"
        exit_file.unlink(missing_ok=True)  # a stale status from an earlier run of the same job
        out_name, err_name = log_names(rank)
        started = self.launcher.start({
            "program": program, "argv": list(spec.argv), "env": job_env(spec, node), "cwd": cwd,
            "stdout": str(log_dir / out_name), "stderr": str(log_dir / err_name), "exit": str(exit_file),
        })
        if isinstance(started, str):
            status = read_exit_file(exit_file)
            why = status.reason if status else started or "the launcher did not start the command"
            raise LaunchError(f"cannot start rank {rank} of job {spec.job_id}: {why}")
        keeper, pgid, pipe = started
        self.exit_notices.watch(pipe)
        return {
            f"node.{rank}": node.node,
            f"pid.{rank}": keeper,
            f"start.{rank}": procs.start_time(keeper) or 0.0,
            f"pgid.{rank}": pgid,
            f"pgstart.{rank}": procs.start_time(pgid) or 0.0,
        }

    # -- watch ----------------------------------------------------------------------------------------------

    def poll(self, handle: Handle) -> ExitStatus | None:
        ranks = _Ranks(handle)
        results: list[ExitStatus] = []
        for rank in range(ranks.world):
            status = self._rank_status(ranks, rank)
            if status is None:
                return None
            results.append(status)
        return _combine(ranks, results)

    def _rank_status(self, ranks: _Ranks, rank: int) -> ExitStatus | None:
        exit_file = ranks.exit_file(rank)
        status = read_exit_file(exit_file)
        if status is not None:
            return status
        if procs.is_running(ranks.pid(rank), ranks.start(rank)):
            return None
        status = read_exit_file(exit_file)  # it may have ended between the first read and the check
        if status is not None:
            return status
        if procs.group_is_ours(ranks.pgid(rank), ranks.pgstart(rank), ranks.boot):
            return None  # the keeper is gone but the command still runs: it can still be signalled
        return ExitStatus(None, VANISHED)

    def reattach(self, handle: Handle) -> bool:
        """True if every rank still runs as launched (pid + start time) or has recorded how it ended."""
        ranks = _Ranks(handle)
        for rank in range(ranks.world):
            if read_exit_file(ranks.exit_file(rank)) is not None:
                continue
            if procs.is_running(ranks.pid(rank), ranks.start(rank)):
                continue
            if read_exit_file(ranks.exit_file(rank)) is not None:
                continue
            if not procs.group_is_ours(ranks.pgid(rank), ranks.pgstart(rank), ranks.boot):
                return False
        return True

    # -- signal ---------------------------------------------------------------------------------------------

    def terminate(self, handle: Handle) -> None:
        self._signal(handle, signal.SIGTERM)

    def kill(self, handle: Handle) -> None:
        self._signal(handle, signal.SIGKILL)

    def _signal(self, handle: Handle, sig: int) -> None:
        ranks = _Ranks(handle)
        for rank in ranks.launched():
            pgid = ranks.pgid(rank)
            if procs.is_running(ranks.pid(rank), ranks.start(rank)) or procs.group_is_ours(
                pgid, ranks.pgstart(rank), ranks.boot
            ):
                procs.signal_group(pgid, sig)


class _Ranks:
    """Typed access to the per-rank values stored in a local :class:`Handle`."""

    def __init__(self, handle: Handle) -> None:
        if handle.executor != LocalExecutor.name:
            raise ValueError(f"handle of executor {handle.executor!r} given to the local executor")
        self.data = handle.data
        self.world = int(self.data["world"])
        self.boot = float(self.data["boot"])
        self.log_dir = Path(str(self.data["log_dir"]))

    def launched(self) -> list[int]:
        return [r for r in range(self.world) if f"pgid.{r}" in self.data]

    def exit_file(self, rank: int) -> Path:
        return self.log_dir / f"exit.{rank}"

    def pid(self, rank: int) -> int:
        return int(self.data[f"pid.{rank}"])

    def start(self, rank: int) -> float:
        return float(self.data[f"start.{rank}"])

    def pgid(self, rank: int) -> int:
        return int(self.data[f"pgid.{rank}"])

    def pgstart(self, rank: int) -> float:
        return float(self.data[f"pgstart.{rank}"])

    def node(self, rank: int) -> str:
        return str(self.data.get(f"node.{rank}", "?"))


def _combine(ranks: _Ranks, results: list[ExitStatus]) -> ExitStatus:
    """The job's status from its ranks': the first failing rank's, or success if all succeeded."""
    for rank, status in enumerate(results):
        if not status.ok:
            if ranks.world == 1:
                return status
            return ExitStatus(status.exit_code, f"rank {rank} ({ranks.node(rank)}): {status.reason}")
    return ExitStatus(0, "exit code 0")
