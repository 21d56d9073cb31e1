"""Recovery: what the loop does first when it starts leading (after a restart, ``kill -9``, or a failover to
another replica, possibly on another host). Everything it needs is in the database and on the jobs' hosts.

- ``running`` / ``preempting`` jobs: watched again with their stored handle; the executor reports the ranks that
  ended meanwhile (from their exit files, with the time they ended) or that vanished without a record. A preempting
  or cancelled one gets its SIGTERM again, with a fresh grace period.
- ``admitted`` jobs: the admission is the launch's intent, and the hosts record every rank they start under
  (job, attempt); the executor was fenced with this loop's new epoch first, so no older leader can start one
  anymore. ``find`` then says: no rank started → back to ``pending``; every rank → ``running``, re-attached; only
  some → those are stopped and the job ``failed`` (it may have begun, and no job is ever launched twice).
"""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass, field

from gpucloud.model.job import JobState
from gpucloud.service.control.handles import handle_from_json, handle_to_json
from gpucloud.service.control.reconcile import HOLDING, LOST
from gpucloud.service.control.schedule import ADMITTED
from gpucloud.service.control.snapshot import JobData
from gpucloud.service.control.tracked import Tracked, track
from gpucloud.service.control.txn import Change, Step
from gpucloud.service.executors.base import Executor
from gpucloud.service.store.placement import placement_from_json

log = logging.getLogger("gpucloud.control")

NOT_LAUNCHED = "requeued: the server stopped before launching it"
HALF_LAUNCHED = ("the server stopped while launching the job and only some of its ranks started; they were "
                 "stopped, and the job is not launched again")
REATTACHED = "started before the server restarted; re-attached"


@dataclass
class Plan:
    """Recovery decisions: transitions to commit, and jobs to watch once they are committed."""

    changes: list[Change] = field(default_factory=list)
    watch: dict[int, Tracked] = field(default_factory=dict)


def plan_one(executor: Executor, row: JobData, now: float, plan: Plan) -> None:
    if row.state == JobState.ADMITTED.value:
        _plan_admitted(executor, row, now, plan)
        return
    handle = handle_from_json(row.handle)
    if handle is None:
        plan.changes.append(Change(row.id, HOLDING, (Step(JobState.FAILED, f"{LOST} (no handle recorded)", now),)))
    elif handle.executor != executor.name:
        why = f"it was launched by the {handle.executor!r} executor but the server now runs {executor.name!r}"
        plan.changes.append(Change(row.id, HOLDING, (Step(JobState.FAILED, f"{LOST}: {why}", now),)))
    else:
        plan.watch[row.id] = track(row, handle, now)


def _plan_admitted(executor: Executor, row: JobData, now: float, plan: Plan) -> None:
    if not executor.side_effects:  # launching starts nothing there: simply launch it again
        plan.changes.append(Change(row.id, ADMITTED, (Step(JobState.PENDING, NOT_LAUNCHED, now),)))
        return
    nodes = [p.node for p in placement_from_json(row.placement)]
    found = executor.find(str(row.id), row.run_count + 1, nodes)
    if found.handle is not None:
        start = Step(JobState.RUNNING, REATTACHED, now, {"handle": handle_to_json(found.handle)})
        plan.changes.append(Change(row.id, ADMITTED, (start,)))
        job = track(row, found.handle, now)
        job.state = JobState.RUNNING
        plan.watch[row.id] = job
    elif found.partial is not None:
        executor.signal(found.partial, signal.SIGKILL)
        plan.changes.append(Change(row.id, ADMITTED, (Step(JobState.FAILED, HALF_LAUNCHED, now),)))
    else:
        plan.changes.append(Change(row.id, ADMITTED, (Step(JobState.PENDING, NOT_LAUNCHED, now),)))


def plan_recovery(executor: Executor, active: list[JobData], now: float) -> Plan:
    plan = Plan()
    for row in active:
        try:
            plan_one(executor, row, now, plan)
        except Exception as exc:  # one bad row must not stop recovery
            log.exception("job %s: recovery failed", row.id)
            plan.changes.append(Change(row.id, HOLDING | ADMITTED,
                                       (Step(JobState.FAILED, f"recovery after a restart failed: {exc}", now),)))
    return plan
