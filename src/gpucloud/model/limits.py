"""What a job may ask for: the size of its command (argv, env, cwd) and its walltime and checkpoint grace.

:class:`CommandLimits` are the server's (settings); :class:`RunLimits` the cluster's (the cluster file's
``limits:``, with a maximum walltime per priority class and per service class). Their checks raise
:class:`InputError` naming the field and the limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gpucloud.durations import format_duration
from gpucloud.errors import InputError
from gpucloud.model.array_spec import DEFAULT_MAX_TASKS

#: The longest walltime and checkpoint grace a job may ask for when the cluster file sets none.
DEFAULT_MAX_WALLTIME_S = 30 * 86400.0
DEFAULT_MAX_GRACE_S = 300.0

#: The service classes a maximum walltime may be set for (``reserved``: the jobs that run in a reservation).
SERVICE_CLASSES = ("standard", "interactive", "preemptible", "reserved")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored or passed to a process as text (a NUL character, a lone surrogate), or
    None when it can."""
    if "\x00" in value:
        return "must not contain a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (it holds a lone surrogate)"
    return None


@dataclass(frozen=True, slots=True)
class CommandLimits:
    """The most a job's command may hold, in items and UTF-8 bytes."""

    argv_items: int = 4096
    argv_bytes: int = 128 * 1024
    arg_bytes: int = 32 * 1024
    env_vars: int = 128
    env_key_bytes: int = 256
    env_value_bytes: int = 32 * 1024
    cwd_bytes: int = 4096
    #: the most tasks one job array may have (one submission creates them all)
    array_tasks: int = DEFAULT_MAX_TASKS


def _text_bytes(fld: str, value: str, limit: int) -> int:
    problem = text_problem(value)
    if problem is not None:
        raise InputError(fld, problem, value)
    size = len(value.encode("utf-8"))
    if size > limit:
        raise InputError(fld, f"must be at most {limit} bytes (it has {size})")
    return size


def _env_name_problem(key: str, limit: int) -> str | None:
    if not key:
        return "must not be empty"
    if "=" in key:
        return "must not contain '='"
    problem = text_problem(key)
    if problem is None and len(key.encode("utf-8")) > limit:
        problem = f"must be at most {limit} bytes"
    return problem


def check_command(argv: Sequence[str], env: Mapping[str, str], cwd: str, limits: CommandLimits) -> None:
    """Check what a process can be started with: no NUL character anywhere, environment names that are not
    empty and hold no ``=``, and every size within ``limits``. Raises :class:`InputError` naming the field
    (``argv[3]``, ``env``, ``env.NAME``, ``cwd``)."""
    if not argv:
        raise InputError("argv", "must name a program to run")
    if len(argv) > limits.argv_items:
        raise InputError("argv", f"must have at most {limits.argv_items} items (it has {len(argv)})")
    total = 0
    for i, arg in enumerate(argv):
        total += _text_bytes(f"argv[{i}]", arg, limits.arg_bytes)
    if total > limits.argv_bytes:
        raise InputError("argv", f"must be at most {limits.argv_bytes} bytes in all (it has {total})")
    if len(env) > limits.env_vars:
        raise InputError("env", f"must have at most {limits.env_vars} variables (it has {len(env)})")
    for key, value in env.items():
        if (problem := _env_name_problem(key, limits.env_key_bytes)) is not None:
            raise InputError("env", f"a variable name {problem}", key)
        _text_bytes(f"env.{key}", value, limits.env_value_bytes)
    _text_bytes("cwd", cwd, limits.cwd_bytes)


@dataclass(frozen=True, slots=True)
class RunLimits:
    """The longest walltime and checkpoint grace a job may ask for. A priority class or service class with a
    walltime of its own uses it instead of ``max_walltime_s``; when both classes have one, the shorter holds."""

    max_walltime_s: float = DEFAULT_MAX_WALLTIME_S
    max_grace_s: float = DEFAULT_MAX_GRACE_S
    walltime_by_priority: Mapping[str, float] = field(default_factory=dict)
    walltime_by_service_class: Mapping[str, float] = field(default_factory=dict)

    def max_walltime(self, priority_class: str, service_class: str) -> tuple[float, str]:
        """The longest walltime for a job of these classes, and which setting says so."""
        by_class = [(limit, f"max_walltime_by_{what} of {name}") for limit, what, name in (
            (self.walltime_by_priority.get(priority_class), "priority", priority_class),
            (self.walltime_by_service_class.get(service_class), "service_class", service_class),
        ) if limit is not None]
        if not by_class:
            return self.max_walltime_s, "max_walltime"
        return min(by_class)

    def check(self, walltime_s: float, grace_s: float, priority_class: str, service_class: str) -> None:
        """:class:`InputError` on ``walltime`` or ``grace`` when a job asks for more than the cluster allows."""
        limit, source = self.max_walltime(priority_class, service_class)
        if walltime_s > limit:
            raise InputError("walltime", f"must be at most {format_duration(limit)} (the cluster's {source})",
                             walltime_s)
        if grace_s > self.max_grace_s:
            raise InputError("grace", f"must be at most {format_duration(self.max_grace_s)} (the cluster's "
                             "max_grace)", grace_s)
