"""The local executor (the default): runs each job's ranks as real process groups on this machine.

One process group per node of the job's placement (a multi-node gang on one machine gets one per node, each with
its own rank and ``CUDA_VISIBLE_DEVICES``), started by a :class:`~.host.HostRunner` whose files live under the
server's data directory (``DATA_DIR/jobs/<id>/``). Launches run in a small thread pool (:mod:`.launches`); the ranks'
ends are learnt from their keepers' pidfds (:mod:`.exits`), and checked by polling only for ranks beyond the
descriptor budget.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path

from gpucloud.service.executors.base import (
    ExitStatus,
    Found,
    Handle,
    LaunchError,
    LaunchSpec,
    LogCursor,
    LogPiece,
    RankExit,
    Report,
)
from gpucloud.service.executors.host import HostRunner, RankRef, RankRequest, handle_base
from gpucloud.service.executors.launches import LaunchQueue
from gpucloud.service.executors.rank_env import check_ranks, free_port, rank_env


class LocalExecutor:
    """Runs jobs as process groups on this machine; see the module docstring."""

    name: str = "local"
    side_effects: bool = True

    def __init__(self, data_dir: Path | str = "./data", python: str | None = None, launch_timeout_s: float = 10.0,
                 launch_threads: int = 8, sweep_s: float = 1.0) -> None:
        self.host = HostRunner(Path(data_dir), python, launch_timeout_s)
        self.hostname = socket.gethostname()
        self.launches = LaunchQueue(launch_threads, "local")
        self.sweep_s = sweep_s
        self._epoch = 0
        self._jobs: dict[str, list[RankRef]] = {}
        self._refs: dict[Hashable, RankRef] = {}
        self._polled: set[Hashable] = set()
        self._reported: set[Hashable] = set()
        self._swept_at = float("-inf")

    def bind(self, notify: Callable[[], None], epoch: int, installation: str = "") -> None:
        self.host.fence(epoch)
        self._epoch = epoch
        self.launches.notify = notify
        self.host.exits.callback = notify
        self._jobs.clear()
        self._refs.clear()
        self._polled.clear()
        self._reported.clear()

    # -- launch ---------------------------------------------------------------------------------------------

    def launch(self, spec: LaunchSpec) -> None:
        self.launches.submit(spec.job_id, lambda: self.launch_now(spec))

    def launch_now(self, spec: LaunchSpec) -> Handle:
        """Start every rank (blocks a few ms per rank); :class:`LaunchError` with the reason if any cannot start,
        and then nothing is left running."""
        nodes = check_ranks(spec)
        port = free_port()
        data = handle_base(len(nodes), spec.attempt)
        started: list[RankRef] = []
        try:
            for node in nodes:
                got = self.host.start(RankRequest(
                    spec.job_id, spec.attempt, node.rank, spec.argv, rank_env(spec, node, "127.0.0.1", port),
                    spec.cwd, spec.account), self._epoch)
                if isinstance(got, str):
                    raise LaunchError(got if len(nodes) == 1 else f"rank {node.rank} ({node.node}): {got}")
                started.append(got)
                data.update(got.to_handle(node.node, self.hostname))
        except BaseException:
            self.host.signal(started, 9)
            raise
        return Handle(self.name, spec.job_id, data)

    # -- watch ----------------------------------------------------------------------------------------------

    def collect(self, watched: Mapping[str, Handle], logs: Sequence[LogCursor] = ()) -> Report:
        report = Report()
        report.launched, report.launch_failed = self.launches.take()
        report.exits += self._sync(watched)
        candidates = [self._refs[k] for k in self.host.ended() if k in self._refs]
        now = time.monotonic()
        if self._polled and now >= self._swept_at + self.sweep_s:
            self._swept_at = now
            candidates += [self._refs[k] for k in self._polled]
        for ref in candidates:
            if ref.key in self._reported:
                continue
            found = self.host.status(ref)
            if found is None:  # its keeper is gone but its command runs on: watched by polling from now on
                self._polled.add(ref.key)
            else:
                self._reported.add(ref.key)
                self._polled.discard(ref.key)
                report.exits.append(RankExit(ref.job_id, ref.rank, found[0]))
        report.logs = [self._read(c) for c in logs]
        return report

    def _read(self, c: LogCursor) -> LogPiece:
        refs = self._jobs.get(c.job_id)
        ended = not refs or (refs[0].job_id, refs[0].attempt, c.rank) in self._reported  # known before the read
        data, eof = self.host.read_log(c.job_id, c.rank, c.stream, c.offset, c.limit)
        return LogPiece(c.job_id, c.rank, c.stream, c.offset, data, eof, final=eof and ended)

    def _sync(self, watched: Mapping[str, Handle]) -> list[RankExit]:
        """Start watching the ranks of newly watched jobs; forget the jobs no longer watched. A job whose handle
        cannot be read is reported ended at once (its ranks cannot be found)."""
        broken: list[RankExit] = []
        for job_id in watched.keys() - self._jobs.keys():
            handle = watched[job_id]
            try:
                refs = [RankRef.of(handle, r) for r in range(handle.world)]
            except (ValueError, KeyError) as exc:
                self._jobs[job_id] = []
                broken.append(RankExit(job_id, 0, ExitStatus(None, f"cannot watch the job's processes: {exc}")))
                continue
            self._jobs[job_id] = refs
            for ref in refs:
                self._refs[ref.key] = ref
                if not self.host.watch(ref):
                    self._polled.add(ref.key)
        for job_id in self._jobs.keys() - watched.keys():
            keys: set[Hashable] = {ref.key for ref in self._jobs.pop(job_id)}
            self.host.exits.forget(keys)
            for key in keys:
                self._refs.pop(key, None)
            self._polled -= keys
            self._reported -= keys
        return broken

    # -- signal ---------------------------------------------------------------------------------------------

    def signal(self, handle: Handle, sig: int) -> None:
        try:
            refs = [RankRef.of(handle, r) for r in range(handle.world) if f"pid.{r}" in handle.data]
        except (ValueError, KeyError):
            return
        self.host.signal(refs, sig)

    # -- failover -------------------------------------------------------------------------------------------

    def find(self, job_id: str, attempt: int, nodes: Sequence[str]) -> Found:
        found = self.host.find(job_id, attempt, range(len(nodes)))
        started = {r: ref for r, ref in found.items() if ref is not None}
        if not started:
            return Found(None)
        data = handle_base(len(nodes), attempt)
        for rank, ref in started.items():
            data.update(ref.to_handle(nodes[rank], self.hostname))
        handle = Handle(self.name, job_id, data)
        return Found(handle) if len(started) == len(nodes) else Found(None, partial=handle)

    def close(self) -> None:
        """Finish the launches in flight, stop the launcher process and the exit watch; jobs keep running (and are
        watched again from the next ``collect``)."""
        self.launches.close()
        self.host.close()
        self._jobs.clear()
        self._refs.clear()
        self._polled.clear()
