"""Job array specifications as Slurm writes them: ``0-15``, ``1,3,5``, ``1-99:2``, ``0-9999%50`` (ranges, steps,
lists, and ``%N``: at most N tasks of the array hold GPUs at once).

Light on purpose (no dataclasses, no typing at run time): ``gpucloud sbatch`` checks a script's ``--array``
with it before anything is sent, and the server reads the same text with it. Errors are
:class:`~gpucloud.errors.InputError` naming the field ``array``.
"""

from __future__ import annotations

from gpucloud.errors import InputError

TYPE_CHECKING = False  # not typing's: the CLI imports this module (docs/cli.md)
if TYPE_CHECKING:
    from collections.abc import Sequence

#: The largest task index (Slurm's own ceiling: ``MaxArraySize`` is at most 4,000,001).
MAX_TASK_INDEX = 4_000_000
#: The most tasks one submission may create unless the server is told otherwise (``GPUCLOUD_MAX_ARRAY_TASKS``).
DEFAULT_MAX_TASKS = 10_000
#: The most tasks one reference may name (``12_[0-999999]``): the largest array a server may allow.
MAX_NAMED_TASKS = 1_000_000
#: The longest array specification accepted (characters).
MAX_SPEC_CHARS = 1000

FIELD = "array"


class ArraySpec:
    """The task indices of an array (ascending, each once) and its throttle (None: no limit)."""

    __slots__ = ("indices", "throttle")

    def __init__(self, indices: tuple[int, ...], throttle: int | None) -> None:
        self.indices = indices
        self.throttle = throttle

    def __repr__(self) -> str:
        return f"ArraySpec({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ArraySpec) and (self.indices, self.throttle) == (other.indices, other.throttle)

    def __hash__(self) -> int:
        return hash((self.indices, self.throttle))

    @property
    def count(self) -> int:
        return len(self.indices)

    @property
    def step(self) -> int:
        """The step between consecutive indices when they are evenly spaced (Slurm's
        ``SLURM_ARRAY_TASK_STEP``), else 1."""
        gaps = {b - a for a, b in zip(self.indices, self.indices[1:], strict=False)}
        return gaps.pop() if len(gaps) == 1 else 1

    @property
    def text(self) -> str:
        """The canonical form: maximal runs of equal steps, ``%N`` last (``1-7:2,10%2``)."""
        return compress(self.indices) + ("" if self.throttle is None else f"%{self.throttle}")


def runs(indices: Sequence[int]) -> list[tuple[int, int, int]]:
    """Ascending ``indices`` as ``(first, last, step)`` runs: three or more evenly spaced indices make one run."""
    out: list[tuple[int, int, int]] = []
    i, n = 0, len(indices)
    while i < n:
        start = indices[i]
        if i + 2 < n and indices[i + 1] - start == indices[i + 2] - indices[i + 1]:
            step = indices[i + 1] - start
            j = i + 1
            while j + 1 < n and indices[j + 1] - indices[j] == step:
                j += 1
            out.append((start, indices[j], step))
            i = j + 1
        elif i + 1 < n and indices[i + 1] == start + 1:
            out.append((start, start + 1, 1))
            i += 2
        else:
            out.append((start, start, 1))
            i += 1
    return out


def compress(indices: Sequence[int]) -> str:
    """``[1, 2, 3, 7, 9, 11]`` → ``1-3,7-11:2``: runs of three or more evenly spaced indices as ranges."""
    return ",".join(str(a) if a == b else f"{a}-{b}" + ("" if step == 1 else f":{step}")
                    for a, b, step in runs(indices))


def _index(text: str, whole: str) -> int:
    if not text.isdigit():
        raise InputError(FIELD, f"{text!r} is not a task index (a whole number from 0 to {MAX_TASK_INDEX:,})",
                         whole)
    value = int(text)
    if value > MAX_TASK_INDEX:
        raise InputError(FIELD, f"task index {value} is beyond the largest, {MAX_TASK_INDEX:,}", whole)
    return value


def parse_array(text: str, max_tasks: int = DEFAULT_MAX_TASKS) -> ArraySpec:
    """Read ``0-15:2,20%4``; :class:`InputError` naming ``array`` for anything else, or for more than
    ``max_tasks`` tasks."""
    whole = text
    text = text.strip()
    if not text:
        raise InputError(FIELD, "must list task indices, e.g. 0-15 or 1,3,5 (optionally %N)", whole)
    if len(text) > MAX_SPEC_CHARS:
        raise InputError(FIELD, f"must be at most {MAX_SPEC_CHARS} characters (it has {len(text)})")
    throttle: int | None = None
    body, percent, limit = text.partition("%")
    if percent:
        if not limit.isdigit() or int(limit) < 1:
            raise InputError(FIELD, f"%{limit}: the throttle must be a whole number of at least 1", whole)
        throttle = int(limit)
    ranges: list[tuple[int, int, int]] = []
    raw = 0
    for part in body.split(","):
        span, colon, step_text = part.strip().partition(":")
        lo_text, dash, hi_text = span.partition("-")
        lo = _index(lo_text.strip(), whole)
        hi = _index(hi_text.strip(), whole) if dash else lo
        if colon and not dash:
            raise InputError(FIELD, f"{part.strip()!r}: a step needs a range (e.g. 1-9:2)", whole)
        step = 1
        if colon:
            if not step_text.strip().isdigit() or int(step_text) < 1:
                raise InputError(FIELD, f"{part.strip()!r}: the step must be a whole number of at least 1", whole)
            step = int(step_text)
        if hi < lo:
            raise InputError(FIELD, f"{part.strip()!r}: the range ends before it starts", whole)
        ranges.append((lo, hi, step))
        raw += (hi - lo) // step + 1
        if raw > 2 * max_tasks:  # counted before anything is made: "0-4000000" costs nothing
            raise InputError(FIELD, f"must have at most {max_tasks:,} tasks", whole)
    indices = sorted({i for lo, hi, step in ranges for i in range(lo, hi + 1, step)})
    if len(indices) > max_tasks:
        raise InputError(FIELD, f"must have at most {max_tasks:,} tasks (it has {len(indices):,})", whole)
    return ArraySpec(tuple(indices), throttle)


def parse_job_ref(text: str, field: str = "jobs") -> tuple[int, tuple[int, ...] | None]:
    """A job as ``scancel`` names it: ``12`` (the job, or every task of the array whose id it is), ``12_3`` (task 3
    of array 12) or ``12_[1-3,7]`` (those tasks); the job id and the task indices (None: not narrowed)."""
    job_text, underscore, tasks_text = text.strip().partition("_")
    if not job_text.isdigit() or not 1 <= int(job_text) <= 2**31 - 1:
        raise InputError(field, "must be a job id, optionally with array tasks (12, 12_3, 12_[1-3])", text)
    if not underscore:
        return int(job_text), None
    inner = tasks_text[1:-1] if tasks_text.startswith("[") and tasks_text.endswith("]") else tasks_text
    if "%" in inner:
        raise InputError(field, "array tasks are named without a throttle", text)
    try:
        return int(job_text), parse_array(inner, MAX_NAMED_TASKS).indices
    except InputError as exc:
        raise InputError(field, exc.reason, text) from None
