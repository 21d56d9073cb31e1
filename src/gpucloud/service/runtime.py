"""How long a job has run, over all its runs: a preempted job's earlier runs (kept as GPU-seconds on the row when
it was requeued) plus the current or last run. ``started_at`` is only the start of the latest run, so counting
from it alone shows a requeued job as running while it waits."""

from __future__ import annotations

from gpucloud.model.job import JobState
from gpucloud.service.store.models import JobRow

_RUNNING = frozenset({JobState.RUNNING.value, JobState.PREEMPTING.value})


def ran_seconds(job: JobRow, now: float) -> float | None:
    """Seconds ``job`` has run so far (a running job up to ``now``); None if it never started.

    The latest run is still to be counted when it started after the job last entered the queue (a requeue moves
    ``queued_at`` past the run it ends and adds that run to ``attained_gpu_s``)."""
    if job.started_at is None:
        return None
    earlier = job.attained_gpu_s / max(1, job.num_gpus)
    latest = 0.0
    if job.started_at >= job.queued_at:
        if job.state in _RUNNING:
            latest = now - job.started_at
        elif JobState(job.state).terminal and job.ended_at is not None:
            latest = job.ended_at - job.started_at
    return earlier + max(0.0, latest)
