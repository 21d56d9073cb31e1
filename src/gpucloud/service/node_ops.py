"""Taking a node down now: besides marking it down (no new job starts there, see
:func:`gpucloud.service.reservations.set_node_state`), every job holding GPUs on it is asked to stop, the way a
user's cancel does (the control loop signals its processes, waits its grace period and records it cancelled)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gpucloud.service.auth import Principal
from gpucloud.service.jobs import HOLDING_STATES, holders, request_cancel
from gpucloud.service.store.engine import bump_version
from gpucloud.service.store.models import JobRow


def stop_jobs_on(session: Session, who: Principal, node: str, reason: str, now: float) -> list[int]:
    """Request the cancel of every job holding GPUs on ``node`` (operators only; the caller checked); their ids."""
    who.require_operator()
    ids = sorted({h.job_id for h in holders(session) if h.node == node})
    if not ids:
        return []
    why = f"node {node} taken down by {who.name}" + (f": {reason}" if reason else "")
    for job in session.scalars(select(JobRow).where(JobRow.id.in_(ids),
                                                    JobRow.state.in_([s.value for s in HOLDING_STATES]))):
        request_cancel(job, why, now)
    bump_version(session)
    return ids
