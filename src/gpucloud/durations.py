"""Durations as users write them, read one way everywhere (API fields, cluster files): seconds (``5400``,
``"5400"``) or ``"90s"``, ``"30m"``, ``"1h30m"``, ``"2d"``."""

from __future__ import annotations

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



def format_duration(seconds: float) -> str:
    """``604800`` → ``7d``, ``5400`` → ``1h30m``, ``90`` → ``1m30s``: whole units, largest first (under a second:
    ``0.5s``)."""
    if seconds < 1:
        return f"{seconds:g}s"
    rest = round(seconds)
    parts = []
    for unit, size in _UNITS.items():
        count, rest = divmod(rest, int(size))
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
