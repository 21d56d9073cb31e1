"""The ledger's running totals on each budget row, the open holds, and each subsidy programme's totals per org:
reading a project's or a programme's state no longer sums its whole history. Existing ledgers are summed once
here, with the same rules.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op

from gpucloud.service.store.models import Points

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        for name in ("balance", "held", "spent"):
            batch_op.add_column(sa.Column(name, Points(), nullable=False, server_default="0"))
    op.create_table(
        "open_holds",
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("amount", Points(), nullable=False),
        sa.Column("subsidy", Points(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_open_holds_project_id_projects"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ref", name=op.f("pk_open_holds")),
    )
    op.create_index(op.f("ix_open_holds_project_id"), "open_holds", ["project_id"])
    op.create_table(
        "programme_totals",
        sa.Column("programme", sa.String(length=100), nullable=False),
        sa.Column("org", sa.String(length=100), nullable=False),
        sa.Column("paid", Points(), nullable=False, server_default="0"),
        sa.Column("held", Points(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("programme", "org", name=op.f("pk_programme_totals")),
    )
    _sum_existing()


def _sum_existing() -> None:
    """Totals and open holds of the ledgers written before this revision (the rules of budgets.load_state)."""
    bind = op.get_bind()
    points = Points()
    dialect = bind.dialect

    def dec(v: Any) -> Decimal:
        out = points.process_result_value(v, dialect)
        return out if out is not None else Decimal(0)

    rows = bind.execute(sa.text("SELECT e.project_id, e.kind, e.amount, e.ref, e.subsidy, e.detail, e.programme, "
                                "o.name FROM ledger_entries e JOIN projects p ON p.id = e.project_id "
                                "JOIN orgs o ON o.id = p.org_id ORDER BY e.id")).all()
    if not rows:
        return
    prog: dict[tuple[str, str], list[Decimal]] = {}  # paid, held
    tot: dict[int, list[Decimal]] = {}
    holds: dict[str, tuple[int, Decimal, Decimal, Any]] = {}
    for pid, kind, amount, ref, subsidy, detail, programme, org in rows:
        t = tot.setdefault(pid, [Decimal(0), Decimal(0), Decimal(0)])  # balance, held, spent
        a = dec(amount)
        if programme and kind in ("subsidy", "hold", "release"):
            pt = prog.setdefault((programme, org), [Decimal(0), Decimal(0)])
            if kind == "subsidy":
                pt[0] += a
            else:
                pt[1] += dec(subsidy) if kind == "hold" else -dec(subsidy)
        if kind in ("top_up", "refund"):
            t[0] += a
            if kind == "refund":
                t[2] = max(Decimal(0), t[2] - a)
        elif kind == "charge":
            t[0] -= a
            t[2] += a
        elif kind == "expiry":
            t[0] -= a
            t[2] = Decimal(0)
        elif kind == "hold":
            t[1] += a
            holds[ref] = (pid, a, dec(subsidy), json.loads(detail) if isinstance(detail, str) else detail)
        elif kind == "release":
            t[1] -= a
            holds.pop(ref, None)
    budgets = sa.table("budgets", sa.column("project_id"), sa.column("balance", Points()),
                       sa.column("held", Points()), sa.column("spent", Points()), sa.column("created_at"))
    have = {r[0] for r in bind.execute(sa.text("SELECT project_id FROM budgets"))}
    for pid, (balance, held, spent) in tot.items():
        if pid in have:
            bind.execute(budgets.update().where(budgets.c.project_id == pid)
                         .values(balance=balance, held=held, spent=spent))
        else:
            bind.execute(budgets.insert().values(project_id=pid, balance=balance, held=held, spent=spent,
                                                 created_at=0.0))
    open_holds = sa.table("open_holds", sa.column("ref"), sa.column("project_id"), sa.column("amount", Points()),
                          sa.column("subsidy", Points()), sa.column("detail", sa.JSON()))
    for ref, (pid, amount, subsidy, detail) in holds.items():
        bind.execute(open_holds.insert().values(ref=ref, project_id=pid, amount=amount, subsidy=subsidy,
                                                detail=detail))
    totals = sa.table("programme_totals", sa.column("programme"), sa.column("org"), sa.column("paid", Points()),
                      sa.column("held", Points()))
    for (programme, org), (paid, held) in prog.items():
        bind.execute(totals.insert().values(programme=programme, org=org, paid=paid, held=held))


def downgrade() -> None:
    op.drop_table("programme_totals")
    op.drop_index(op.f("ix_open_holds_project_id"), table_name="open_holds")
    op.drop_table("open_holds")
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        for name in ("spent", "held", "balance"):
            batch_op.drop_column(name)
