"""Job arrays and dependencies: each task of an array is a job with its array's id, its index and the array's
throttle; a job's dependency (what it waits for) is plain JSON.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("array_job_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("array_task_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("array_throttle", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("dependency", sa.JSON(), nullable=True))
        batch.create_index("ix_jobs_array_job_id", ["array_job_id", "array_task_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_array_job_id")
        batch.drop_column("dependency")
        batch.drop_column("array_throttle")
        batch.drop_column("array_task_id")
        batch.drop_column("array_job_id")
