"""The throttle of a job array (Slurm's ``--array=0-999%10``): at most N of its tasks hold GPUs at once.

Pure: the caller gives the pending tasks that could otherwise run and how many tasks of each array hold GPUs now;
:func:`throttled` says which pending tasks stay out of this cycle. The lowest task indices go first, so an array
runs in index order as far as the scheduler lets it (a requeued task keeps its index and its place).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: The prefix of the wait reason of a task held by its array's throttle.
THROTTLE_PREFIX = "array throttle: "


def throttle_reason(array: int, limit: int) -> str:
    """The wait reason of a held task (the same in every cycle, so that it is not written again and again)."""
    return f"{THROTTLE_PREFIX}at most {limit} task{'s' if limit != 1 else ''} of array {array} at once (%{limit})"


def throttled(pending: Iterable[tuple[int, int, int, int]], holding: Mapping[int, int]) -> dict[int, str]:
    """The pending tasks held back by their array's throttle, with the reason.

    ``pending``: ``(job id, array id, task index, limit)`` of pending tasks of throttled arrays (those held for
    another reason left out); ``holding``: array id → how many of its tasks hold GPUs now (admitted, running,
    preempting). Each array lets ``limit - holding`` of its pending tasks in, lowest indices first."""
    by_array: dict[int, list[tuple[int, int, int]]] = {}
    for job_id, array, task, limit in pending:
        by_array.setdefault(array, []).append((task, job_id, limit))
    held: dict[int, str] = {}
    for array, tasks in by_array.items():
        tasks.sort()
        limit = min(limit for _, _, limit in tasks)
        room = max(0, limit - holding.get(array, 0))
        reason = throttle_reason(array, limit)
        for _, job_id, _ in tasks[room:]:
            held[job_id] = reason
    return held
