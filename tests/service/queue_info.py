"""Test helper: store wait reasons and a queue order on pending jobs, as the loop's schedule step does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import update
from sqlalchemy.orm import Session

from gpucloud.model.job import JobState
from gpucloud.service.store.models import JobRow


def set_queue_info(session: Session, reasons: Mapping[int, str], order: Sequence[int]) -> None:
    """Store the core's wait reasons and queue order on pending jobs (does not bump the scheduler version,
    and does not conflict with concurrent user actions on those jobs)."""
    rank = {jid: i for i, jid in enumerate(order)}
    for jid in set(reasons) | set(rank):
        values: dict[str, object] = {"queue_rank": rank.get(jid)}
        if jid in reasons:
            values["reason"] = reasons[jid]
        session.execute(
            update(JobRow).where(JobRow.id == jid, JobRow.state == JobState.PENDING.value).values(**values)
            .execution_options(synchronize_session=False)
        )
