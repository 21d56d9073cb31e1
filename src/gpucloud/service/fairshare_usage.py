"""Fair share's memory in the database: the control loop loads the decayed usage when it starts (or takes
over as leader) and saves it with its periodic housekeeping, so a restart loses at most one interval of usage
instead of all of it."""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from gpucloud.core.state import DecayedUsage
from gpucloud.service.store.models import FairshareUsageRow


def load_usage(session: Session) -> DecayedUsage:
    """The saved usage (empty when none was saved)."""
    out = DecayedUsage()
    for row in session.scalars(select(FairshareUsageRow)):
        out.usage.setdefault(row.org, {})[row.gpu_type] = row.gpu_seconds
        out.last = row.as_of if out.last is None else max(out.last, row.as_of)
    return out


def save_usage(session: Session, usage: DecayedUsage) -> None:
    """Replace the saved usage with ``usage`` (a handful of rows: orgs × GPU types)."""
    if usage.last is None:
        return
    session.execute(delete(FairshareUsageRow))
    rows = [{"org": org, "gpu_type": t, "gpu_seconds": v, "as_of": usage.last}
            for org, by_type in usage.usage.items() for t, v in by_type.items()]
    if rows:
        session.execute(insert(FairshareUsageRow), rows)
