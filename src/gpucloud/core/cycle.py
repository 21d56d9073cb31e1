"""One scheduling cycle, in named steps (after Kueue's): take the queue in policy order, try to place each
job (quota gate, then topology-aware placement), admit it, or else — by the policy's mode — block the queue
(fifo), reserve for it (backfill) or skip it, and look for victims to preempt for it.

The cycle changes the scheduler state as it admits (GPUs are taken at once, so later jobs see them used);
preemption only marks victims — their GPUs stay held until the caller reports them stopped.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator

from gpucloud.core.aging import next_starving, overdue, overdue_first, starving
from gpucloud.core.bookings import Fence
from gpucloud.core.fit_memory import FitMemory
from gpucloud.core.free_index import low_bits
from gpucloud.core.lifetime import span, stopping
from gpucloud.core.placement import find_placement, give, take
from gpucloud.core.policies.base import Mode, Policy
from gpucloud.core.preemption import choose_victims
from gpucloud.core.quiet import Quiet
from gpucloud.core.reservation import Reservation, consume, earliest_start, violates
from gpucloud.core.services import after_queue, serve
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
    saved = index.memory.save()
    index.caching = False
    try:
        for node, spare in res.spare.items():
            extra = index.free[node] - max(0, spare)
            if extra > 0:
                hold = low_bits(index.mask[node], extra)
                index.take(node, hold)
                held.append((node, hold))
        return place(state, opts)
    finally:
        for node, hold in held:
            index._set(node, index.mask[node] | hold)
        index.caching = True
        index.memory.restore(saved)


def admit(state: SchedulerState, policy: Policy, job: PendingJob, placement: Placement, now: float) -> RunningJob:
    take(state.index, placement)
    run = RunningJob(job.spec, placement, now, policy.start_attained(job, now), job.remaining,
                     seq=state.seq[job.spec.id])
    del state.pending[job.spec.id]
    state.unqueued(job)
    state.nominated.pop(job.spec.id, None)
    state.holding(run)
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
    fence = state.fence
    fenced = fence.fenced_jobs(state.running) if fence is not None else ()

    def candidates(gpu_type: str) -> Iterator[RunningJob]:
        """The policy's victims on ``gpu_type``, produced as the search needs them (it stops soon after they
        make room)."""
        for v in policy.victims(job, now):
            if (v.placement.gpu_type == gpu_type and v.spec.id not in fresh and v.spec.id not in fenced
                    and not stopping(v, now)):
                yield v

    for gpu_type, shape in opts:
        victims = choose_victims(state, gpu_type, shape, candidates(gpu_type), policy.victim_tier)
        if victims:
            for v in victims:
                preempt(policy, v, now, job.spec.id)
                result.preemptions.append(Preemption(v.spec.id, job.spec.id, _why(v, job)))
            state.nominated[job.spec.id] = {v.spec.id for v in victims}
            return True
    return False


def preempt(policy: Policy, run: RunningJob, now: float, for_job: str | None) -> None:
    """Mark a victim preempted at ``now`` (for ``for_job``; None: for a booking): it stops after its grace."""
    run.preempting = True
    run.preempted_for = for_job
    policy.set_stop(run, now)


def hold_for(state: SchedulerState, job: PendingJob, opts: list[tuple[str, Shape]],
             held: list[tuple[int, int]]) -> None:
    """Keep free, for the rest of the cycle, the GPUs a job waiting for its victims will take.

    Without this, GPUs already freed by some victims (or free GPUs the preemptor's placement counts on) go
    to jobs ranked after it, the preemptor never fits, preempts again, and so on for ever.
    """
    index = state.index
    victims = [state.running[v].placement for v in state.nominated.get(job.spec.id, ()) if v in state.running]
    saved = index.memory.save()
    index.caching = False
    try:
        for p in victims:
            give(index, p)
        found = place(state, opts)
    finally:
        for p in victims:
            take(index, p)
        index.caching = True
        index.memory.restore(saved)
    if found is None:
        return
    for node, wanted in found.masks:
        mask = wanted & index.mask[node]
        if mask:
            index.take(node, mask)
            held.append((node, mask))


#: the ``for_job`` of a preemption that clears a reservation's nodes (followed by the booking id)
RESERVATION_VICTIM = "reservation:"


def _why(victim: RunningJob, job: PendingJob) -> str:
    if victim.spec.priority < job.spec.priority:
        return f"priority: job {job.spec.id} has a higher priority class"
    return f"policy: job {job.spec.id} ranks before it"


#: an empty failure memory shared by cycles until they remember a failure (then they get their own)
_NO_FAILURES = FitMemory()


class _Cycle:
    """The bookkeeping of one cycle: what was admitted, the reservation, and what failed already."""

    def __init__(self, state: SchedulerState, policy: Policy, now: float, explain: bool) -> None:
        self.state = state
        self.fence = state.fence
        #: jobs ending by this time may backfill onto booked nodes: they are never "hopeless" by the memories
        self.early_until = None if self.fence is None else self.fence.early_until
        self.policy = policy
        self.now = now
        self.explain = explain
        self.result = CycleResult()
        self.admitted: list[PendingJob] = []
        self.fresh: set[str] = set()
        #: strict mode: the job that blocks the queue
        self.blocked: PendingJob | None = None
        #: a job was refused by quota (it does not block the queue)
        self.refused_seen = False
        #: backfill: the first job that could not start, and its reservation — computed only when a later
        #: job could start and must be checked against it (or when the cycle is explained)
        self.head: tuple[str, list[tuple[str, Shape]]] | None = None
        self._reservation: Reservation | None = None
        self._planned = False
        self.attempts = state.config.max_preemption_attempts
        #: shapes that could not be placed around the reservation / could not preempt enough
        self.around_failed = _NO_FAILURES
        self.preempt_failed = _NO_FAILURES
        #: the :meth:`Policy.victim_class` of jobs that found no victims (their like find none either)
        self.kinds_failed: set[Hashable] = set()
        self.hopeless_classes: set[tuple[int, bool]] = set()
        self.exhausted = False
        #: shape classes with queued jobs not yet known to be hopeless; listed at the first closing of one
        self.open_classes: set[int] | None = None
        #: GPUs kept free for jobs waiting for their victims to stop (given back at the end of the cycle)
        self.held: list[tuple[int, int]] = []
        #: jobs waiting for their victims that this cycle has not stepped yet (each holds its GPUs in turn)
        self.unseen_nominated = set(state.nominated)

    def reservation(self) -> Reservation | None:
        """The head job's reservation (EASY backfill), planned on first use in this cycle, on this cycle's state —
        or the plan of an earlier cycle if neither the free GPUs nor the running jobs changed since (then only
        the time moved, and the plan with it): a job admitted ahead of the head changes the free GPUs."""
        if self.head is not None and not self._planned:
            self._planned = True
            jid, opts = self.head
            state = self.state
            fence = self.fence
            key = (jid, tuple(opts), state.index.version, state.ends_version)
            cached = state.reservation_cache
            if fence is None and cached is not None and cached[0] == key:
                res = cached[1]
                self._reservation = None if res is None else Reservation(
                    jid, max(self.now, res.start), res.placement, dict(res.spare))
            else:
                by_end = self.policy.running_by_end()
                if fence is not None:
                    by_end = (r for r in by_end if not fence.touches(r.placement))
                self._reservation = earliest_start(state, jid, opts, by_end, self.now)
                if fence is None:
                    res = self._reservation
                    state.reservation_cache = (key, None if res is None else Reservation(
                        jid, res.start, res.placement, dict(res.spare)))
            if self._reservation is not None:
                self.result.head_reservation = (jid, self._reservation.start)
        return self._reservation

    def done(self) -> bool:
        """Nothing more can happen this cycle: no GPU can be placed and no preemption is left to try, or
        every kind of job still in the queue is known to be hopeless."""
        if self.blocked is not None:
            return True
        if self.all_hopeless():
            return True
        if not self.exhausted:
            # Free capacity only shrinks and failure memories only grow within a cycle.
            self.exhausted = self.state.index.exhausted()
            if not self.exhausted:
                return False
        if self.early_until is not None:
            return False
        return self.attempts <= 0 or not self.policy.may_preempt()

    def all_hopeless(self) -> bool:
        """Is every kind of job still queued known to be hopeless, and every job waiting for its victims done
        (so that nothing is left for this cycle)?"""
        return self.open_classes is not None and not self.open_classes and not self.unseen_nominated

    def place_job(self, job: PendingJob, opts: list[tuple[str, Shape]]) -> Placement | None:
        if self.may_go_early(job):
            assert self.fence is not None
            placement = self.fence.place_early(opts, self.now + span(job.spec))
        else:
            placement = place(self.state, opts)
        if placement is None:
            return None
        res = self.reservation()
        if res is None or self.now + span(job.spec) <= res.start:
            return placement
        if violates(res, placement):
            opts = [(t, sh) for t, sh in opts if not self.around_failed.known(t, sh.nodes, sh.per_node)]
            placement = place_around(self.state, opts, res) if opts else None
            if placement is None:
                if self.around_failed is _NO_FAILURES:
                    self.around_failed = FitMemory()
                for t, sh in opts:
                    self.around_failed.remember(t, sh.nodes, sh.per_node)
                return None
        consume(res, placement)
        return placement

    def preempt_for(self, job: PendingJob, opts: list[tuple[str, Shape]]) -> bool:
        if self.attempts <= 0:
            return False
        monotone = self.policy.monotone_victims
        if monotone:
            opts = [(t, sh) for t, sh in opts if not self.preempt_failed.known(t, sh.nodes, sh.per_node)]
            if not opts:
                return False
        self.attempts -= 1  # a job whose like found nothing counts too: the cycle still ends after so many
        kind = self.policy.victim_class(job)
        if kind is not None and kind in self.kinds_failed:
            return False
        if try_preempt(self.state, self.policy, job, opts, self.now, self.result, self.fresh):
            return True
        if kind is not None:
            self.kinds_failed.add(kind)
        if monotone:
            if self.preempt_failed is _NO_FAILURES:
                self.preempt_failed = FitMemory()
            for t, sh in opts:
                self.preempt_failed.remember(t, sh.nodes, sh.per_node)
        return False

    def hopeless(self, job: PendingJob) -> bool:
        """True when the job can neither be placed nor preempt, and its failure changes nothing for the
        jobs behind it — decided from the failure memories alone, without looking at quotas."""
        if self.policy.mode is Mode.STRICT or self.may_head(job) or self.may_go_early(job):
            return False
        memory = self.state.index.memory
        shapes = self.state.shapes[job.spec.id]
        if self.runs_past_reservation(job):
            around = self.around_failed
            # and it does not preempt (see step)
            return all(memory.known(t, sh.nodes, sh.per_node) or around.known(t, sh.nodes, sh.per_node)
                       for t, sh in shapes)
        if not all(memory.known(t, sh.nodes, sh.per_node) for t, sh in shapes):
            return False
        if job.spec.id in self.state.nominated or self.attempts <= 0 or not self.policy.may_preempt():
            return True
        kind = self.policy.victim_class(job)
        if kind is not None and kind in self.kinds_failed:
            return True
        failed = self.preempt_failed
        return self.policy.monotone_victims and all(failed.known(t, sh.nodes, sh.per_node) for t, sh in shapes)

    def close_class(self, cls: tuple[int, bool]) -> None:
        """Forget a class once no queued job of it can start: hopeless even when ending before the
        reservation, or hopeless when running past it and every queued job of the class does."""
        shape_class, long = cls
        if long:
            res = self._reservation
            spans = self.state.class_spans[shape_class]
            if res is None or not spans or self.now + spans[0] <= res.start:
                return
        if self.open_classes is None:
            self.open_classes = {c for c, spans in self.state.class_spans.items() if spans}
        self.open_classes.discard(shape_class)

    def may_head(self, job: PendingJob) -> bool:
        """Would the job become the head (and get a reservation) if it cannot start? Under backfill the first
        such job does; under a skipping policy the first starving one (:mod:`gpucloud.core.aging`)."""
        if self.head is not None:
            return False
        mode = self.policy.mode
        return mode is Mode.BACKFILL or (mode is Mode.SKIP and starving(self.state, job, self.now))

    def may_go_early(self, job: PendingJob) -> bool:
        """Could the job backfill onto booked nodes (it ends, grace included, before some booking opens, and its
        shapes are not already known not to fit there)?"""
        ends = self.now + span(job.spec)
        if self.early_until is None or ends > self.early_until:
            return False
        assert self.fence is not None
        return not self.fence.early_hopeless(self.state.shapes[job.spec.id], ends)

    def step_booked(self, job: PendingJob) -> None:
        """A job naming a booking: start it on the booking's nodes when the window is open and it fits."""
        state, now, jid = self.state, self.now, job.spec.id
        booking = state.bookings.get(job.spec.reservation or "")
        fence = self.fence
        # By its walltime, as the service checks at submission: its grace may run past the window (a job of
        # another org on those nodes in a next window would be preempted then, as any trespasser).
        if (booking is None or fence is None or booking.org != job.spec.org or not booking.open_at(now)
                or now + job.spec.walltime > booking.end):
            self.result.waiting[jid] = WaitReason.RESERVATION
            return
        placement = fence.place_booked(booking, state.shapes[jid])
        if placement is None:
            self.result.waiting[jid] = WaitReason.NO_FIT
            return
        self.start(job, placement)

    def start(self, job: PendingJob, placement: Placement) -> None:
        if self.fence is not None:
            self.fence.unhide(placement)
        run = admit(self.state, self.policy, job, placement, self.now)
        self.admitted.append(job)
        self.fresh.add(job.spec.id)
        self.result.admissions.append(Admission(job.spec.id, placement, run.attained_before))

    def runs_past_reservation(self, job: PendingJob) -> bool:
        res = self._reservation
        return res is not None and self.now + span(job.spec) > res.start

    def step(self, job: PendingJob) -> None:
        """Try one job: admit it, or record why not (and reserve, block or preempt by the policy's mode)."""
        state, result, jid = self.state, self.result, job.spec.id
        self.unseen_nominated.discard(jid)
        if self.hopeless(job):
            if jid in state.nominated:
                result.waiting[jid] = WaitReason.PREEMPTING
                hold_for(state, job, options(state, job)[0], self.held)
                return
            # Failure memories only grow within a cycle, so every job of its class is hopeless too (a job
            # running past the reservation can fail for more reasons than one that ends before it).
            cls = (state.shape_class[jid], self.runs_past_reservation(job))
            self.hopeless_classes.add(cls)
            self.close_class(cls)
            result.waiting[jid] = self.idle_reason()
            return
        opts, refused = options(state, job)
        placement = self.place_job(job, opts) if opts else None
        if placement is not None:
            self.start(job, placement)
            return
        if not opts:
            result.waiting[jid] = WaitReason.QUOTA
            self.refused_seen = True
            return
        # A job ranked after the head that would still run at the head's reservation does not preempt: the
        # reservation would keep it from the GPUs its victims free, which would go to others (and it would
        # preempt again, for ever).
        behind = self.head is not None and (res := self.reservation()) is not None and (
            self.now + span(job.spec) > res.start)
        preempting = jid in state.nominated or (not behind and self.preempt_for(job, opts))
        if preempting:
            result.waiting[jid] = WaitReason.PREEMPTING
        else:
            result.waiting[jid] = self.idle_reason(refused)
        mode = self.policy.mode
        if mode is Mode.STRICT:
            self.blocked = job
        elif self.may_head(job):
            self.head = (jid, opts)
        if preempting:
            hold_for(state, job, opts, self.held)

    def idle_reason(self, refused: bool = False) -> str:
        if self.blocked is not None:
            return WaitReason.BLOCKED
        if self.head is not None:
            return WaitReason.RESERVED
        return WaitReason.QUOTA if refused else WaitReason.NO_FIT


def run_cycle(state: SchedulerState, policy: Policy, now: float, *, explain: bool = False) -> CycleResult:
    """Admit what fits, reserve or block by the policy's mode, and preempt where the policy allows."""
    state.index.new_cycle()
    policy.begin_cycle(now)
    policy.prepare(now)
    fence = None
    if state.bookings or state.down:
        fence = state.fence = Fence(state.index, state.bookings, state.down, now)
    try:
        result = _run(state, policy, now, explain)
    finally:
        if fence is not None:
            fence.restore()
            state.fence = None
    if fence is not None:
        result.wake_at = min((t for t in (result.wake_at, fence.wake_at()) if t is not None), default=None)
    return result


def _run(state: SchedulerState, policy: Policy, now: float, explain: bool) -> CycleResult:
    cycle = _Cycle(state, policy, now, explain)
    result = cycle.result
    # Services first: falls free GPUs for this cycle's queue; rises start replicas and plan their GPUs.
    served = None if state.services is None else serve(state.services, state.index, state.running, policy, now,
                                                       result)
    if cycle.fence is not None:
        for run, booking in cycle.fence.trespassers(state.running):
            preempt(policy, run, now, None)
            result.preemptions.append(Preemption(run.spec.id, f"{RESERVATION_VICTIM}{booking.id}",
                                                 f"reservation {booking.id} holds its node from now", booking.id))
        # Jobs naming a booking do not queue behind the others: their nodes are theirs alone.
        seq = state.seq
        for job in sorted((j for j in state.pending.values() if j.spec.reservation is not None),
                          key=lambda j: seq[j.spec.id]):
            cycle.step_booked(job)
    jobs = policy.order(now)
    if policy.bounds_waits:
        first = overdue(state, now)
        if first:
            jobs = overdue_first(jobs, first)
    hopeless, shape_class, nominated = cycle.hopeless_classes, state.shape_class, state.nominated
    early_until = cycle.early_until
    for job in jobs:
        jid = job.spec.id
        if job.spec.reservation is not None:
            if explain:
                result.order.append(jid)
                if jid in state.pending:
                    result.waiting.setdefault(jid, WaitReason.RESERVATION)
            continue
        # Fast path: a job of a class already known to be hopeless in this cycle.
        if hopeless and (shape_class[jid], cycle.runs_past_reservation(job)) in hopeless and (
                jid not in nominated and (early_until is None or not cycle.may_go_early(job))
                and not cycle.may_head(job)) and not cycle.all_hopeless():
            if explain:
                result.order.append(jid)
                result.waiting[jid] = cycle.idle_reason()
            continue
        if cycle.done():
            if explain:
                rest = cycle.idle_reason()
                result.order.append(jid)
                result.waiting[jid] = rest
                for other in jobs:
                    result.order.append(other.spec.id)
                    if other.spec.reservation is None:
                        result.waiting[other.spec.id] = rest
            break
        if explain:
            result.order.append(jid)
        cycle.step(job)
    if explain:
        cycle.reservation()
    for node, mask in cycle.held:
        state.index.give(node, mask)
    if served is not None:
        assert state.services is not None
        for node, mask in served.hidden:
            state.index.give(node, mask)
        after_queue(state.services, served, result, {a.job_id: state.running[a.job_id].spec.grace
                                                     for a in result.admissions}, now)
    for job in cycle.admitted:
        policy.dequeue(job)
    result.wake_at = policy.wake_at(now)
    if served is not None and served.wake_at is not None and (result.wake_at is None
                                                                or served.wake_at < result.wake_at):
        result.wake_at = served.wake_at
    if policy.mode is Mode.SKIP and state.pending:
        for at in (next_starving(state, now, state.config.starve_after),
                   next_starving(state, now, state.config.overdue_after) if policy.bounds_waits else None):
            if at is not None and (result.wake_at is None or at < result.wake_at):
                result.wake_at = at
    # Strict mode, nothing started or preempted, the head blocked: until something changes (a release, a
    # job ranked before the head, bookings), the next cycle would find the same (see Scheduler.cycle).
    head = cycle.blocked
    state.quiet = (Quiet(head, policy.queue_key(head), cycle.refused_seen)
                   if head is not None and not result.admissions and not result.preemptions and cycle.fence is None
                   and not state.nominated else None)
    return result
