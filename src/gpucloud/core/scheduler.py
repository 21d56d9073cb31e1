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
from gpucloud.core.policies.base import Policy
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
        #: per GPU type, per GPU count p: how many nodes have at least p GPUs
        self._nodes_at_least: dict[str, list[int]] = {}
        for t, m in cluster.max_node_gpus.items():
            counts = [0] * (m + 1)
            for n in cluster.nodes:
                if n.gpu_type == t:
                    counts[n.gpus] += 1
            for p in range(m - 1, -1, -1):
                counts[p] += counts[p + 1]
            self._nodes_at_least[t] = counts

    # -- what callers report ----------------------------------------------------------------------------
    def shapes_for(self, job: PendingJob) -> list[tuple[str, Shape]]:
        """The (GPU type, shape) pairs a job can ever use; raises InputError naming the field if none."""
        spec = job.spec
        cluster = self.cluster
        if spec.gpu_type is not None:
            if spec.gpu_type not in cluster.gpu_types:
                raise InputError("gpu_type", "unknown GPU type for this cluster", spec.gpu_type)
            types = [spec.gpu_type]
        else:
            types = [t for t, n in cluster.max_node_gpus.items() if n > 0]
        out: list[tuple[str, Shape]] = []
        first_error: InputError | None = None
        for t in types:
            try:
                shape = spec.shape(cluster.max_node_gpus[t])
            except InputError as exc:
                first_error = first_error or exc
                continue
            if shape.nodes > self._nodes_at_least[t][shape.per_node]:
                first_error = first_error or InputError(
                    "num_gpus", f"needs {shape.nodes} nodes of {t} but the cluster has fewer", spec.num_gpus)
                continue
            out.append((t, shape))
        if not out:
            raise first_error or InputError("gpu_type", "no GPU type of this cluster fits the job", spec.gpu_type)
        return out

    def set_bookings(self, bookings: Iterable[Booking]) -> None:
        """The approved advance reservations (replacing those set before); see :mod:`gpucloud.core.bookings`."""
        self.state.bookings = {b.id: b for b in bookings}

    def set_down(self, nodes: Iterable[int]) -> None:
        """The nodes (indices) that take no new job."""
        self.state.down = frozenset(nodes)

    def ran_between(self, org: str, gpu_type: str, gpus: int, start: float, end: float) -> None:
        """A run this scheduler never held used GPUs from ``start`` to ``end``: it stopped since the caller's
        last cycle (fair share counts it in its usage at the next cycle)."""
        self.policy.ran_between(org, gpu_type, gpus, start, end)

    def submit(self, job: PendingJob) -> None:
        """Queue a job (``job.queued_since`` defaults to its submit time)."""
        jid = job.spec.id
        if jid in self.state.pending or jid in self.state.running:
            raise InputError("id", "a job with this id is already known", jid)
        shapes = self.shapes_for(job)
        self.state.shapes[jid] = shapes
        classes = self.state.shape_classes
        self.state.shape_class[jid] = classes.setdefault(tuple(shapes), len(classes))
        self._enqueue(job)

    def _enqueue(self, job: PendingJob) -> None:
        if job.queued_since is None:
            job.queued_since = job.spec.submit_time
        self.state.seq.setdefault(job.spec.id, self.state.next_seq())
        self.state.pending[job.spec.id] = job
        self.state.queued(job)
        self.state.org(job.spec.org)
        self.policy.enqueue(job)

    def cancel_pending(self, job_id: str) -> PendingJob:
        job = self.state.pending.pop(job_id)
        self.state.unqueued(job)
        self.policy.dequeue(job)
        self.state.nominated.pop(job_id, None)
        self._forget(job_id)
        return job

    def restore_running(self, job: RunningJob) -> None:
        """Put back a job that already holds GPUs (a control plane rebuilding its state after a restart)."""
        jid = job.spec.id
        self.state.shapes.setdefault(jid, [(job.placement.gpu_type, Shape(len(job.placement.nodes),
                                                                          len(job.placement.nodes[0][1])))])
        self.state.seq.setdefault(jid, self.state.next_seq())
        take(self.state.index, job.placement)
        self.state.running[jid] = job
        self.state.used_of(job.spec.org)[job.placement.gpu_type] += job.placement.gpus
        self.state.running_priorities[job.spec.priority] += 1
        self.policy.started(job)

    def release(self, job_id: str, now: float) -> RunningJob:
        """A running job stopped for good (finished, failed, cancelled, timed out): free its GPUs."""
        run = self._stop(job_id)
        self._forget(job_id)
        return run

    def requeue(self, job_id: str, now: float, *, attained: float | None = None,
                remaining: float | None = None) -> PendingJob:
        """A preempted job stopped: free its GPUs and queue it again with the service it kept."""
        run = self._stop(job_id)
        job = PendingJob(run.spec, run.attained(now) if attained is None else attained,
                         remaining if remaining is not None else run.remaining_at(now), now)
        self._enqueue(job)
        return job

    def _stop(self, job_id: str) -> RunningJob:
        run = self.state.running.pop(job_id)
        give(self.state.index, run.placement)
        used = self.state.used_of(run.spec.org)
        used[run.placement.gpu_type] -= run.placement.gpus
        prio = self.state.running_priorities
        prio[run.spec.priority] -= 1
        if not prio[run.spec.priority]:
            del prio[run.spec.priority]
        self.policy.stopped(run)
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
        if not self.state.pending:
            # Nothing to decide; the policy still brings its bookkeeping (usage) up to now.
            self.policy.prepare(now)
            return CycleResult()
        return run_cycle(self.state, self.policy, now, explain=explain)
