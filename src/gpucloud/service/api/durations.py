"""Durations and times as users write them: seconds (``5400``, ``"5400"``) or ``"90s"``, ``"30m"``, ``"1h30m"``,
``"2d"``; times as epoch seconds or ISO 8601."""

from __future__ import annotations

import datetime as dt
import math
import re

_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?[dhms])+$")


def parse_duration(value: object) -> float:
    """Seconds from a number or a string like ``1h30m``; raises ``ValueError`` with a message for users."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 3600, '90s', '30m', '1h30m' or '2d'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            if not _WHOLE.match(text):
                raise ValueError(
                    "must be a duration such as 3600, '90s', '30m', '1h30m' or '2d'"
                ) from None
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
    else:
        raise ValueError("must be a duration such as 3600, '90s', '30m', '1h30m' or '2d'")
    if not math.isfinite(seconds):
        raise ValueError("must be a finite duration")
    return seconds


def parse_instant(value: object) -> float:
    """Epoch seconds from a number or an ISO 8601 date-time (``2026-12-01T09:00:00+09:00``; no zone: UTC)."""
    if isinstance(value, bool):
        raise ValueError("must be a time: epoch seconds or an ISO 8601 date-time")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                when = dt.datetime.fromisoformat(text)
            except ValueError:
                raise ValueError("must be a time: epoch seconds or an ISO 8601 date-time such as "
                                 "'2026-12-01T09:00:00+09:00'") from None
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
            seconds = when.timestamp()
    else:
        raise ValueError("must be a time: epoch seconds or an ISO 8601 date-time")
    if not math.isfinite(seconds):
        raise ValueError("must be a finite time")
    return seconds
