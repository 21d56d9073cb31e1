"""The simulator's gate in front of the scheduling core: trace jobs that wait for other jobs (dependencies) or for
their array's throttle reach the core only when they may run, as the live service holds them out of its cycles
(:mod:`gpucloud.service.job_holds`) with the same rules (:mod:`gpucloud.core.dependencies`,
:mod:`gpucloud.core.arrays`).

The simulator tells it when a job arrives, starts and ends; it answers which jobs go to the core now and which
end without running because their dependency can never be met (the live service cancels those at its next
housekeeping; the replay at once). An array lets at most ``throttle`` of its tasks into the core at a time,
lowest indices first — the service's rule, which lets ``throttle`` minus the tasks holding GPUs into each cycle.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

from gpucloud.core.dependencies import Condition, Progress, Target, Verdict, judge
from gpucloud.model.job import JobState
from gpucloud.sim.traces.base import TraceJob

_SUCCESS = JobState.SUCCEEDED.value


class GateError(ValueError):
    """A trace whose dependencies name jobs it does not have."""


@dataclass(slots=True)
class _Counts:
    """What is known of an array's tasks (kept up to date, so a verdict costs nothing per task)."""

    total: int = 0
    begun: int = 0
    ended: int = 0
    succeeded: int = 0
    unsuccessful: str | None = None

    def progress(self) -> Progress:
        return Progress(self.total, self.begun, self.ended, self.succeeded, self.unsuccessful)


@dataclass(slots=True)
class _Array:
    throttle: int | None
    counts: _Counts = field(default_factory=_Counts)
    #: tasks in the core now (waiting there or running)
    inside: int = 0
    #: tasks that arrived and may run but wait for room: (index, job id)
    waiting: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class Released:
    """What a change let through: jobs to hand to the core now, and jobs that can never run (job id → why)."""

    ready: list[str] = field(default_factory=list)
    never: dict[str, str] = field(default_factory=dict)


class Gate:
    """Holds trace jobs back until their dependency is met and their array has room; see the module docstring."""

    def __init__(self, jobs: Iterable[TraceJob]) -> None:
        jobs = list(jobs)
        self.number = {tj.spec.id: i for i, tj in enumerate(jobs, start=1)}
        self.jobs = {tj.spec.id: tj for tj in jobs}
        self.state: dict[str, tuple[str, bool]] = {}
        self.arrays: dict[str, _Array] = {}
        self.array_number: dict[str, int] = {}
        for tj in jobs:
            b = tj.batch
            if b is not None and b.array is not None:
                array = self.arrays.setdefault(b.array, _Array(b.throttle))
                array.counts.total += 1
                self.array_number.setdefault(b.array, self.number[tj.spec.id])
        self.job_of_number = {n: j for j, n in self.number.items()}
        self.array_of_number = {n: a for a, n in self.array_number.items()}
        self.conditions: dict[str, Condition] = {}
        #: target → the jobs whose condition names it
        self.dependents: dict[tuple[str, str], list[str]] = {}
        for tj in jobs:
            if tj.batch is not None and tj.batch.dependency is not None:
                self.conditions[tj.spec.id] = self._condition(tj)
        #: jobs that arrived and wait for their dependency
        self.held: set[str] = set()
        #: singleton jobs by user and name → those arrived and not ended, in arrival order
        self.named: dict[str, list[str]] = {}

    def _condition(self, tj: TraceJob) -> Condition:
        assert tj.batch is not None and tj.batch.dependency is not None
        dep = tj.batch.dependency
        targets = []
        for kind, ref in dep.refs:
            if ref in self.arrays:
                targets.append(Target(kind, array=self.array_number[ref]))
                self.dependents.setdefault(("array", ref), []).append(tj.spec.id)
            elif ref in self.number:
                targets.append(Target(kind, job=self.number[ref]))
                self.dependents.setdefault(("job", ref), []).append(tj.spec.id)
            else:
                raise GateError(f"job {tj.spec.id} depends on {ref!r}, which is not a job or array of the trace")
        if dep.singleton:
            self.dependents.setdefault(("name", self._name_of(tj)), []).append(tj.spec.id)
        return Condition(tuple(targets), dep.any_of, dep.singleton)

    def _name_of(self, tj: TraceJob) -> str:
        return f"{tj.spec.user}\x00{tj.batch.name if tj.batch else ''}"

    # -- what the simulator tells it ------------------------------------------------------------------------

    def arrive(self, job_id: str) -> Released:
        """A job was submitted."""
        tj = self.jobs[job_id]
        out = Released()
        if tj.batch is not None and tj.batch.dependency is not None and tj.batch.dependency.singleton:
            self.named.setdefault(self._name_of(tj), []).append(job_id)
        self.state[job_id] = (JobState.PENDING.value, False)
        if job_id in self.conditions:
            self.held.add(job_id)
            self._judge([job_id], out)
        else:
            self._admit(job_id, out)
        return out

    def started(self, job_id: str) -> Released:
        """A job started (its first run, or a later one)."""
        begun = self.state[job_id][1]
        out = Released()
        if not begun:
            self.state[job_id] = (JobState.RUNNING.value, True)
            array = self._array_of(job_id)
            if array is not None:
                array.counts.begun += 1
            self._judge(self._dependents_of(job_id), out)
        return out

    def ended(self, job_id: str, state: str) -> Released:
        """A job ended (``succeeded``, ``timed_out``, ``failed`` or ``cancelled``): its array has room again, and
        the jobs that depend on it may be decided."""
        _, begun = self.state.get(job_id, (state, False))
        self.state[job_id] = (state, begun)
        out = Released()
        tj = self.jobs[job_id]
        array = self._array_of(job_id)
        if array is not None:
            c = array.counts
            c.ended += 1
            c.begun += not begun
            if state == _SUCCESS:
                c.succeeded += 1
            elif c.unsuccessful is None:
                c.unsuccessful = state
            if job_id not in self.held:
                array.inside -= 1
                self._fill(array, out)
        self.held.discard(job_id)
        if tj.batch is not None and tj.batch.dependency is not None and tj.batch.dependency.singleton:
            self.named[self._name_of(tj)].remove(job_id)
        self._judge(self._dependents_of(job_id), out)
        return out

    # -- rules --------------------------------------------------------------------------------------------------

    def _array_of(self, job_id: str) -> _Array | None:
        b = self.jobs[job_id].batch
        return None if b is None or b.array is None else self.arrays[b.array]

    def _dependents_of(self, job_id: str) -> list[str]:
        tj = self.jobs[job_id]
        out = list(self.dependents.get(("job", job_id), ()))
        if tj.batch is not None and tj.batch.array is not None:
            out += self.dependents.get(("array", tj.batch.array), ())
        if tj.batch is not None and tj.batch.dependency is not None and tj.batch.dependency.singleton:
            out += self.dependents.get(("name", self._name_of(tj)), ())
        return out

    def _progress(self, target: Target) -> Progress | None:
        if target.array is not None:
            return self.arrays[self.array_of_number[target.array]].counts.progress()
        assert target.job is not None
        state, started = self.state.get(self.job_of_number[target.job], (JobState.PENDING.value, False))
        ended = state in _ENDED
        return Progress(1, int(started or ended), int(ended), int(state == _SUCCESS),
                        state if ended and state != _SUCCESS else None)

    def _judge(self, job_ids: Iterable[str], out: Released) -> None:
        for job_id in dict.fromkeys(job_ids):
            if job_id not in self.held:
                continue
            cond = self.conditions[job_id]
            blocker = None
            if cond.singleton:  # the first of its user and name still there, or waits for that one
                first = self.named[self._name_of(self.jobs[job_id])][0]
                blocker = None if first == job_id else self.number[first]
            verdict = judge(cond, self._progress, blocker)
            if verdict.verdict is Verdict.MET:
                self.held.discard(job_id)
                self._admit(job_id, out)
            elif verdict.verdict is Verdict.NEVER:
                out.never[job_id] = verdict.reason

    def _admit(self, job_id: str, out: Released) -> None:
        """Past its dependency: into the core now, or into its array's wait for room."""
        array = self._array_of(job_id)
        if array is None or array.throttle is None:
            if array is not None:
                array.inside += 1
            out.ready.append(job_id)
            return
        b = self.jobs[job_id].batch
        assert b is not None and b.task is not None
        heapq.heappush(array.waiting, (b.task, job_id))
        self._fill(array, out)

    def _fill(self, array: _Array, out: Released) -> None:
        while array.waiting and (array.throttle is None or array.inside < array.throttle):
            _, job_id = heapq.heappop(array.waiting)
            array.inside += 1
            out.ready.append(job_id)


_ENDED = frozenset(s.value for s in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.TIMED_OUT))
