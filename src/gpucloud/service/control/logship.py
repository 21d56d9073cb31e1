"""The log shipper: the control loop's copy of every rank's stdout and stderr from its host into the database
(:mod:`gpucloud.service.logs`), so that the API of any replica can serve it.

While a job runs, its streams are read every ``every_s`` seconds (more seldom with many jobs: one second per
thousand running jobs), up to :data:`READ_BYTES` per stream and read. Once all its ranks ended, its streams are read
to their end, and the job's end is committed only after that (or after ``wait_s``, if a host cannot be read), so a
finished job's log is complete the moment its state says so. A stream keeps at most ``cap`` bytes, then one note.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from gpucloud.service.control.tracked import Tracked
from gpucloud.service.executors.base import LogCursor, LogPiece
from gpucloud.service.logs import STREAMS, StreamEnd, StreamKey, append, stored_ends

READ_BYTES = 1 << 20


@dataclass
class _Job:
    ends: dict[StreamKey, StreamEnd]
    #: streams read to the end after the job's ranks had all ended (or capped)
    done: set[StreamKey] = field(default_factory=set)
    #: when (monotonic) the shipper first saw all the job's ranks ended
    ended_seen: float | None = None


class LogShipper:
    def __init__(self, cap: int = 16 << 20, every_s: float = 1.0, wait_s: float = 30.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.cap = cap
        self.every_s = every_s
        self.wait_s = wait_s
        self.monotonic = monotonic
        self._jobs: dict[int, _Job] = {}
        self._next = 0.0

    def load(self, session: Session, job_ids: Iterable[int]) -> None:
        """Read where the stored streams of newly watched jobs end (a requeued job's file goes on where it was)."""
        new = [j for j in job_ids if j not in self._jobs]
        if not new:
            return
        ends = stored_ends(session, new)
        for job_id in new:
            self._jobs[job_id] = _Job({k: v for k, v in ends.items() if k[0] == job_id})

    def cursors(self, jobs: Mapping[int, Tracked], ended_only: bool = False) -> list[LogCursor]:
        """What to read now: every stream of every job whose ranks all ended and is not read to its end yet; and,
        when due (and not ``ended_only``), every stream of the running ones."""
        now = self.monotonic()
        due = not ended_only and now >= self._next
        if due:
            self._next = now + max(self.every_s, len(jobs) / 1000)
        out: list[LogCursor] = []
        for job in jobs.values():
            state = self._jobs.get(job.id)
            if state is None or (job.ended_at is None and not due):
                continue
            for rank in range(job.world):
                for stream in STREAMS:
                    key = (job.id, rank, stream)
                    if key in state.done:
                        continue
                    end = state.ends.get(key)
                    offset = end.end if end else 0
                    out.append(LogCursor(str(job.id), rank, stream, offset,
                                         max(1, min(READ_BYTES, self.cap - offset))))
        return out

    def store(self, session: Session, pieces: Iterable[LogPiece], host_of: Callable[[int, int], str]) -> None:
        """Write the bytes read (up to the cap; then a note naming the host that has the rest)."""
        for piece in pieces:
            job_id = int(piece.job_id)
            state = self._jobs.get(job_id)
            if state is None:
                continue
            key = (job_id, piece.rank, piece.stream)
            end = state.ends.setdefault(key, StreamEnd())
            data = piece.data[:max(0, self.cap - piece.offset)]
            append(session, key, end, piece.offset, data)
            if end.end >= self.cap and key not in state.done:
                more = len(piece.data) > len(data) or not piece.eof
                if more:
                    note = (f"\n[gpucloud: this log is cut at {self.cap} bytes; the whole file is on host "
                            f"{host_of(job_id, piece.rank)}]\n").encode()
                    append(session, key, end, end.end, note)
                state.done.add(key)
            elif piece.final:
                state.done.add(key)

    def complete(self, job: Tracked) -> bool:
        """True once every stream of a job whose ranks all ended is stored to its end (or ``wait_s`` passed)."""
        if job.ended_at is None:
            return False
        state = self._jobs.get(job.id)
        if state is None or len(state.done) >= 2 * job.world:
            return True
        now = self.monotonic()
        if state.ended_seen is None:
            state.ended_seen = now
        return now >= state.ended_seen + self.wait_s

    def forget(self, job_id: int) -> None:
        self._jobs.pop(job_id, None)

    def clear(self) -> None:
        self._jobs.clear()
