"""Subsidy programmes, and an org's kind (university, institute, company) for eligibility by kind.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gpucloud.service.store.models import Points

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "programmes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("share", sa.String(length=40), nullable=False),
        sa.Column("total", Points(), nullable=False),
        sa.Column("org_cap", Points(), nullable=True),
        sa.Column("orgs", sa.JSON(), nullable=False),
        sa.Column("org_kinds", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.Float(), nullable=True),
        sa.Column("valid_until", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programmes")),
        sa.UniqueConstraint("name", name=op.f("uq_programmes_name")),
    )
    with op.batch_alter_table("orgs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=40), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("orgs", schema=None) as batch_op:
        batch_op.drop_column("kind")
    op.drop_table("programmes")
