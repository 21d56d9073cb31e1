"""One scheduling cycle, in named steps (after Kueue's): take the queue in policy order, try to place each
job (quota gate, then topology-aware placement), admit it, or else — by the policy's mode — block the queue
(fifo), reserve for it (backfill) or skip it, and look for victims to preempt for it.

The cycle changes the scheduler state as it admits (GPUs are taken at once, so later jobs see them used);
preemption only marks victims — their GPUs stay held until the caller reports them stopped.
"""

from __future__ import annotations

from gpucloud.core.placement import find_placement, take
from gpucloud.core.policies.base import Mode, Policy
from gpucloud.core.preemption import choose_victims
from gpucloud.core.reservation import Reservation, consume, earliest_start, violates
from gpucloud.core.state import SchedulerState
from gpucloud.core.types import (
    Admission,
    CycleResult,
    PendingJob,
    Placement,
    Preemption,
    RunningJob,
    WaitReason,
)
from gpucloud.model.job import Shape


def quota_allows(state: SchedulerState, job: PendingJob, gpu_type: str, gpus: int) -> bool:
    """The borrowing limit: an org never holds more than its quota plus its borrowing limit of a type."""
    ceiling = state.org(job.spec.org).ceiling(gpu_type)
    return ceiling is None or state.used_of(job.spec.org)[gpu_type] + gpus <= ceiling


def options(state: SchedulerState, job: PendingJob) -> tuple[list[tuple[str, Shape]], bool]:
    """The (type, shape) pairs the job may use now, and whether any was refused by quota."""
    out = []
    refused = False
    for gpu_type, shape in state.shapes[job.spec.id]:
        if quota_allows(state, job, gpu_type, shape.gpus):
            out.append((gpu_type, shape))
        else:
            refused = True
    return out, refused


def place(state: SchedulerState, opts: list[tuple[str, Shape]]) -> Placement | None:
    for gpu_type, shape in opts:
        found = find_placement(state.index, gpu_type, shape)
        if found is not None:
            return found
    return None


def place_around(state: SchedulerState, opts: list[tuple[str, Shape]], res: Reservation) -> Placement | None:
    """Place while holding back, on each reserved node, the GPUs the reserved head job will need."""
    index = state.index
    held: list[tuple[int, int]] = []
    saved = (dict(index._fail_single), dict(index._fail_gang))
    index.caching = False
    try:
        for node, spare in res.spare.items():
            extra = index.free[node] - max(0, spare)
            if extra > 0:
                mask = index.mask[node]
                hold = 0
                for _ in range(extra):
                    bit = mask & -mask
                    hold |= bit
                    mask ^= bit
                index.take(node, hold)
                held.append((node, hold))
        return place(state, opts)
    finally:
        for node, hold in held:
            index._set(node, index.mask[node] | hold)
        index.caching = True
        index._fail_single, index._fail_gang = saved


def admit(state: SchedulerState, policy: Policy, job: PendingJob, placement: Placement, now: float) -> RunningJob:
    take(state.index, placement)
    run = RunningJob(job.spec, placement, now, job.attained, job.remaining)
    del state.pending[job.spec.id]
    state.nominated.pop(job.spec.id, None)
    state.running[job.spec.id] = run
    state.used_of(job.spec.org)[placement.gpu_type] += placement.gpus
    state.running_priorities[job.spec.priority] += 1
    policy.started(run)
    return run


def try_preempt(
    state: SchedulerState, policy: Policy, job: PendingJob, opts: list[tuple[str, Shape]], now: float,
    result: CycleResult, fresh: set[str] | frozenset[str] = frozenset(),
) -> bool:
    """Find victims for ``job`` on the snapshot; mark them preempting. True if any were chosen.

    ``fresh`` are the jobs admitted earlier in this cycle: they ranked before ``job``, so they are never its
    victims (else e.g. a starving LAS job promoted to the front would be started and stopped at once).
    """
    candidates = [v for v in policy.victims(job, now) if v.spec.id not in fresh]
    if not candidates:
        return False
    for gpu_type, shape in opts:
        victims = choose_victims(state, gpu_type, shape, candidates)
        if victims:
            for v in victims:
                v.preempting = True
                result.preemptions.append(Preemption(v.spec.id, job.spec.id, _why(v, job)))
            state.nominated[job.spec.id] = {v.spec.id for v in victims}
            return True
    return False


def _why(victim: RunningJob, job: PendingJob) -> str:
    if victim.spec.priority < job.spec.priority:
        return f"priority: job {job.spec.id} has a higher priority class"
    return f"policy: job {job.spec.id} ranks before it"


def run_cycle(state: SchedulerState, policy: Policy, now: float, *, explain: bool = False) -> CycleResult:
    """Admit what fits, reserve or block by the policy's mode, and preempt where the policy allows."""
    result = CycleResult()
    state.index.new_cycle()
    policy.prepare(now)
    admitted: list[PendingJob] = []
    fresh: set[str] = set()
    blocked = False
    reservation: Reservation | None = None
    attempts = state.config.max_preemption_attempts
    for job in policy.order(now):
        jid = job.spec.id
        if explain:
            result.order.append(jid)
        if blocked:
            if not explain:
                break
            result.waiting[jid] = WaitReason.BLOCKED
            continue
        opts, refused = options(state, job)
        placement = place(state, opts) if opts else None
        if placement is not None and reservation is not None and now + job.spec.walltime > reservation.start:
            if violates(reservation, placement):
                placement = place_around(state, opts, reservation)
            if placement is not None:
                consume(reservation, placement)
        if placement is not None:
            admit(state, policy, job, placement, now)
            admitted.append(job)
            fresh.add(jid)
            result.admissions.append(Admission(jid, placement))
            continue
        # The job cannot start now.
        if not opts:
            result.waiting[jid] = WaitReason.QUOTA
            continue
        if jid in state.nominated:
            result.waiting[jid] = WaitReason.PREEMPTING
        elif attempts > 0 and try_preempt(state, policy, job, opts, now, result, fresh):
            attempts -= 1
            result.waiting[jid] = WaitReason.PREEMPTING
        else:
            result.waiting[jid] = WaitReason.RESERVED if reservation is not None else (
                WaitReason.QUOTA if refused else WaitReason.NO_FIT)
        if policy.mode is Mode.STRICT:
            blocked = True
        elif policy.mode is Mode.BACKFILL and reservation is None:
            reservation = earliest_start(state, jid, opts, policy.running_by_end(), now)
            if reservation is not None:
                result.head_reservation = (jid, reservation.start)
        if not explain and state.index.total_free == 0 and (attempts <= 0 or not policy.may_preempt()):
            break
    for job in admitted:
        policy.dequeue(job)
    result.wake_at = policy.wake_at(now)
    return result
