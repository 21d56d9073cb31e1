"""The job-array and dependency columns of a planner's CSV trace (:mod:`.csv_generic`): ``name``, ``array`` (a
Slurm array specification, ``0-99%10``: the row stands for one job per index, ``<job_id>_<index>``) and
``dependency`` (Slurm's syntax over the trace's own job ids: ``afterok:prep``, ``afterany:sweep``,
``afternotok:train?afterok:eval``, ``singleton``; an array's id stands for all its tasks, ``sweep_3`` for one).

What a row asks for is kept with the job (:class:`Batch`) and applied by the simulator's gate
(:mod:`gpucloud.sim.gating`) with the core's rules, as the live service applies them."""

from __future__ import annotations

from dataclasses import dataclass

from gpucloud.model.dependency_spec import KINDS


@dataclass(frozen=True, slots=True)
class TraceDependency:
    """``refs``: ``(kind, trace job id)`` in the order written; ``any_of`` (joined by ``?``); ``singleton``."""

    refs: tuple[tuple[str, str], ...] = ()
    any_of: bool = False
    singleton: bool = False


@dataclass(frozen=True, slots=True)
class Batch:
    """A trace job's part in an array (``array``: its id, ``task``: its index, ``throttle``) and what it waits
    for; ``name`` groups singleton jobs (with the job's user)."""

    name: str = ""
    array: str | None = None
    task: int | None = None
    throttle: int | None = None
    dependency: TraceDependency | None = None


def read_dependency(text: str) -> TraceDependency:
    """``afterok:prep:train,singleton`` over trace job ids; ``ValueError`` with the reason otherwise."""
    text = text.strip()
    if "," in text and "?" in text:
        raise ValueError("join conditions with ',' (all) or '?' (any), not both")
    any_of = "?" in text
    refs: list[tuple[str, str]] = []
    singleton = False
    for part in text.split("?" if any_of else ","):
        kind, _, rest = part.strip().partition(":")
        kind = kind.strip().lower()
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
        if kind == "singleton":
            if rest.strip():
                raise ValueError("singleton takes no job ids")
            singleton = True
            continue
        ids = [i.strip() for i in rest.split(":")]
        if not rest.strip() or not all(ids):
            raise ValueError(f"{kind} needs job ids, e.g. {kind}:prep")
        refs += ((kind, i) for i in ids)
    if any_of and singleton:
        raise ValueError("singleton cannot be one of several alternatives ('?')")
    return TraceDependency(tuple(refs), any_of, singleton)
