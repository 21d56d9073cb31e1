"""How Slurm's commands show things, for ``gpucloud squeue``, ``sacct``, ``sinfo`` and ``scancel``: job states
(``PD``/``PENDING``...), wait reasons (``Resources``, ``Dependency``...), job ids of array tasks (``12_3``,
``12_[4-9%2]``), compressed node lists (``b0-r0-n[0-3]``), exit codes (``1:0``), and ``--format`` specifications
(``%.18i %.9P``, ``JobID,JobName%30``) with Slurm's widths. Standard library only.
"""

from __future__ import annotations

from gpucloud.cli.slurm_time import format_slurm_time
from gpucloud.errors import InputError

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any

#: gpucloud's state → Slurm's short and long names (``preempting``: stopped for another job, in its grace period).
STATES = {
    "pending": ("PD", "PENDING"), "admitted": ("CF", "CONFIGURING"), "running": ("R", "RUNNING"),
    "preempting": ("PR", "PREEMPTED"), "succeeded": ("CD", "COMPLETED"), "failed": ("F", "FAILED"),
    "cancelled": ("CA", "CANCELLED"), "timed_out": ("TO", "TIMEOUT"),
}
ACTIVE = ("pending", "admitted", "running", "preempting")
#: The start of a wait reason → the reason Slurm shows for it (the first that matches).
REASONS = (
    ("dependency can never be met", "DependencyNeverSatisfied"), ("dependency", "Dependency"),
    ("array throttle", "JobArrayTaskLimit"), ("quota", "QOSGrpGRES"), ("budget", "AssocGrpBillingMinutes"),
    ("reservation", "Reservation"), ("behind the head job", "Priority"), ("would delay", "Priority"),
    ("no node in the cluster", "BadConstraints"), ("no fitting nodes", "Resources"), ("waiting for", "Resources"),
)


def states_from(text: str, field: str) -> list[str]:
    """gpucloud's states from a comma list of Slurm's (``PD,R``, ``pending,running``) or gpucloud's names;
    ``all`` is every state."""
    out: list[str] = []
    for word in (w.strip() for w in text.split(",") if w.strip()):
        if word.lower() == "all":
            return list(STATES)
        found = [s for s, (short, long) in STATES.items() if word.upper() in (short, long) or word.lower() == s]
        if not found:
            known = ", ".join(f"{short}/{long}" for short, long in STATES.values())
            raise InputError(field, f"unknown state {word!r} (known: {known}, or all)", text)
        out += found
    return out


def reason_code(reason: str) -> str:
    """The Slurm reason for a pending job's wait reason (``None``: not looked at yet)."""
    text = reason.lower()
    return next((code for start, code in REASONS if text.startswith(start)), "None")


def job_label(job: dict[str, Any]) -> str:
    """``12`` or, for a task of an array, ``<array id>_<index>``."""
    return str(job["id"]) if job.get("array_job_id") is None else f"{job['array_job_id']}_{job['array_task_id']}"


def hostlist(names: Iterable[str]) -> str:
    """``b0-r0-n0,b0-r0-n1,b0-r0-n3`` → ``b0-r0-n[0-1,3]``: names that differ only in their last number, compressed
    as Slurm does."""
    groups: dict[str, list[str]] = {}
    for name in names:
        digits = len(name) - len(name.rstrip("0123456789"))
        prefix, number = (name[:-digits], name[-digits:]) if digits else (name, "")
        groups.setdefault(prefix, []).append(number)
    parts = []
    for prefix, numbers in groups.items():
        if numbers == [""] or "" in numbers or len(numbers) == 1:
            parts += [prefix + n for n in numbers]
            continue
        values = sorted({int(n) for n in numbers})
        runs: list[str] = []
        start = prev = values[0]
        for v in [*values[1:], None]:
            if v is not None and v == prev + 1:
                prev = v
                continue
            runs.append(str(start) if start == prev else f"{start}-{prev}")
            if v is not None:
                start = prev = v
        parts.append(f"{prefix}[{','.join(runs)}]")
    return ",".join(parts)


def exit_code(job: dict[str, Any]) -> str:
    """Slurm's ``code:signal``: ``0:0``, ``3:0``, ``0:9`` for a job killed by SIGKILL."""
    code = job.get("exit_code")
    if code is None:
        return "0:15" if job.get("state") == "cancelled" and job.get("started_at") else "0:0"
    return f"0:{code - 128}" if code > 128 else f"{code}:0"


def elapsed(job: dict[str, Any]) -> float | None:
    """Seconds run over all its runs (a running job up to now)."""
    ran = job.get("ran_s")
    return None if ran is None else float(ran)


def when(key: str, missing: str) -> Callable[[dict[str, Any]], str]:
    """A column of the job's time ``key`` in local time (``2026-11-29T13:45:02``), ``missing`` when there is none
    (squeue says ``N/A``, sacct ``Unknown``)."""
    import time

    def get(job: dict[str, Any]) -> str:
        value = job.get(key)
        return missing if value is None else time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(float(value)))

    return get


def limit(job: dict[str, Any]) -> str:
    return format_slurm_time(job.get("walltime_s"))


def nodelist(job: dict[str, Any]) -> str:
    return hostlist(p["node"] for p in job.get("placement") or ())


def gres(job: dict[str, Any]) -> str:
    """``gres/gpu:H100-80GB=8`` (or without the type when any type will do)."""
    kind = job.get("assigned_gpu_type") or job.get("gpu_type")
    return f"gres/gpu{':' + kind if kind else ''}={job.get('num_gpus', 0)}"


def node_count(job: dict[str, Any]) -> int:
    placement = job.get("placement")
    return len(placement) if placement else int(job.get("nodes") or 1)


class Column:
    """One column of a ``--format``: a getter, a header, a width (None: as wide as needed), right-justified or not,
    and the literal text that follows it."""

    __slots__ = ("get", "header", "right", "suffix", "width")

    def __init__(self, get: Callable[[Any], object], header: str, width: int | None, right: bool,
                 suffix: str = "") -> None:
        self.get = get
        self.header = header
        self.width = width
        self.right = right
        self.suffix = suffix


def percent_format(spec: str, codes: dict[str, tuple[str, Callable[[Any], object]]], field: str) -> tuple[str,
                                                                                                          list[Column]]:
    """squeue's and sinfo's ``--format``: ``%[[.]size]type`` items (``.``: right-justified; a size pads and cuts)
    and text between them; the text before the first item, and the columns."""
    prefix = ""
    columns: list[Column] = []
    i = 0
    while i < len(spec):
        if spec[i] != "%":
            j = spec.find("%", i)
            text = spec[i:] if j < 0 else spec[i:j]
            if columns:
                columns[-1].suffix += text
            else:
                prefix += text
            i = len(spec) if j < 0 else j
            continue
        j = i + 1
        right = spec[j:j + 1] == "."
        j += right or spec[j:j + 1] == "-"  # "-": left-justified, as without "."
        k = j
        while k < len(spec) and spec[k].isdigit():
            k += 1
        letter = spec[k:k + 1]
        if letter not in codes:
            raise InputError(field, f"unknown field %{letter} (known: {' '.join('%' + c for c in codes)})", spec)
        header, get = codes[letter]
        columns.append(Column(get, header, int(spec[j:k]) if k > j else None, right))
        i = k + 1
    return prefix, columns


def fit(text: str, width: int | None, right: bool, mark: str = "") -> str:
    """``text`` padded (or cut, ending with ``mark``) to ``width``."""
    if width is None:
        return text
    if len(text) > width:
        return text[: max(0, width - len(mark))] + mark if width else ""
    return text.rjust(width) if right else text.ljust(width)


def render(prefix: str, columns: Sequence[Column], rows: Iterable[Any], header: bool) -> list[str]:
    """The lines of a ``--format`` table."""
    lines = []
    if header:
        lines.append(prefix + "".join(fit(c.header, c.width, c.right) + c.suffix for c in columns))
    for row in rows:
        lines.append(prefix + "".join(fit(str(c.get(row)), c.width, c.right) + c.suffix for c in columns))
    return [line.rstrip() for line in lines]
