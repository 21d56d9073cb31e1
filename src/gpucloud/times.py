"""Points in time as users write them, read one way everywhere (CLI options, API fields, tariff files): UTC
epoch seconds, a date (midnight UTC), or an ISO 8601 date-time (``2026-12-07T09:00:00+09:00``, ``Z`` for UTC;
one without a zone is UTC unless the caller requires a zone)."""

from __future__ import annotations

import datetime as dt
import math

from gpucloud.errors import InputError

MESSAGE = ("give a date (2026-03-31), a date-time with a time zone (2026-03-31T09:00:00+09:00) or UTC epoch "
           "seconds")


#: The last second of 9998-12-31 UTC. A time must be from 1970 to then: dates end with the year 9999, and the
#: month or day after any accepted time must still be one.
LATEST = 253370764799.0


def parse_time(value: object, *, require_zone: bool = False) -> float:
    """Epoch seconds from ``value``; ``ValueError`` with a message for users when it is not a time."""
    if isinstance(value, bool):
        raise ValueError(MESSAGE)
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, dt.datetime):
        seconds = _aware(value, require_zone).timestamp()
    elif isinstance(value, dt.date):
        seconds = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp()
    elif isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                when = dt.datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(MESSAGE) from None
            date_only = "T" not in text and " " not in text
            seconds = _aware(when, require_zone and not date_only).timestamp()
    else:
        raise ValueError(MESSAGE)
    if not math.isfinite(seconds):
        raise ValueError("must be a finite time")
    if not 0 <= seconds <= LATEST:
        raise ValueError("must be from 1970-01-01 to 9998-12-31 (UTC)")
    return seconds


def _aware(when: dt.datetime, require_zone: bool) -> dt.datetime:
    if when.tzinfo is not None:
        return when
    if require_zone:
        raise ValueError("give a time zone (e.g. 2025-04-01T00:00:00Z)")
    return when.replace(tzinfo=dt.UTC)


def time_input(field: str, value: object) -> float:
    """:func:`parse_time`, its error an :class:`InputError` naming ``field``."""
    try:
        return parse_time(value)
    except ValueError as exc:
        raise InputError(field, str(exc), value) from None
