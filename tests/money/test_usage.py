"""Usage reports: grouping by month × org × project × GPU type, month-boundary splits, the CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from fractions import Fraction

from gpucloud.money.usage import ChargeRecord, aggregate, month_pieces, monthly_csv

D = Decimal


def ts(s: str) -> float:
    return dt.datetime.fromisoformat(s).replace(tzinfo=dt.UTC).timestamp()


RECORDS = [
    # uni-a / p1 / H100: two runs in January, one crossing into February
    ChargeRecord("uni-a", "p1", "ana", "H100-80GB", ts("2025-01-10T00:00"), ts("2025-01-10T02:00"), 4, D("16"),
                 D("8")),
    ChargeRecord("uni-a", "p1", "bo", "H100-80GB", ts("2025-01-31T23:00"), ts("2025-02-01T01:00"), 2, D("8"),
                 D("2")),
    # uni-a / p1 / H200: its own row
    ChargeRecord("uni-a", "p1", "ana", "H200-141GB", ts("2025-01-05T00:00"), ts("2025-01-05T01:00"), 1,
                 D("0.9375")),
    # uni-a / p2 and acme / p9: their own rows
    ChargeRecord("uni-a", "p2", "cy", "H100-80GB", ts("2025-01-20T00:00"), ts("2025-01-20T00:30"), 1, D("1")),
    ChargeRecord("acme", "p9", "dee", "H100-80GB", ts("2025-01-02T00:00"), ts("2025-01-02T03:00"), 8, D("48")),
    # February only: not in January's report
    ChargeRecord("acme", "p9", "dee", "H100-80GB", ts("2025-02-02T00:00"), ts("2025-02-02T01:00"), 8, D("16")),
]


def test_month_pieces_split_at_the_boundary() -> None:
    pieces = month_pieces(ts("2025-12-31T23:00"), ts("2026-01-01T00:30"))
    assert pieces == [("2025-12", Fraction(3600)), ("2026-01", Fraction(1800))]


def test_job_across_a_month_boundary_is_split_by_time() -> None:
    rows = aggregate([RECORDS[1]])
    # 1 h of 2 in each month: 4 points and 1 subsidy each, 2 GPU-hours each
    assert [(r.month, r.gpu_hours, r.points, r.subsidy, r.charged) for r in rows] == [
        ("2025-01", D("2.0000"), D("4.0000"), D("1.0000"), D("3.0000")),
        ("2025-02", D("2.0000"), D("4.0000"), D("1.0000"), D("3.0000")),
    ]
    # thirds: the last month takes the remainder so the parts add up exactly
    odd = ChargeRecord("o", "p", "u", "X", ts("2025-01-31T22:00"), ts("2025-02-01T01:00"), 1, D("1"))
    parts = [r.points for r in aggregate([odd])]
    assert parts == [D("0.6667"), D("0.3333")] and sum(parts) == D("1")


def test_monthly_csv_one_row_per_org_project_gpu_type() -> None:
    text = monthly_csv(RECORDS, "2025-01")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["month", "org", "project", "gpu_type", "runs", "gpu_hours", "points", "subsidy", "charged"]
    assert rows[1:] == [
        ["2025-01", "acme", "p9", "H100-80GB", "1", "24.0000", "48.0000", "0.0000", "48.0000"],
        ["2025-01", "uni-a", "p1", "H100-80GB", "2", "10.0000", "20.0000", "9.0000", "11.0000"],
        ["2025-01", "uni-a", "p1", "H200-141GB", "1", "1.0000", "0.9375", "0.0000", "0.9375"],
        ["2025-01", "uni-a", "p2", "H100-80GB", "1", "0.5000", "1.0000", "0.0000", "1.0000"],
    ]
    keys = [tuple(r[1:4]) for r in rows[1:]]
    assert len(keys) == len(set(keys))
    # plain numbers a spreadsheet reads as numbers: no exponent, always 4 decimals
    assert all(re.fullmatch(r"\d+\.\d{4}", cell) for r in rows[1:] for cell in r[5:])
    assert text.endswith("\r\n")


def test_csv_by_user() -> None:
    rows = list(csv.reader(io.StringIO(monthly_csv(RECORDS, "2025-01", by_user=True))))
    assert rows[0][3] == "user"
    assert [r[1:5] for r in rows[1:3]] == [["acme", "p9", "dee", "H100-80GB"], ["uni-a", "p1", "ana", "H100-80GB"]]
