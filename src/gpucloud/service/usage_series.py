"""Usage over time per UTC day or month × org × project × GPU type: GPU-hours from what jobs ran, points from the
ledger's charge records.

The dashboard's usage charts read this (``GET /api/v1/usage/series``). :func:`job_runs` reads the runs of jobs
from ``job_events`` (a run starts at the transition to ``running`` and ends at the next transition out of
``running``/``preempting``: to a terminal state, or back to ``pending`` after a preemption; a run still going
counts up to now), so GPU-hours show whether or not a tariff exists. :func:`series` sums GPU-hours and runs from
those runs and points and subsidy from the charges, merged per bucket × org × project × GPU type (a key with runs
but no charges has 0 points; a paid reservation's charge has points but no GPU-hours of its own, the jobs run
inside it bring them). Without ``runs``, :func:`series` takes GPU-hours from the charges as the monthly CSV does.

A run or record that spans bucket boundaries is split by time, as the monthly usage CSV does
(:mod:`gpucloud.money.usage`): each bucket gets the share of the seconds that fell in it; a record's points and
subsidy are split in the same proportions, rounded to 0.0001 half to even, the last bucket taking the remainder,
so the parts of a record always add up to the record. With ``bucket="month"`` and no ``runs`` the numbers are
those of :func:`gpucloud.money.usage.aggregate`.

The GPU type of a run is the job's assigned type (kept when a preempted job is queued again: the type of its
last run; a run on another type before that counts under the last one).

A range ``[since, until)`` selects the buckets whose start lies in ``[bucket_start(since), until)``; each
selected bucket holds all of its usage (the range does not cut a bucket).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gpucloud.errors import InputError
from gpucloud.model.job import JobState
from gpucloud.money.points import ZERO, exact, points
from gpucloud.money.usage import ChargeRecord, apportion
from gpucloud.service.store.models import JobEventRow, JobRow, OrgRow, ProjectRow, UserRow

Bucket = Literal["day", "month"]
BUCKETS: tuple[Bucket, ...] = ("day", "month")
#: the most buckets one request may span (about 2.7 years of days)
MAX_BUCKETS = 1000


def _utc(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.UTC)


def bucket_start(t: float, bucket: Bucket) -> float:
    """The start (UTC epoch seconds) of the day or month that holds ``t``."""
    d = _utc(t)
    if bucket == "day":
        return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp()
    return dt.datetime(d.year, d.month, 1, tzinfo=dt.UTC).timestamp()


def next_bucket(t: float, bucket: Bucket) -> float:
    """The start of the bucket after the one that holds ``t``."""
    d = _utc(bucket_start(t, bucket))
    if bucket == "day":
        return (d + dt.timedelta(days=1)).timestamp()
    y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return dt.datetime(y, m, 1, tzinfo=dt.UTC).timestamp()


def label(start: float, bucket: Bucket) -> str:
    """``2025-04-01`` for a day, ``2025-04`` for a month."""
    return _utc(start).strftime("%Y-%m-%d" if bucket == "day" else "%Y-%m")


def bucket_starts(since: float, until: float, bucket: Bucket) -> list[float]:
    """The starts of the buckets from the one holding ``since`` up to (not including) ``until``."""
    out: list[float] = []
    t = bucket_start(since, bucket)
    while t < until:
        if len(out) >= MAX_BUCKETS:
            raise InputError("from", f"the range spans more than {MAX_BUCKETS} {bucket}s; give a later from or "
                                     "use a longer bucket", since)
        out.append(t)
        t = next_bucket(t, bucket)
    return out


def default_start(end: float, bucket: Bucket) -> float:
    """The start of a default range ending at ``end``: 30 days or 12 months, the bucket holding ``end`` included."""
    t = bucket_start(end, bucket)
    if bucket == "day":
        return (_utc(t) - dt.timedelta(days=29)).timestamp()
    d = _utc(t)
    months = d.year * 12 + d.month - 1 - 11
    return dt.datetime(months // 12, months % 12 + 1, 1, tzinfo=dt.UTC).timestamp()


def pieces(start: float, end: float, bucket: Bucket) -> list[tuple[float, Fraction]]:
    """``(bucket start, seconds)`` for each bucket the interval ``[start, end)`` touches (one piece if empty)."""
    if end <= start:
        return [(bucket_start(start, bucket), Fraction(0))]
    out: list[tuple[float, Fraction]] = []
    t = start
    while t < end:
        nxt = min(next_bucket(t, bucket), end)
        out.append((bucket_start(t, bucket), exact(nxt) - exact(t)))
        t = nxt
    return out


@dataclass(frozen=True)
class SeriesPoint:
    """Usage of one org × project × GPU type in one bucket."""

    start: float  # the bucket's start, UTC epoch seconds
    label: str  # 2025-04-01 or 2025-04
    org: str
    project: str
    gpu_type: str
    runs: int  # job runs (or, without runs, charge records) with time in this bucket
    gpu_hours: Decimal
    points: Decimal  # gross cost
    subsidy: Decimal  # what programmes paid

    @property
    def charged(self) -> Decimal:
        """What the project's budget paid."""
        return self.points - self.subsidy


@dataclass
class _Acc:
    runs: int = 0
    gpu_seconds: Fraction = Fraction(0)
    points: Decimal = ZERO
    subsidy: Decimal = ZERO


def series(records: Iterable[ChargeRecord], bucket: Bucket, since: float | None = None,
           until: float | None = None, runs: Iterable[RunRecord] | None = None) -> list[SeriesPoint]:
    """Usage per bucket × org × project × GPU type, sorted by bucket then names; only the buckets in
    ``[bucket_start(since), until)`` when given. Points and subsidy come from ``records``; GPU-hours and the
    count of runs from ``runs`` when given (then a record adds only points), else from ``records``."""
    if bucket not in BUCKETS:
        raise InputError("bucket", "must be day or month", bucket)
    low = None if since is None else bucket_start(since, bucket)

    def keep(b: float) -> bool:
        return not ((low is not None and b < low) or (until is not None and b >= until))

    acc: dict[tuple[float, str, str, str], _Acc] = {}
    for r in records:
        parts = pieces(r.start, r.end, bucket)
        weights = [s for _, s in parts]
        for (b, secs), p, s in zip(parts, apportion(r.points, weights), apportion(r.subsidy, weights), strict=True):
            if not keep(b):
                continue
            a = acc.setdefault((b, r.org, r.project, r.gpu_type), _Acc())
            if runs is None:
                a.runs += 1
                a.gpu_seconds += secs * r.gpus
            a.points += p
            a.subsidy += s
    for run in runs or ():
        if run.end <= run.start:
            continue  # a run of no time (started and stopped at the same instant) adds nothing
        for b, secs in pieces(run.start, run.end, bucket):
            if not keep(b):
                continue
            a = acc.setdefault((b, run.org, run.project, run.gpu_type), _Acc())
            a.runs += 1
            a.gpu_seconds += secs * run.gpus
    return [SeriesPoint(k[0], label(k[0], bucket), k[1], k[2], k[3], a.runs, points(a.gpu_seconds / 3600),
                        points(a.points), points(a.subsidy)) for k, a in sorted(acc.items())]


# --- runs of jobs, from job_events ----------------------------------------------------------------------------

@dataclass(frozen=True)
class RunRecord:
    """One run of a job (or the part of it inside the range read): ``gpus`` GPUs from ``start`` to ``end``."""

    job_id: int
    org: str
    project: str
    user: str
    gpu_type: str
    start: float
    end: float
    gpus: int


RUN_STATES = frozenset({JobState.RUNNING.value, JobState.PREEMPTING.value})
#: the states of a job that has not ended (terminal jobs all have ``ended_at``)
_LIVE_STATES = (JobState.PENDING.value, JobState.ADMITTED.value, JobState.RUNNING.value, JobState.PREEMPTING.value)


def job_runs(session: Session, since: float, until: float, now: float, org: str | None = None,
             project: str | None = None) -> list[RunRecord]:
    """The runs of jobs (of ``org`` and projects named ``project`` when given) cut to ``[since, min(until, now))``.

    Only what the range needs is read: the jobs that had not ended by ``since`` (live ones by the state index,
    ended ones by the ``ended_at`` index; with ``org``, the org index narrows them too), their run-bounding
    events at or after ``since`` (by the ``job_id`` index), and for runs already going at ``since`` the
    transition to ``running`` that began them (the latest before ``since``)."""
    stop = min(until, now)
    if stop <= since:
        return []
    conds = [or_(JobRow.state.in_(_LIVE_STATES), JobRow.ended_at >= since), JobRow.submitted_at < stop]
    if org is not None:
        conds.append(OrgRow.name == org)
    if project is not None:
        conds.append(ProjectRow.name == project)
    jobs_q = (select(JobRow.id, OrgRow.name, ProjectRow.name, UserRow.name, JobRow.assigned_gpu_type,
                     JobRow.gpu_type, JobRow.num_gpus, JobRow.state, JobRow.started_at)
              .join(OrgRow, OrgRow.id == JobRow.org_id).join(ProjectRow, ProjectRow.id == JobRow.project_id)
              .join(UserRow, UserRow.id == JobRow.user_id).where(*conds))
    jobs = {row[0]: row for row in session.execute(jobs_q)}
    if not jobs:
        return []
    ids = jobs_q.with_only_columns(JobRow.id)
    bounding = or_(JobEventRow.to_state == JobState.RUNNING.value, JobEventRow.from_state.in_(RUN_STATES))
    events: dict[int, list[tuple[float, str | None, str]]] = {}
    for job_id, at, from_state, to_state in session.execute(
            select(JobEventRow.job_id, JobEventRow.at, JobEventRow.from_state, JobEventRow.to_state)
            .where(JobEventRow.job_id.in_(ids), JobEventRow.at >= since, bounding)
            .order_by(JobEventRow.job_id, JobEventRow.at, JobEventRow.id)):
        events.setdefault(job_id, []).append((at, from_state, to_state))
    began: dict[int, float] = {job_id: at for job_id, at in session.execute(
        select(JobEventRow.job_id, func.max(JobEventRow.at))
        .where(JobEventRow.job_id.in_(ids), JobEventRow.at < since,
               JobEventRow.to_state == JobState.RUNNING.value)
        .group_by(JobEventRow.job_id)) if at is not None}

    out: list[RunRecord] = []
    for job_id, org_name, project_name, user_name, assigned, asked, gpus, state, started_at in jobs.values():
        evs = events.get(job_id, [])
        first = evs[0] if evs else None
        # going at `since`: its first event since then leaves a run, or (no such event) it is in a run now
        going = (first[1] in RUN_STATES) if first is not None else state in RUN_STATES
        start: float | None = None
        if going:
            start = began.get(job_id, started_at if started_at is not None else since)
        spans: list[tuple[float, float]] = []
        for at, from_state, to_state in evs:
            if to_state == JobState.RUNNING.value:
                start = at
            elif from_state in RUN_STATES and to_state not in RUN_STATES and start is not None:
                spans.append((start, at))
                start = None
        if start is not None:
            spans.append((start, now))  # still running: up to now
        gpu_type = assigned or asked or ""
        for a, b in spans:
            a, b = max(a, since), min(b, stop)
            if b > a:
                out.append(RunRecord(job_id, org_name, project_name, user_name, gpu_type, a, b, gpus))
    return out
