"""The driver run forward: when would each pending job start if the running and queued jobs ran as predicted
and nothing else arrived?

A forecast is the scheduler itself, not a model of it: a :class:`~gpucloud.core.driver.Driver` restored from a
copy of the live (or simulated) state (:class:`~gpucloud.core.driver.DriverState`: the queue, the running jobs,
bookings, down nodes, fair share's usage), driven through a small event loop in which every run ends at its
predicted time instead of its real one. The decisions are those of the policy, its quotas, reservations,
preemptions and wake-ups; only the run times are guesses.

* A running job ends ``run_time(spec, gpu_type, elapsed)`` after its start (a predictor conditions that on the
  time it has run already); a job the forward run starts ends ``run_time(spec, gpu_type, 0)`` after that. No run
  outlives its walltime plus grace (:func:`gpucloud.core.lifetime.held_until`).
* A run preempted in the forward run stops after its grace period and queues again with the rest of its
  predicted run (as if it checkpointed when it was stopped).
* Events closer together than ``tolerance`` × their distance from ``now`` share one cycle, at the latest of
  them (ends are still reported at their own times): a start predicted days ahead moves by a small share of
  its wait — far less than the run-time guesses move it — and the forward run of a queue of 10,000 jobs costs
  hundreds of cycles instead of tens of thousands. ``tolerance=0`` gives every event time its own cycle.

Pure, like the rest of the core: the caller passes ``now`` and the predictor.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from gpucloud.core.driver import Driver, DriverState
from gpucloud.core.lifetime import held_until
from gpucloud.core.state import SchedulerConfig
from gpucloud.core.types import CycleResult, RunningJob
from gpucloud.model.cluster import Cluster
from gpucloud.model.job import JobSpec
from gpucloud.model.org import Org

#: a run's predicted length (seconds) on a GPU type, given how long it has run already
RunTime = Callable[[JobSpec, str, float], float]

_END, _WAKE = 0, 1


@dataclass
class Forward:
    """What a forward run found: each job's first predicted start and its GPU type (jobs that never start before
    the horizon are missing), the first cycle's decisions (with ``explain``: every wait reason and the head job),
    and how many cycles it ran."""

    starts: dict[str, float] = field(default_factory=dict)
    #: the GPU type each of those starts is on
    types: dict[str, str] = field(default_factory=dict)
    first: CycleResult = field(default_factory=CycleResult)
    cycles: int = 0


@dataclass(frozen=True, slots=True)
class Setup:
    """What the driver is restored with, besides its state: the cluster, orgs, policy and tunables."""

    cluster: Cluster
    orgs: Mapping[str, Org] | None
    policy: str
    config: SchedulerConfig | None = None


def run_forward(setup: Setup, state: DriverState, now: float, run_time: RunTime, *,
                jobs: Collection[str] | None = None, horizon: float = math.inf, tolerance: float = 0.01,
                explain: bool = False) -> Forward:
    """Run the driver forward from ``state`` at ``now`` until every pending job (or each of ``jobs``) started,
    nothing is left to happen, or the next event is past ``horizon``; ``state`` is not changed."""
    driver = Driver.restore(setup.cluster, setup.orgs, setup.policy, setup.config, state)
    speeds = {name: t.speed for name, t in setup.cluster.gpu_types.items()}
    out = Forward()
    waiting = set(jobs) if jobs is not None else {j.id for j in state.pending}
    waiting.intersection_update(driver.scheduler.state.pending)
    running = driver.scheduler.state.running
    #: per running job: its predicted natural end; per requeued job: the rest of its predicted run (speed-1.0 s)
    natural: dict[str, float] = {}
    rest: dict[str, float] = {}
    heap: list[tuple[float, int, int, str, float]] = []
    seq = 0

    def end_at(run: RunningJob) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(heap, (min(natural[run.id], held_until(run)), _END, seq, run.id, run.start))

    for run in state.running:
        natural[run.id] = run.start + run_time(run.spec, run.placement.gpu_type, max(0.0, now - run.start))
        end_at(running[run.id])
    t = now
    while True:
        result = driver.cycle(t, explain=explain and out.cycles == 0)
        if out.cycles == 0:
            out.first = result
        out.cycles += 1
        for adm in result.admissions:
            jid = adm.job_id
            if jid not in out.starts:
                out.starts[jid] = t
                out.types[jid] = adm.placement.gpu_type
            waiting.discard(jid)
            run = running[jid]
            left = rest.pop(jid, None)
            gpu_type = adm.placement.gpu_type
            natural[jid] = t + (run_time(run.spec, gpu_type, 0.0) if left is None else left / speeds[gpu_type])
            end_at(run)
        for pre in result.preemptions:
            end_at(running[pre.job_id])
        if result.wake_at is not None and result.wake_at > t:
            seq += 1
            heapq.heappush(heap, (result.wake_at, _WAKE, seq, "", 0.0))
        if not waiting or not heap or heap[0][0] > horizon:
            return out
        first = heap[0][0]
        limit = first + tolerance * (first - now)
        while heap and heap[0][0] <= limit:
            at, kind, _, jid, start = heapq.heappop(heap)
            t = max(t, at)
            ending = running.get(jid) if kind == _END else None
            if ending is None or ending.start != start:
                continue  # a wake-up, or the run already ended
            if ending.preempting and natural[jid] > at:
                rest[jid] = (natural[jid] - at) * speeds[ending.placement.gpu_type]
                driver.requeue(jid, at)
            else:
                driver.finished(jid, at)
            del natural[jid]
