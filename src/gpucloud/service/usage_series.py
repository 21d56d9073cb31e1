"""Usage over time: the ledger's charge records summed per UTC day or month × org × project × GPU type.

The dashboard's usage charts read this (``GET /api/v1/usage/series``). A record that spans bucket boundaries is
split by time, as the monthly usage CSV does (:mod:`gpucloud.money.usage`): each bucket gets the share of the
record's seconds that fell in it; its points and subsidy are split in the same proportions, rounded to 0.0001
half to even, the last bucket taking the remainder, so the parts of a record always add up to the record.
With ``bucket="month"`` the numbers are those of :func:`gpucloud.money.usage.aggregate`.

A range ``[since, until)`` selects the buckets whose start lies in ``[bucket_start(since), until)``; each
selected bucket holds all of its usage (the range does not cut a bucket).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from gpucloud.errors import InputError
from gpucloud.money.points import ZERO, exact, points
from gpucloud.money.usage import ChargeRecord, apportion

Bucket = Literal["day", "month"]
BUCKETS: tuple[Bucket, ...] = ("day", "month")
#: the most buckets one request may span (about 2.7 years of days)
MAX_BUCKETS = 1000


def _utc(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.UTC)


def bucket_start(t: float, bucket: Bucket) -> float:
    """The start (UTC epoch seconds) of the day or month that holds ``t``."""
    d = _utc(t)
    if bucket == "day":
        return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp()
    return dt.datetime(d.year, d.month, 1, tzinfo=dt.UTC).timestamp()


def next_bucket(t: float, bucket: Bucket) -> float:
    """The start of the bucket after the one that holds ``t``."""
    d = _utc(bucket_start(t, bucket))
    if bucket == "day":
        return (d + dt.timedelta(days=1)).timestamp()
    y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return dt.datetime(y, m, 1, tzinfo=dt.UTC).timestamp()


def label(start: float, bucket: Bucket) -> str:
    """``2025-04-01`` for a day, ``2025-04`` for a month."""
    return _utc(start).strftime("%Y-%m-%d" if bucket == "day" else "%Y-%m")


def bucket_starts(since: float, until: float, bucket: Bucket) -> list[float]:
    """The starts of the buckets from the one holding ``since`` up to (not including) ``until``."""
    out: list[float] = []
    t = bucket_start(since, bucket)
    while t < until:
        if len(out) >= MAX_BUCKETS:
            raise InputError("from", f"the range spans more than {MAX_BUCKETS} {bucket}s; give a later from or "
                                     "use a longer bucket", since)
        out.append(t)
        t = next_bucket(t, bucket)
    return out


def default_start(end: float, bucket: Bucket) -> float:
    """The start of a default range ending at ``end``: 30 days or 12 months, the bucket holding ``end`` included."""
    t = bucket_start(end, bucket)
    if bucket == "day":
        return (_utc(t) - dt.timedelta(days=29)).timestamp()
    d = _utc(t)
    months = d.year * 12 + d.month - 1 - 11
    return dt.datetime(months // 12, months % 12 + 1, 1, tzinfo=dt.UTC).timestamp()


def pieces(start: float, end: float, bucket: Bucket) -> list[tuple[float, Fraction]]:
    """``(bucket start, seconds)`` for each bucket the interval ``[start, end)`` touches (one piece if empty)."""
    if end <= start:
        return [(bucket_start(start, bucket), Fraction(0))]
    out: list[tuple[float, Fraction]] = []
    t = start
    while t < end:
        nxt = min(next_bucket(t, bucket), end)
        out.append((bucket_start(t, bucket), exact(nxt) - exact(t)))
        t = nxt
    return out


@dataclass(frozen=True)
class SeriesPoint:
    """Usage of one org × project × GPU type in one bucket."""

    start: float  # the bucket's start, UTC epoch seconds
    label: str  # 2025-04-01 or 2025-04
    org: str
    project: str
    gpu_type: str
    runs: int  # charge records with time in this bucket
    gpu_hours: Decimal
    points: Decimal  # gross cost
    subsidy: Decimal  # what programmes paid

    @property
    def charged(self) -> Decimal:
        """What the project's budget paid."""
        return self.points - self.subsidy


@dataclass
class _Acc:
    runs: int = 0
    gpu_seconds: Fraction = Fraction(0)
    points: Decimal = ZERO
    subsidy: Decimal = ZERO


def series(records: Iterable[ChargeRecord], bucket: Bucket, since: float | None = None,
           until: float | None = None) -> list[SeriesPoint]:
    """Usage per bucket × org × project × GPU type, sorted by bucket then names; only the buckets in
    ``[bucket_start(since), until)`` when given."""
    if bucket not in BUCKETS:
        raise InputError("bucket", "must be day or month", bucket)
    low = None if since is None else bucket_start(since, bucket)
    acc: dict[tuple[float, str, str, str], _Acc] = {}
    for r in records:
        parts = pieces(r.start, r.end, bucket)
        weights = [s for _, s in parts]
        for (b, secs), p, s in zip(parts, apportion(r.points, weights), apportion(r.subsidy, weights), strict=True):
            if (low is not None and b < low) or (until is not None and b >= until):
                continue
            a = acc.setdefault((b, r.org, r.project, r.gpu_type), _Acc())
            a.runs += 1
            a.gpu_seconds += secs * r.gpus
            a.points += p
            a.subsidy += s
    return [SeriesPoint(k[0], label(k[0], bucket), k[1], k[2], k[3], a.runs, points(a.gpu_seconds / 3600),
                        points(a.points), points(a.subsidy)) for k, a in sorted(acc.items())]
