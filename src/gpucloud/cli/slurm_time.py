"""Time as Slurm writes it: ``--time`` values read (every format sbatch takes) and durations shown as squeue
and sacct show them (``M:SS``, ``H:MM:SS``, ``D-HH:MM:SS``). Standard library only."""

from __future__ import annotations

from gpucloud.errors import InputError

FORMATS = ("MM", "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM", "D-HH:MM:SS")
#: Slurm's words for no limit (gpucloud jobs always have one).
UNLIMITED = ("unlimited", "infinite")


def _number(part: str, text: str, field: str) -> int:
    part = part.strip()
    if not part.isdigit():
        raise InputError(field, f"{part!r} is not a whole number; the time formats are {', '.join(FORMATS)}",
                         text)
    return int(part)


def parse_slurm_time(text: str, field: str = "--time") -> float:
    """Seconds from ``30`` (minutes), ``30:00`` (minutes:seconds), ``1:30:00``, ``2-0``, ``2-12:30`` or
    ``2-12:30:15``; :class:`InputError` naming ``field`` otherwise."""
    value = text.strip()
    if value.lower() in UNLIMITED:
        raise InputError(field, "gpucloud jobs need a time limit; give one (e.g. 2-00:00:00), at most the "
                                "cluster's longest (gpucloud sinfo shows it as TIMELIMIT)", text)
    days_text, dash, rest = value.partition("-")
    parts = rest.split(":") if dash else value.split(":")
    if not value or len(parts) > 3 or (dash and not rest):
        raise InputError(field, f"the time formats are {', '.join(FORMATS)}", text)
    numbers = [_number(p, text, field) for p in parts]
    if dash:  # days-hours[:minutes[:seconds]]
        hours, minutes, seconds = [*numbers, 0, 0][:3]
        total = _number(days_text, text, field) * 86400 + hours * 3600 + minutes * 60 + seconds
    elif len(numbers) == 1:  # minutes
        total = numbers[0] * 60
    elif len(numbers) == 2:  # minutes:seconds
        total = numbers[0] * 60 + numbers[1]
    else:  # hours:minutes:seconds
        total = numbers[0] * 3600 + numbers[1] * 60 + numbers[2]
    if total <= 0:
        raise InputError(field, "must be longer than 0", text)
    return float(total)


def format_slurm_time(seconds: float | None) -> str:
    """``M:SS``, ``H:MM:SS`` or ``D-HH:MM:SS``, as squeue's TIME and sacct's Elapsed columns show them."""
    if seconds is None:
        return ""
    left = max(0, int(seconds))
    days, left = divmod(left, 86400)
    hours, left = divmod(left, 3600)
    minutes, secs = divmod(left, 60)
    if days:
        return f"{days}-{hours:02d}:{minutes:02d}:{secs:02d}"
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


_UNITS = {"": 1, "seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}


def parse_when(text: str, now: float, field: str) -> float:
    """A point in time as sacct takes it, in local time: ``2026-11-29``, ``2026-11-29T13:45[:00]``, ``13:45[:00]``
    (today), ``now``, ``today``/``midnight``, ``now-2hours`` (``now[+|-]N[seconds|minutes|hours|days|weeks]``)."""
    import time

    value = text.strip().lower()
    if value in ("today", "midnight"):
        t = time.localtime(now)
        return time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1))
    if value.startswith("now"):
        rest = value[3:]
        if not rest:
            return now
        sign, digits = rest[0], rest[1:].rstrip("abcdefghijklmnopqrstuvwxyz")
        unit = rest[1 + len(digits):]
        unit = next((u for u in _UNITS if u and u.startswith(unit)), "") if unit else ""
        if sign in "+-" and digits.isdigit() and (unit or not rest[1 + len(digits):]):
            return now + (1 if sign == "+" else -1) * int(digits) * _UNITS[unit]
    for pattern in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return time.mktime(time.strptime(value.upper(), pattern))
        except ValueError:
            pass
    for pattern in ("%H:%M:%S", "%H:%M"):
        try:
            clock = time.strptime(value, pattern)
        except ValueError:
            continue
        t = time.localtime(now)
        return time.mktime((t.tm_year, t.tm_mon, t.tm_mday, clock.tm_hour, clock.tm_min, clock.tm_sec, 0, 0, -1))
    raise InputError(field, "give a time such as 2026-11-29, 2026-11-29T13:45, 13:45, now, today or now-2hours", text)
