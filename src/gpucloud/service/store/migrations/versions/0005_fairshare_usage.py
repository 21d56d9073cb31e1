"""Fair share's decayed usage per org and GPU type, saved by the control loop so a restart keeps it; an index
on ``jobs.ended_at`` (the loop reads the jobs that ended since its last cycle).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fairshare_usage",
        sa.Column("org", sa.String(length=100), nullable=False),
        sa.Column("gpu_type", sa.String(length=100), nullable=False),
        sa.Column("gpu_seconds", sa.Float(), nullable=False),
        sa.Column("as_of", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("org", "gpu_type", name=op.f("pk_fairshare_usage")),
    )
    op.create_index("ix_jobs_ended_at", "jobs", ["ended_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_ended_at", table_name="jobs")
    op.drop_table("fairshare_usage")
