"""Priority classes: the names users pick when submitting, mapped to the integer priority the core sorts by."""

from __future__ import annotations

from gpucloud.errors import UnknownNameError

#: Priority class name → integer priority (higher runs first and may preempt lower under priority policies).
PRIORITY_CLASSES: dict[str, int] = {
    "low": -10,
    "normal": 0,
    "high": 10,
    "urgent": 20,
}

DEFAULT_PRIORITY_CLASS = "normal"


def priority_of(name: str) -> int:
    """The integer priority of a class name; raises :class:`UnknownNameError` with "did you mean"."""
    try:
        return PRIORITY_CLASSES[name]
    except KeyError:
        raise UnknownNameError("priority class", name, list(PRIORITY_CLASSES)) from None
