"""Reservations, node states, and a job's service class and reservation.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gpucloud.service.store.models import Points

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reservations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("gpu_type", sa.String(length=100), nullable=False),
        sa.Column("nodes", sa.Integer(), nullable=False),
        sa.Column("gpus_per_node", sa.Integer(), nullable=False),
        sa.Column("node_names", sa.JSON(), nullable=True),
        sa.Column("start_at", sa.Float(), nullable=False),
        sa.Column("end_at", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("price", Points(), nullable=True),
        sa.Column("refunded", Points(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("decided_at", sa.Float(), nullable=True),
        sa.Column("cancelled_at", sa.Float(), nullable=True),
        sa.CheckConstraint("nodes >= 1", name=op.f("ck_reservations_nodes_positive")),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_reservations_window_positive")),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_reservations_org_id_orgs"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_reservations_project_id_projects"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"], name=op.f("fk_reservations_requested_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
        sa.UniqueConstraint("org_id", "name", name="uq_reservations_org_id_name"),
    )
    op.create_index("ix_reservations_state_end_at", "reservations", ["state", "end_at"])
    op.create_table(
        "node_states",
        sa.Column("node", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("by_user", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("node", name=op.f("pk_node_states")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("service_class", sa.String(length=20), nullable=False,
                                      server_default="standard"))
        batch_op.add_column(sa.Column("reservation_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f("fk_jobs_reservation_id_reservations"), "reservations",
                                    ["reservation_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_jobs_reservation_id_reservations"), type_="foreignkey")
        batch_op.drop_column("reservation_id")
        batch_op.drop_column("service_class")
    op.drop_table("node_states")
    op.drop_index("ix_reservations_state_end_at", table_name="reservations")
    op.drop_table("reservations")
