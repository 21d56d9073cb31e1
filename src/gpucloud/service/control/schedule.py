"""Apply one scheduling cycle's decisions: preempt, admit, hand the launches to the executor (outside any
transaction), start or fail, and store wait reasons and queue order.

Transactions are short and touch only the rows they change: one for the preemptions, one for the admissions
(rows locked ``FOR UPDATE SKIP LOCKED`` on PostgreSQL: a job a user is changing right now simply waits for
the next cycle), one for the starts and launch failures (when the executor reports them), one for the queue
information.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import bindparam, update

from gpucloud.core.types import Admission, CycleResult, Preemption
from gpucloud.model.cluster import Cluster
from gpucloud.model.job import JobState
from gpucloud.service.control.handles import handle_to_json
from gpucloud.service.control.snapshot import PREEMPTED_FOR, Snapshot
from gpucloud.service.control.txn import Change, JobValues, Step, Transactions, jobs_table
from gpucloud.service.executors.base import Handle, LaunchSpec, NodeGpus
from gpucloud.service.store.placement import placed_nodes, placement_from_json

log = logging.getLogger("gpucloud.control")

PENDING = frozenset({JobState.PENDING.value})
ADMITTED = frozenset({JobState.ADMITTED.value})
RUNNING = frozenset({JobState.RUNNING.value})

def _preempted(p: Preemption) -> str:
    if p.booking is not None:
        return f"preempted: {p.reason}"
    return PREEMPTED_FOR.format(for_job=p.for_job, why=p.reason)


def preempt(txns: Transactions, preemptions: Sequence[Preemption], now: float) -> list[int]:
    """Move the victims to ``preempting`` (one transaction), each with the job it makes room for; the ids
    committed. The caller sends SIGTERM."""
    if not preemptions:
        return []
    changes = [Change(int(p.job_id), RUNNING, (Step(JobState.PREEMPTING, _preempted(p), now, {
        "preempted_for": None if p.booking is not None else int(p.for_job)}),))
        for p in preemptions]
    return txns.apply(changes).applied

def admit(txns: Transactions, admissions: Sequence[Admission], cluster: Cluster, now: float,
          refused: dict[int, str] | None = None) -> list[JobValues]:
    """Move admitted jobs to ``admitted`` with their placement (one transaction; on PostgreSQL rows another
    transaction holds are skipped until the next cycle); the committed rows. Admissions whose project cannot
    pay its hold (budgets, see :mod:`gpucloud.service.budgets`) stay pending: their wait reasons go to
    ``refused``."""
    if not admissions:
        return []
    changes: list[Change] = []
    for a in admissions:
        nodes = placed_nodes(a.placement, cluster)
        where = ", ".join(f"{n.node}:{','.join(map(str, n.gpus))}" for n in nodes)
        changes.append(Change(int(a.job_id), PENDING, (Step(JobState.ADMITTED, f"admitted on {where}", now, {
            "placement": nodes, "gpu_type": a.placement.gpu_type, "attained": a.attained}),),
            unless_cancel_requested=True))
    out = txns.apply(changes, skip_locked=True)
    if refused is not None:
        refused.update(out.refused)
    return [out.rows[jid] for jid in out.applied]

def base_env(names: Sequence[str]) -> dict[str, str]:
    """The server's values of ``names`` (e.g. PATH, HOME) that every job gets unless it sets them itself."""
    return {n: os.environ[n] for n in names if n in os.environ}


class LaunchRow(Protocol):
    """What launching needs of a job row (the loop's :class:`JobValues`)."""

    @property
    def id(self) -> int: ...
    @property
    def argv(self) -> list[Any]: ...
    @property
    def env(self) -> dict[str, Any]: ...
    @property
    def cwd(self) -> str: ...
    @property
    def placement(self) -> list[Any] | None: ...
    @property
    def run_count(self) -> int: ...


def launch_spec(row: LaunchRow, env: Mapping[str, str], account: str | None) -> LaunchSpec:
    """The launch of the job's next run (attempt ``run_count + 1``) on the nodes of its placement."""
    placement = tuple(NodeGpus(p.node, rank, tuple(p.gpus))
                      for rank, p in enumerate(placement_from_json(row.placement)))
    return LaunchSpec(job_id=str(row.id), attempt=row.run_count + 1, argv=tuple(str(a) for a in row.argv),
                      cwd=row.cwd or "", env={**env, **{str(k): str(v) for k, v in (row.env or {}).items()}},
                      placement=placement, account=account)


@dataclass
class Launched:
    handles: dict[int, Handle] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)


def start_changes(launched: Launched, now: float) -> list[Change]:
    changes = [Change(jid, ADMITTED, (Step(JobState.RUNNING, "started", now, {"handle": handle_to_json(h)}),))
               for jid, h in launched.handles.items()]
    changes += [Change(jid, ADMITTED, (Step(JobState.FAILED, f"cannot start: {why}", now),))
                for jid, why in launched.failures.items()]
    return changes

def order_keys(order: Sequence[int], stored: Mapping[int, int | None]) -> dict[int, int]:
    """Queue ranks for ``order`` (job ids, first first) that keep as many ``stored`` ranks as a greedy pass can:
    the ranks only have to sort the queue, so when the head of the queue is admitted the rest keep theirs
    instead of every pending row being rewritten each cycle. Jobs not in ``order`` get no rank."""
    out: dict[int, int] = {}
    last = -1
    for jid in order:
        if jid not in stored:
            continue
        old = stored[jid]
        rank = old if old is not None and old > last else last + 1
        out[jid] = rank
        last = rank
    return out


def store_queue_info(txns: Transactions, snap: Snapshot, result: CycleResult,
                     extra_reasons: Mapping[int, str]) -> int:
    """Write wait reasons and queue ranks of pending jobs that changed since the snapshot; how many rows.
    Plain column updates without the row version: they never conflict with a user's change of the job."""
    reasons = {int(jid): why for jid, why in result.waiting.items()}
    reasons.update(extra_reasons)
    admitted = {int(a.job_id) for a in result.admissions} - set(extra_reasons)
    pending = {row.id: row for row in snap.pending if row.id not in admitted}
    ranks = order_keys([int(jid) for jid in result.order], {jid: row.queue_rank for jid, row in pending.items()})
    params: list[dict[str, object]] = []
    for jid, row in pending.items():
        new_rank = ranks.get(jid)
        new_reason = reasons.get(jid, row.reason)
        if new_rank != row.queue_rank or new_reason != row.reason:
            params.append({"jid": jid, "rank": new_rank, "why": new_reason})
    if not params:
        return 0
    table = jobs_table()
    stmt = (update(table).where(table.c.id == bindparam("jid"), table.c.state == JobState.PENDING.value)
            .values(queue_rank=bindparam("rank"), reason=bindparam("why")))
    with txns.own() as session:
        session.connection().execute(stmt, params)
    return len(params)
