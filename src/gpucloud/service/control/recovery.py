"""Restart recovery: what the loop does first after it (re)gains the database, e.g. after ``kill -9``.

- ``running`` / ``preempting`` jobs: ask the executor to re-attach (pid + start time). Re-attached jobs are
  watched again (a preempting or cancelled one gets its SIGTERM again, with a fresh grace period). If the
  processes are gone, the executor's exit file (if any) decides how the job ended; without one the job fails
  with "process died while the server was down".
- ``admitted`` jobs: the launch journal (:mod:`.journal`) says whether the launch ever began — never: back
  to ``pending``; completed: re-attach with the journaled handle (→ ``running``); begun but not completed:
  ``failed`` (it may have started, and no job is ever launched twice).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from gpucloud.model.job import JobState
from gpucloud.service.control.journal import LaunchJournal, handle_from_json, handle_to_json
from gpucloud.service.control.reconcile import HOLDING, LOST, outcome
from gpucloud.service.control.schedule import ADMITTED, log_dir_of
from gpucloud.service.control.snapshot import JobData
from gpucloud.service.control.tracked import Tracked, track
from gpucloud.service.control.txn import Change, Step
from gpucloud.service.executors.base import Executor, Handle

log = logging.getLogger("gpucloud.control")

NOT_LAUNCHED = "requeued: the server stopped before launching it"
HALF_LAUNCHED = "the server died while launching the job; it may have started, so it is not launched again"
REATTACHED = "started before the server restarted; re-attached"


@dataclass
class Plan:
    """Recovery decisions: transitions to commit, and jobs to watch once they are committed."""

    changes: list[Change] = field(default_factory=list)
    watch: dict[int, Tracked] = field(default_factory=dict)


def _finished(executor: Executor, job: Tracked, now: float) -> Step:
    """The final step of a job that could not be re-attached: from its exit file if readable, else lost."""
    try:
        status = executor.poll(job.handle)
    except Exception as exc:
        return Step(JobState.FAILED, f"{LOST} (cannot read its status: {exc})", now)
    if status is None or status.exit_code is None:
        return Step(JobState.FAILED, LOST, now)
    return outcome(job, status, now).steps[0]


def _reattach(executor: Executor, handle: Handle) -> bool | str:
    """True/False from the executor, or why the handle cannot be used at all."""
    if handle.executor != executor.name:
        return f"it was launched by the {handle.executor!r} executor but the server now runs {executor.name!r}"
    try:
        return executor.reattach(handle)
    except Exception as exc:
        return f"cannot re-attach: {exc}"


def plan_one(executor: Executor, row: JobData, data_dir: Path, now: float, plan: Plan) -> None:
    state = row.state
    if state == JobState.ADMITTED.value:
        journal = LaunchJournal(log_dir_of(data_dir, row.id), row.run_count + 1)
        if not journal.intended():
            plan.changes.append(Change(row.id, ADMITTED, (Step(JobState.PENDING, NOT_LAUNCHED, now),)))
            return
        handle = journal.read_handle()
        if handle is None:
            plan.changes.append(Change(row.id, ADMITTED, (Step(JobState.FAILED, HALF_LAUNCHED, now),)))
            return
        start = Step(JobState.RUNNING, REATTACHED, now, {"handle": handle_to_json(handle)})
        job = track(row, handle, now)
        job.state = JobState.RUNNING
        ok = _reattach(executor, handle)
        if isinstance(ok, str):
            plan.changes.append(Change(row.id, ADMITTED, (start, Step(JobState.FAILED, f"{LOST}: {ok}", now))))
        elif ok:
            plan.changes.append(Change(row.id, ADMITTED, (start,)))
            plan.watch[row.id] = job
        else:
            plan.changes.append(Change(row.id, ADMITTED, (start, _finished(executor, job, now))))
        return
    handle = handle_from_json(row.handle)
    if handle is None:
        plan.changes.append(Change(row.id, HOLDING, (Step(JobState.FAILED, f"{LOST} (no handle recorded)", now),)))
        return
    job = track(row, handle, now)
    ok = _reattach(executor, handle)
    if isinstance(ok, str):
        plan.changes.append(Change(row.id, HOLDING, (Step(JobState.FAILED, f"{LOST}: {ok}", now),)))
    elif ok:
        plan.watch[row.id] = job
    else:
        plan.changes.append(Change(row.id, HOLDING, (_finished(executor, job, now),)))


def plan_recovery(executor: Executor, active: list[JobData], data_dir: Path, now: float) -> Plan:
    plan = Plan()
    for row in active:
        try:
            plan_one(executor, row, data_dir, now, plan)
        except Exception as exc:  # one bad row must not stop recovery
            log.exception("job %s: recovery failed", row.id)
            plan.changes.append(Change(row.id, HOLDING | ADMITTED,
                                       (Step(JobState.FAILED, f"recovery after a restart failed: {exc}", now),)))
    return plan
