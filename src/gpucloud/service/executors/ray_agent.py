"""The node agent of the Ray executor: one Ray actor per Ray node that holds a gpucloud node, pinned there with hard
node affinity, detached (it outlives the server that created it). It runs a :class:`~.host.HostRunner` on its node,
so a rank starts, is watched, signalled and read exactly as with the local executor — through the same launcher and
keeper, as the job's OS account — only on another host.

Every call takes and returns plain data (dataclasses of :mod:`.host`, dicts), so it crosses Ray unchanged. The keepers
watch the agent's process: if the agent dies (its node failed, or Ray removed it), they kill their ranks, so a node
Ray has given up on runs nothing gpucloud does not know about.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from gpucloud.service.executors import procs
from gpucloud.service.executors.base import ExitStatus, LogPiece
from gpucloud.service.executors.host import STREAMS, HostRunner, RankRef, RankRequest
from gpucloud.service.executors.rank_env import free_port

#: a rank's output up to this size (each stream) comes with the report of its end
SMALL_LOG = 64 * 1024


@dataclass
class Poll:
    """What an agent answers to :meth:`NodeAgent.poll`: the ended ranks among those asked about, and log bytes."""

    exits: dict[tuple[str, int, int], ExitStatus] = field(default_factory=dict)
    logs: list[LogPiece] = field(default_factory=list)


class NodeAgent:
    """The actor's class (made a Ray actor by the executor, which keeps ``ray`` out of this module)."""

    def __init__(self, node: str, root: str, launch_timeout_s: float = 10.0) -> None:
        me = os.getpid()
        start = procs.start_ticks(me)
        assert start is not None
        self.node = node
        self.host = HostRunner(Path(root), launch_timeout_s=launch_timeout_s, watch=(me, start))
        self.hostname = socket.gethostname()

    def hello(self) -> dict[str, str | int]:
        """Who and where this agent is (the executor checks it runs on the Ray node it expects)."""
        import ray

        return {"node": self.node, "host": self.hostname, "pid": os.getpid(),
                "ray_node": ray.get_runtime_context().get_node_id()}

    def fence(self, epoch: int) -> None:
        self.host.fence(epoch)

    def free_port(self) -> int:
        return free_port()

    def start(self, epoch: int, req: RankRequest) -> RankRef | str:
        """Start one rank; an empty ``MASTER_PORT`` (a job of one rank) is a free port of this host."""
        if req.env.get("MASTER_PORT") == "":
            port = str(free_port())
            req = replace(req, env={**req.env, "MASTER_PORT": port, "PET_MASTER_PORT": port})
        return self.host.start(req, epoch)

    def signal(self, refs: list[RankRef], sig: int) -> None:
        self.host.signal(refs, sig)

    def find(self, job_id: str, attempt: int, ranks: list[int]) -> dict[int, RankRef | None]:
        return self.host.find(job_id, attempt, ranks)

    def poll(self, refs: list[RankRef], cursors: list[tuple[str, int, str, int, int]], wait_s: float) -> Poll:
        """Which of ``refs`` ended, and the log bytes after each cursor (job, rank, stream, offset, limit). Without
        cursors it waits up to ``wait_s`` for a rank to end first, so the executor learns of an end at once."""
        for ref in refs:
            if not self.host.exits.watching(ref.key):
                self.host.watch(ref)
        if not cursors and wait_s > 0:
            self.host.exits.wait(wait_s)
        self.host.ended()
        out = Poll()
        ended: set[tuple[str, int, int]] = set()
        for ref in refs:
            found = self.host.status(ref)
            if found is not None:
                out.exits[ref.key] = found[0]
                ended.add(ref.key)
                out.logs += self._small_logs(ref)
        by_job = {(r.job_id, r.rank): r.key for r in refs}
        for job_id, rank, stream, offset, limit in cursors:
            key = by_job.get((job_id, rank))
            finished = key is None or key in ended
            data, eof = self.host.read_log(job_id, rank, stream, offset, limit)
            out.logs.append(LogPiece(job_id, rank, stream, offset, data, eof, final=eof and finished))
        return out

    def _small_logs(self, ref: RankRef) -> list[LogPiece]:
        """The whole output of a rank that ended, if it is small: it comes with its end, so the control loop can
        settle the job at once instead of asking for the logs in another round trip (bytes it already has are
        dropped by offset)."""
        pieces = []
        for stream in STREAMS:
            data, eof = self.host.read_log(ref.job_id, ref.rank, stream, 0, SMALL_LOG + 1)
            if not eof or len(data) > SMALL_LOG:
                return []
            pieces.append(LogPiece(ref.job_id, ref.rank, stream, 0, data, True, final=True))
        return pieces

    def shutdown(self, grace_s: float = 0.0) -> None:
        """Stop the launcher (tests and ``ray`` cleanup); ranks started here are killed by their keepers when this
        actor's process ends."""
        time.sleep(grace_s)
        self.host.close()
