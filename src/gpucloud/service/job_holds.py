"""Pending jobs that may not run yet although GPUs might be free: those whose dependency is not met (or can never
be met) and the tasks beyond their array's throttle.

:func:`holds` is asked by the control loop's snapshot (:func:`gpucloud.service.control.snapshot.read_snapshot`):
the jobs it returns stay out of the scheduling cycle, with the reason as their wait reason — as jobs a project
cannot pay are. :func:`dependency_housekeeping` runs in the loop's housekeeping: it cancels the pending jobs whose
dependency can never be met (``afterok`` on a job that failed, ...), each with the reason, and then the jobs that
depended on those, until none is left. The rules themselves are the core's (:mod:`gpucloud.core.dependencies`,
:mod:`gpucloud.core.arrays`); this module reads what they need from the database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from functools import partial
from itertools import repeat
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gpucloud.core.arrays import throttled
from gpucloud.core.dependencies import (
    Condition,
    Judgement,
    Progress,
    Target,
    Verdict,
    judge,
    progress,
    singleton_blockers,
)
from gpucloud.model.job import JobState
from gpucloud.service.control.txn import Change, Step, Transactions, job_select, jobs_table

#: A job row of :func:`gpucloud.service.control.txn.job_select` (plain, no ORM object).
JobData = Any

PENDING = frozenset({JobState.PENDING.value})


def holds(session: Session, pending: Sequence[JobData], active: Sequence[JobData]) -> dict[int, str]:
    """The pending jobs held back (job id → wait reason): by a dependency that is not met, then by their array's
    throttle (``active``: the jobs holding GPUs, whose tasks count against it)."""
    waiting = [row for row in pending if row.dependency is not None]
    held = {jid: j.reason for jid, j in judge_rows(session, waiting, pending, active).items()
            if j.verdict is not Verdict.MET}
    tasks = [(row.id, row.array_job_id, row.array_task_id, row.array_throttle) for row in pending
             if row.array_throttle is not None and row.id not in held]
    if tasks:
        holding = Counter(row.array_job_id for row in active if row.array_job_id is not None)
        held.update(throttled(tasks, holding))
    return held


def dependency_housekeeping(txns: Transactions, sessions: sessionmaker[Session], now: float) -> bool:
    """Cancel every pending job whose dependency can never be met, with the reason; then those that depended on
    them, and so on. True when pending jobs depend on others or some were cancelled: the loop then runs a
    scheduling cycle, which sees dependencies met by the loop's own doing (a start, these cancellations)."""
    jobs = jobs_table()
    stmt = job_select().where(jobs.c.state == JobState.PENDING.value, jobs.c.dependency.is_not(None))
    while True:
        with sessions() as session:
            rows = list(session.execute(stmt))
            never = {jid: j.reason for jid, j in judge_rows(session, rows, (), ()).items()
                     if j.verdict is Verdict.NEVER}
        if not never:
            return bool(rows)
        out = txns.apply([Change(jid, PENDING, (Step(JobState.CANCELLED, why, now),)) for jid, why in never.items()])
        if not out.applied:  # someone else moved them meanwhile: the next housekeeping looks again
            return True


def judge_rows(session: Session, rows: Sequence[JobData], pending: Sequence[JobData],
               active: Sequence[JobData]) -> dict[int, Judgement]:
    """The verdict on each row's dependency. ``pending`` and ``active`` are the jobs already read (their states
    are used as they are, and the singleton rule needs them); the other jobs named are read here."""
    if not rows:
        return {}
    conditions: dict[int, Condition] = {}
    of_array: dict[int, Condition] = {}  # an array's tasks share their submission's condition: read it once
    for row in rows:
        cond = of_array.get(row.array_job_id) if row.array_job_id is not None else None
        if cond is None:
            cond = Condition.from_json(row.dependency)
            if row.array_job_id is not None:
                of_array[row.array_job_id] = cond
        conditions[row.id] = cond
    known = _Known(session, [*pending, *active], set(conditions.values()))
    blockers: dict[int, int] = {}
    singles = [jid for jid, c in conditions.items() if c.singleton]
    if singles:
        blockers = singleton_blockers(((r.id, r.user_name, r.name) for r in active),
                                      ((r.id, r.user_name, r.name) for r in pending), singles)
    out: dict[int, Judgement] = {}
    verdicts: dict[tuple[int, int | None, int | None], Judgement] = {}
    for row in rows:  # the same condition, task (for aftercorr) and singleton blocker: the same verdict
        cond, blocker = conditions[row.id], blockers.get(row.id)
        task = row.array_task_id if any(t.kind == "aftercorr" for t in cond.targets) else None
        key = (id(cond), task, blocker)
        if key not in verdicts:
            verdicts[key] = judge(cond, partial(known.progress, task=task), blocker)
        out[row.id] = verdicts[key]
    return out


class _Known:
    """What is known of the jobs and arrays some conditions name: from the rows already read, else the
    database (one query for jobs, one for whole arrays, one for arrays whose tasks are named one by one)."""

    def __init__(self, session: Session, rows: Sequence[JobData], conditions: Iterable[Condition]) -> None:
        targets = [t for c in conditions for t in c.targets]
        wanted = {t.job for t in targets if t.job is not None}
        self.jobs: dict[int, tuple[str, bool]] = {r.id: (r.state, _started(r)) for r in rows if r.id in wanted}
        jobs = jobs_table()
        missing = wanted - self.jobs.keys()
        if missing:
            for jid, state, runs in session.execute(select(jobs.c.id, jobs.c.state, jobs.c.run_count)
                                                    .where(jobs.c.id.in_(missing))):
                self.jobs[jid] = (state, runs > 0)
        self.arrays: dict[int, Progress] = {}
        whole = {t.array for t in targets if t.array is not None and t.kind != "aftercorr"}
        if whole:
            counts: dict[int, list[tuple[str, bool, int]]] = {}
            for array, state, runs, n in session.execute(
                    select(jobs.c.array_job_id, jobs.c.state, jobs.c.run_count, func.count())
                    .where(jobs.c.array_job_id.in_(whole))
                    .group_by(jobs.c.array_job_id, jobs.c.state, jobs.c.run_count)):
                counts.setdefault(array, []).append((state, runs > 0, n))
            self.arrays = {a: progress(p for state, started, n in c for p in repeat((state, started), n))
                           for a, c in counts.items()}
        self.tasks: dict[tuple[int, int], tuple[str, bool]] = {}
        corr = {t.array for t in targets if t.kind == "aftercorr"}
        if corr:
            for array, task, state, runs in session.execute(
                    select(jobs.c.array_job_id, jobs.c.array_task_id, jobs.c.state, jobs.c.run_count)
                    .where(jobs.c.array_job_id.in_(corr))):
                self.tasks[(array, task)] = (state, runs > 0)

    def progress(self, target: Target, task: int | None) -> Progress | None:
        if target.job is not None:
            state = self.jobs.get(target.job)
            return None if state is None else progress([state])
        assert target.array is not None
        if target.kind == "aftercorr":
            state = None if task is None else self.tasks.get((target.array, task))
            return None if state is None else progress([state])
        return self.arrays.get(target.array)


def _started(row: JobData) -> bool:
    return bool(row.run_count) or row.state in (JobState.RUNNING.value, JobState.PREEMPTING.value)
