"""Apply one scheduling cycle's decisions: preempt, admit, launch (outside any transaction), start or fail,
and store wait reasons and queue order.

Transactions are short and touch only the rows they change: one for the preemptions, one for the admissions
(rows locked ``FOR UPDATE SKIP LOCKED`` on PostgreSQL: a job a user is changing right now simply waits for
the next cycle), one for the starts and launch failures, one for the queue information.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Table, bindparam, update
from sqlalchemy.orm import Session, sessionmaker

from gpucloud.core.types import Admission, CycleResult, Preemption
from gpucloud.model.cluster import Cluster
from gpucloud.model.job import JobState
from gpucloud.service.control.journal import LaunchJournal, handle_to_json
from gpucloud.service.control.snapshot import PREEMPTED_FOR, Snapshot
from gpucloud.service.control.txn import Change, Step, Transactions
from gpucloud.service.executors.base import Executor, Handle, LaunchError, LaunchSpec, NodeGpus
from gpucloud.service.jobs import log_path
from gpucloud.service.store.engine import lock_jobs
from gpucloud.service.store.models import JobRow
from gpucloud.service.store.placement import placed_nodes, placement_from_json
from gpucloud.service.transitions import apply_transition

log = logging.getLogger("gpucloud.control")

ADMITTED = frozenset({JobState.ADMITTED.value})
RUNNING = frozenset({JobState.RUNNING.value})

def preempt(txns: Transactions, preemptions: Sequence[Preemption], now: float) -> list[int]:
    """Move the victims to ``preempting`` (one transaction); the ids committed. The caller sends SIGTERM."""
    if not preemptions:
        return []
    changes = [Change(int(p.job_id), RUNNING, (
        Step(JobState.PREEMPTING, PREEMPTED_FOR.format(for_job=p.for_job, why=p.reason), now),)) for p in preemptions]
    return txns.apply(changes).applied

def admit(txns: Transactions, admissions: Sequence[Admission], cluster: Cluster, now: float) -> list[JobRow]:
    """Move admitted jobs to ``admitted`` with their placement (one transaction); the committed rows."""
    if not admissions:
        return []
    out: list[JobRow] = []
    with txns.own() as session, session.no_autoflush:
        rows = {r.id: r for r in lock_jobs(session, [int(a.job_id) for a in admissions])}
        for a in admissions:
            row = rows.get(int(a.job_id))
            if row is None or row.state != JobState.PENDING.value or row.cancel_requested:
                continue
            nodes = placed_nodes(a.placement, cluster)
            where = ", ".join(f"{n.node}:{','.join(map(str, n.gpus))}" for n in nodes)
            apply_transition(session, row, JobState.ADMITTED, f"admitted on {where}", now,
                             placement=nodes, gpu_type=a.placement.gpu_type, bump=False)
            out.append(row)
    return out

def log_dir_of(data_dir: Path, job_id: int) -> Path:
    return log_path(data_dir, job_id, "stdout").parent

def base_env(names: Sequence[str]) -> dict[str, str]:
    """The server's values of ``names`` (e.g. PATH, HOME) that every job gets unless it sets them itself."""
    return {n: os.environ[n] for n in names if n in os.environ}

def launch_spec(row: JobRow, data_dir: Path, env: Mapping[str, str]) -> LaunchSpec:
    placement = tuple(NodeGpus(p.node, rank, tuple(p.gpus))
                      for rank, p in enumerate(placement_from_json(row.placement)))
    return LaunchSpec(job_id=str(row.id), argv=tuple(str(a) for a in row.argv), cwd=row.cwd or "",
                      env={**env, **{str(k): str(v) for k, v in (row.env or {}).items()}},
                      placement=placement, log_dir=log_dir_of(data_dir, row.id))

@dataclass
class Launched:
    handles: dict[int, Handle] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)

def launch(executor: Executor, rows: Sequence[JobRow], data_dir: Path, env: Mapping[str, str]) -> Launched:
    """Launch each admitted job through the executor (no transaction open), journaling each attempt."""
    out = Launched()
    for row in rows:
        spec = launch_spec(row, data_dir, env)
        journal = LaunchJournal(spec.log_dir, row.run_count + 1)
        try:
            journal.write_intent()
        except OSError as exc:  # nothing was started: safe to fail it
            out.failures[row.id] = f"cannot write to the job's log directory {spec.log_dir}: {exc.strerror or exc}"
            continue
        try:
            handle = executor.launch(spec)
        except LaunchError as exc:
            out.failures[row.id] = str(exc)
            continue
        except Exception as exc:
            log.exception("job %s: the executor failed to launch it", row.id)
            out.failures[row.id] = f"the executor failed to launch it: {exc}"
            continue
        try:
            journal.write_handle(handle)
        except OSError:
            log.exception("job %s: cannot write its launch journal", row.id)
        out.handles[row.id] = handle
    return out

def start_changes(launched: Launched, now: float) -> list[Change]:
    changes = [Change(jid, ADMITTED, (Step(JobState.RUNNING, "started", now, {"handle": handle_to_json(h)}),))
               for jid, h in launched.handles.items()]
    changes += [Change(jid, ADMITTED, (Step(JobState.FAILED, f"cannot start: {why}", now),))
                for jid, why in launched.failures.items()]
    return changes

def jobs_table() -> Table:
    table = JobRow.__table__
    assert isinstance(table, Table)
    return table


def store_queue_info(sessions: sessionmaker[Session], snap: Snapshot, result: CycleResult,
                     extra_reasons: Mapping[int, str]) -> int:
    """Write wait reasons and queue ranks of pending jobs that changed since the snapshot; how many rows.
    Plain column updates without the row version: they never conflict with a user's change of the job."""
    rank = {int(jid): i for i, jid in enumerate(result.order)}
    reasons = {int(jid): why for jid, why in result.waiting.items()}
    reasons.update(extra_reasons)
    admitted = {int(a.job_id) for a in result.admissions}
    params: list[dict[str, object]] = []
    for row in snap.pending:
        if row.id in admitted:
            continue
        new_rank = rank.get(row.id)
        new_reason = reasons.get(row.id, row.reason)
        if new_rank != row.queue_rank or new_reason != row.reason:
            params.append({"jid": row.id, "rank": new_rank, "why": new_reason})
    if not params:
        return 0
    table = jobs_table()
    stmt = (update(table).where(table.c.id == bindparam("jid"), table.c.state == JobState.PENDING.value)
            .values(queue_rank=bindparam("rank"), reason=bindparam("why")))
    with sessions.begin() as session:
        session.connection().execute(stmt, params)
    return len(params)
