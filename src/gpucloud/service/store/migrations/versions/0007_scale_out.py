"""Scale-out: the control loop's leadership epoch (fencing) and the installation's id (hosts shared by several
installations keep them apart), job logs in the database (readable from any replica), and the job a preempted
victim makes room for (as data, not inside a reason).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("scheduler_state") as batch:
        batch.add_column(sa.Column("leader_epoch", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("installation", sa.String(length=32), nullable=False, server_default=""))
    op.execute(sa.text("UPDATE scheduler_state SET installation = :id").bindparams(id=uuid.uuid4().hex))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("preempted_for", sa.Integer(), nullable=True))
    op.create_table(
        "job_logs",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("stream", sa.String(length=8), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_job_logs_job_id_jobs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "rank", "stream", "offset", name=op.f("pk_job_logs")),
    )


def downgrade() -> None:
    op.drop_table("job_logs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("preempted_for")
    with op.batch_alter_table("scheduler_state") as batch:
        batch.drop_column("installation")
        batch.drop_column("leader_epoch")
