"""The scheduling core's front door: the one object the simulator and the live control plane drive.

Pure: no I/O, no clock (``now`` is always passed in), no threads. Callers report what happened — a job was
submitted, finished, was cancelled, stopped after preemption — and call :meth:`Scheduler.cycle` for
decisions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gpucloud.core.bookings import Booking
from gpucloud.core.cycle import run_cycle
from gpucloud.core.placement import give, take
from gpucloud.core.policies import POLICIES
from gpucloud.core.policies.base import Mode, Policy
from gpucloud.core.quiet import still_quiet
from gpucloud.core.shapes import job_shapes, nodes_at_least
from gpucloud.core.state import DecayedUsage, SchedulerConfig, SchedulerState
from gpucloud.core.types import CycleResult, PendingJob, RunningJob
from gpucloud.errors import InputError
from gpucloud.model.cluster import Cluster
from gpucloud.model.job import Shape
from gpucloud.model.org import Org


class Scheduler:
    def __init__(
        self,
        cluster: Cluster,
        orgs: Mapping[str, Org] | None = None,
        policy: str = "fifo",
        config: SchedulerConfig | None = None,
        usage: DecayedUsage | None = None,
    ) -> None:
        """``usage``: fair share's decayed usage to continue from (kept by a caller that rebuilds schedulers)."""
        self.cluster = cluster
        self.state = SchedulerState(cluster, dict(orgs or {}), config or SchedulerConfig())
        if usage is not None:
            self.state.usage = usage
        self.policy: Policy = POLICIES.get(policy)(self.state)
        self.state.track_waits = self.policy.mode is Mode.SKIP
        self.state.track_spans = self.state.track_ends = self.policy.mode is not Mode.STRICT
        self._nodes_at_least = nodes_at_least(cluster)
        self._shapes: dict[tuple[str | None, int, int | None], list[tuple[str, Shape]]] = {}

    # -- what callers report ----------------------------------------------------------------------------
    def shapes_for(self, job: PendingJob) -> list[tuple[str, Shape]]:
        """The (GPU type, shape) pairs a job can ever use (:func:`gpucloud.core.shapes.job_shapes`); raises
        InputError naming the field if none. Remembered per (type, GPUs, nodes): a trace repeats a few."""
        spec = job.spec
        key = (spec.gpu_type, spec.num_gpus, spec.nodes)
        shapes = self._shapes.get(key)
        if shapes is None:
            shapes = self._shapes[key] = job_shapes(self.cluster, spec, self._nodes_at_least)
        return shapes

    def set_bookings(self, bookings: Iterable[Booking]) -> None:
        """The approved advance reservations (replacing those set before); see :mod:`gpucloud.core.bookings`."""
        self.state.bookings = {b.id: b for b in bookings}
        self.state.quiet = None

    def set_down(self, nodes: Iterable[int]) -> None:
        """The nodes (indices) that take no new job."""
        self.state.down = frozenset(nodes)
        self.state.quiet = None

    def ran_between(self, org: str, gpu_type: str, gpus: int, start: float, end: float) -> None:
        """A run this scheduler never held used GPUs from ``start`` to ``end``: it stopped since the caller's
        last cycle (fair share counts it in its usage at the next cycle, as it counts the runs it saw stop)."""
        self.policy.ran_between(org, gpu_type, gpus, start, end)

    def submit(self, job: PendingJob) -> None:
        """Queue a job (``job.queued_since`` defaults to its submit time, ``job.seq`` to the next number)."""
        jid = job.spec.id
        if jid in self.state.pending or jid in self.state.running:
            raise InputError("id", "a job with this id is already known", jid)
        self._classify(jid, self.shapes_for(job))
        self._enqueue(job)

    def _classify(self, job_id: str, shapes: list[tuple[str, Shape]]) -> None:
        self.state.shapes[job_id] = shapes
        classes = self.state.shape_classes
        self.state.shape_class[job_id] = classes.setdefault(tuple(shapes), len(classes))

    def _enqueue(self, job: PendingJob) -> None:
        if job.queued_since is None:
            job.queued_since = job.spec.submit_time
        job.seq = self.state.number(job.spec.id, job.seq)
        self.state.pending[job.spec.id] = job
        self.state.queued(job)
        self.state.org(job.spec.org)
        self.policy.enqueue(job)
        quiet = self.state.quiet
        if quiet is not None and self.policy.queue_key(job) < quiet.key:
            self.state.quiet = None

    def cancel_pending(self, job_id: str) -> PendingJob:
        self.state.quiet = None
        job = self.state.pending.pop(job_id)
        self.state.unqueued(job)
        self.policy.dequeue(job)
        self.state.nominated.pop(job_id, None)
        self._forget(job_id)
        return job

    def restore_running(self, job: RunningJob) -> None:
        """Put back a job that already holds GPUs (a control plane rebuilding its state after a restart). A job
        being preempted for a pending job (``job.preempted_for``) keeps that job waiting for it, without
        looking for other victims."""
        jid = job.spec.id
        try:
            shapes = self.shapes_for(PendingJob(job.spec))
        except InputError:  # the cluster changed under it: it keeps what it has (and may not come back)
            shapes = [(job.placement.gpu_type, Shape(len(job.placement.nodes), len(job.placement.nodes[0][1])))]
        self._classify(jid, shapes)
        job.seq = self.state.number(jid, job.seq)
        if job.preempted_for is not None:
            self.state.nominated.setdefault(job.preempted_for, set()).add(jid)
        take(self.state.index, job.placement)
        self.state.quiet = None
        self.state.holding(job)
        self.policy.started(job)

    def release(self, job_id: str, now: float) -> RunningJob:
        """A running job stopped for good (finished, failed, cancelled, timed out): free its GPUs."""
        run = self._stop(job_id, now)
        self._forget(job_id)
        return run

    def requeue(self, job_id: str, now: float, *, attained: float | None = None,
                remaining: float | None = None) -> PendingJob:
        """A preempted job stopped: free its GPUs and queue it again with the service it kept. ``remaining``
        defaults to what was known (None — the walltime — when nothing was: each run may last a walltime)."""
        run = self._stop(job_id, now)
        if remaining is None and run.remaining is not None:
            remaining = run.remaining_at(now)
        job = PendingJob(run.spec, run.attained(now) if attained is None else attained, remaining, now, run.seq)
        self._enqueue(job)
        return job

    def _stop(self, job_id: str, now: float) -> RunningJob:
        if self.state.quiet is not None:
            self.state.quiet.released = True
        run = self.state.dropped(job_id)
        give(self.state.index, run.placement)
        self.policy.stopped(run)
        self.policy.ran_between(run.spec.org, run.placement.gpu_type, run.placement.gpus, run.start, now)
        for waiting, victims in list(self.state.nominated.items()):
            victims.discard(job_id)
            if not victims:
                del self.state.nominated[waiting]
        return run

    def _forget(self, job_id: str) -> None:
        self.state.shapes.pop(job_id, None)
        self.state.shape_class.pop(job_id, None)
        self.state.seq.pop(job_id, None)

    # -- decisions --------------------------------------------------------------------------------------
    def cycle(self, now: float, *, explain: bool = False) -> CycleResult:
        """Run one scheduling cycle at time ``now``. With ``explain`` every pending job gets a wait reason."""
        quiet = self.state.quiet
        if self.state.services is not None:  # demand moves with time: every cycle serves the services first
            self.state.quiet = quiet = None
        if quiet is not None and not explain and still_quiet(self.state, self.policy, quiet):
            return CycleResult()  # it would admit and preempt nothing (:mod:`gpucloud.core.quiet`)
        if not self.state.pending and not self.state.bookings and self.state.services is None:
            # Nothing to decide; the policy still brings its bookkeeping (usage) up to now. (With bookings a
            # window may open on a node someone else's job holds: that job is preempted even with no queue.)
            self.policy.prepare(now)
            return CycleResult()
        return run_cycle(self.state, self.policy, now, explain=explain)
