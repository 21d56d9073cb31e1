"""Usage reports: charge records aggregated by month × org × project (× user) × GPU type, and written as CSV.

A record that crosses a month boundary (UTC) is split by time: each month gets the share of the record's
seconds that fell in it. Points and subsidy are split the same way, rounded to 0.0001 half to even, and the
last month gets the remainder, so the parts of a record always add up to the record exactly.

CSV columns (one row per group in a month, in sorted order, Decimals written as plain strings)::

    month,org,project,gpu_type,runs,gpu_hours,points,subsidy,charged

Every amount is written with exactly 4 decimals. ``points`` is the gross cost, ``subsidy`` what programmes
paid, ``charged`` = points − subsidy (what the project's budget paid). ``runs`` counts the records with time
in that month.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from gpucloud.errors import InputError
from gpucloud.money.points import ZERO, exact, is_points, points


@dataclass(frozen=True)
class ChargeRecord:
    """One settled run: who, what, when (UTC epoch seconds), and its gross points and subsidy part."""

    org: str
    project: str
    user: str
    gpu_type: str
    start: float
    end: float
    gpus: int
    points: Decimal
    subsidy: Decimal = ZERO

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InputError("end", f"must not be before start ({self.start})", self.end)
        for fname in ("points", "subsidy"):
            v = getattr(self, fname)
            if not is_points(v) or v < 0:
                raise InputError(fname, "must be a non-negative amount of points", v)
        if self.subsidy > self.points:
            raise InputError("subsidy", f"must not exceed points ({self.points})", self.subsidy)


@dataclass(frozen=True)
class UsageRow:
    month: str  # YYYY-MM
    org: str
    project: str
    user: str  # "" unless aggregated by user
    gpu_type: str
    runs: int
    gpu_hours: Decimal
    points: Decimal
    subsidy: Decimal

    @property
    def charged(self) -> Decimal:
        return self.points - self.subsidy


def month_of(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m")


def _next_month_start(t: float) -> float:
    d = dt.datetime.fromtimestamp(t, dt.UTC)
    y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return dt.datetime(y, m, 1, tzinfo=dt.UTC).timestamp()


def month_pieces(start: float, end: float) -> list[tuple[str, Fraction]]:
    """``(month, seconds)`` for each UTC month the interval ``[start, end)`` touches (one piece if empty)."""
    if end <= start:
        return [(month_of(start), Fraction(0))]
    out: list[tuple[str, Fraction]] = []
    t = start
    while t < end:
        nxt = min(_next_month_start(t), end)
        out.append((month_of(t), exact(nxt) - exact(t)))
        t = nxt
    return out


def apportion(amount: Decimal, weights: Sequence[Fraction]) -> list[Decimal]:
    """``amount`` split in proportion to ``weights``; the last part takes the remainder (sum is exact)."""
    total = sum(weights, Fraction(0))
    if total == 0:
        return [amount] + [ZERO] * (len(weights) - 1)
    parts = [points(Fraction(amount) * w / total) for w in weights[:-1]]
    return [*parts, amount - sum(parts, ZERO)]


@dataclass
class _Acc:
    runs: int = 0
    gpu_seconds: Fraction = Fraction(0)
    points: Decimal = ZERO
    subsidy: Decimal = ZERO


def aggregate(records: Iterable[ChargeRecord], *, by_user: bool = False,
              month: str | None = None) -> list[UsageRow]:
    """Usage rows grouped by month × org × project (× user) × GPU type, sorted; only ``month`` if given."""
    acc: dict[tuple[str, str, str, str, str], _Acc] = {}
    for r in records:
        pieces = month_pieces(r.start, r.end)
        weights = [s for _, s in pieces]
        for (m, secs), p, s in zip(pieces, apportion(r.points, weights), apportion(r.subsidy, weights), strict=True):
            if month is not None and m != month:
                continue
            a = acc.setdefault((m, r.org, r.project, r.user if by_user else "", r.gpu_type), _Acc())
            a.runs += 1
            a.gpu_seconds += secs * r.gpus
            a.points += p
            a.subsidy += s
    return [
        UsageRow(k[0], k[1], k[2], k[3], k[4], a.runs, points(a.gpu_seconds / 3600), points(a.points),
                 points(a.subsidy))
        for k, a in sorted(acc.items())
    ]


HEADER = ("month", "org", "project", "gpu_type", "runs", "gpu_hours", "points", "subsidy", "charged")


def to_csv(rows: Iterable[UsageRow], *, by_user: bool = False) -> str:
    """CSV text (RFC 4180, CRLF line ends) with a header row; opens as-is in a spreadsheet."""
    buf = io.StringIO()
    w = csv.writer(buf)
    header = list(HEADER)
    if by_user:
        header.insert(3, "user")
    w.writerow(header)
    for r in rows:
        cells: list[str] = [r.month, r.org, r.project, r.gpu_type, str(r.runs), str(r.gpu_hours),
                            str(r.points), str(r.subsidy), str(r.charged)]
        if by_user:
            cells.insert(3, r.user)
        w.writerow(cells)
    return buf.getvalue()


def monthly_csv(records: Iterable[ChargeRecord], month: str, *, by_user: bool = False) -> str:
    """The usage CSV for one month (``YYYY-MM``): one row per org × project (× user) × GPU type."""
    try:
        dt.datetime.strptime(month, "%Y-%m")
    except ValueError:
        raise InputError("month", "must be YYYY-MM", month) from None
    return to_csv(aggregate(records, by_user=by_user, month=month), by_user=by_user)
