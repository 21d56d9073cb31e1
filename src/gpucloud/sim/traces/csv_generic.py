"""The planners' own CSV trace: one job per row, times in seconds.

Required columns: ``job_id, submit_time, duration, num_gpus``. Optional: ``org`` (empty or absent →
``default``), ``gpu_type`` (empty → any type; the name is checked against the cluster at replay, not here),
``walltime`` (empty or absent → ``max(60, duration * walltime_factor)``, see :mod:`.base`), ``priority``
(integer, default 0), ``preemptible`` (true/false, yes/no, 1/0; default true), ``nodes`` (an explicit gang of
``nodes`` nodes; must divide ``num_gpus``) and ``grace`` (checkpoint grace period in seconds, default 0). Job
arrays and dependencies (:mod:`.batch_columns`): ``array`` (``0-99%10``: the row is one job per index, with the id
``<job_id>_<index>``), ``dependency`` (``afterok:prep``, over the trace's job ids and array ids) and ``name`` (what
groups ``singleton`` jobs, with their user).

Any other column is an error naming it, as is a missing required column or a repeated ``job_id``.
``submit_time`` and ``duration`` must not be negative, ``num_gpus`` must be at least 1, ``walltime`` > 0.
Example::

    job_id,submit_time,duration,num_gpus,org,gpu_type,walltime,priority,preemptible
    train-1,0,3600,16,uni-a,H100-80GB,7200,0,true
    eval-1,120,600,1,lab-b,,,,
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gpucloud.errors import InputError
from gpucloud.model.array_spec import ArraySpec, parse_array
from gpucloud.sim.traces.base import (
    DEFAULT_WALLTIME_FACTOR,
    RawJob,
    Trace,
    TraceError,
    TraceJob,
    build_trace,
    check_walltime_factor,
    estimate_walltime,
    gc_paused,
    open_csv,
    parse_bool,
    parse_float,
    parse_int,
)
from gpucloud.sim.traces.batch_columns import Batch, read_dependency

REQUIRED = ("job_id", "submit_time", "duration", "num_gpus")
OPTIONAL = ("org", "gpu_type", "walltime", "priority", "preemptible", "nodes", "grace", "name", "array",
            "dependency")
DEFAULT_ORG = "default"


def read_csv_trace(path: str | Path, *, walltime_factor: float = DEFAULT_WALLTIME_FACTOR) -> Trace:
    """Read a generic CSV trace; raises :class:`TraceError` naming file, line and column on a bad row."""
    factor = check_walltime_factor(walltime_factor)
    stream, f = open_csv(path)
    with stream, gc_paused():
        name = f.name
        allowed = set(REQUIRED) | set(OPTIONAL)
        for col in f.header:
            if col not in allowed:
                raise TraceError(
                    name, 1, col, f"unknown column; expected {', '.join(REQUIRED)} and optionally "
                    f"{', '.join(OPTIONAL)}",
                )
        f.require(REQUIRED, "csv")
        ix = f.index
        i_id, i_submit, i_dur, i_gpus = (ix[c] for c in REQUIRED)
        i_org, i_type, i_wall, i_prio, i_pre, i_nodes, i_grace, i_name, i_array, i_dep = (
            ix.get(c, -1) for c in OPTIONAL)
        batches: dict[str, tuple[int, Batch]] = {}
        arrays: dict[str, ArraySpec] = {}
        raw: list[RawJob] = []
        orgs: dict[str, None] = {}
        seen: dict[str, int] = {}
        for line, row in f.rows():
            jid = row[i_id].strip()
            if not jid:
                raise TraceError(name, line, "job_id", "must not be empty", row[i_id])
            if jid in seen:
                raise TraceError(name, line, "job_id", f"duplicate job id (first on line {seen[jid]})", jid)
            seen[jid] = line
            submit = parse_float(name, line, "submit_time", row[i_submit])
            dur = parse_float(name, line, "duration", row[i_dur])
            gpus = parse_int(name, line, "num_gpus", row[i_gpus], minimum=1)
            org = (row[i_org].strip() if i_org >= 0 else "") or DEFAULT_ORG
            gpu_type = (row[i_type].strip() if i_type >= 0 else "") or None
            text = row[i_wall].strip() if i_wall >= 0 else ""
            if text:
                wall = parse_float(name, line, "walltime", text)
                if wall <= 0:
                    raise TraceError(name, line, "walltime", "must be a positive number of seconds", text)
            else:
                wall = estimate_walltime(dur, factor)
            text = row[i_prio].strip() if i_prio >= 0 else ""
            prio = parse_int(name, line, "priority", text) if text else 0
            text = row[i_pre].strip() if i_pre >= 0 else ""
            pre = parse_bool(name, line, "preemptible", text) if text else True
            text = row[i_nodes].strip() if i_nodes >= 0 else ""
            nodes = parse_int(name, line, "nodes", text, minimum=1) if text else None
            text = row[i_grace].strip() if i_grace >= 0 else ""
            grace = parse_float(name, line, "grace", text) if text else 0.0
            orgs[org] = None
            batch = _batch(name, line, jid, row, i_name, i_array, i_dep)
            if batch is not None:
                batches[jid] = (line, batch)
                if batch.array is not None:
                    arrays[jid] = _array(name, line, row[i_array])
            raw.append((submit, line, jid, org, gpus, wall, dur, gpu_type, nodes, prio, pre, grace))
        trace = build_trace(raw, list(orgs), name, "csv", {})
        if batches:
            trace.jobs = _with_batches(name, trace.jobs, batches, arrays, seen)
        return trace


def _with_batches(file: str, jobs: list[TraceJob], batches: dict[str, tuple[int, Batch]],
                  arrays: dict[str, ArraySpec], seen: dict[str, int]) -> list[TraceJob]:
    """The jobs with their names, arrays and dependencies; an array's row made into its tasks, in index order, where
    the row was."""
    out: list[TraceJob] = []
    for tj in jobs:
        jid = tj.spec.id
        if jid not in batches:
            out.append(tj)
            continue
        line, batch = batches[jid]
        spec = arrays.get(jid)
        if spec is None:
            out.append(replace(tj, batch=batch))
            continue
        for index in spec.indices:
            task = f"{jid}_{index}"
            if task in seen:
                raise TraceError(file, line, "array", f"task {task} is also a job id (line {seen[task]})", task)
            out.append(TraceJob(replace(tj.spec, id=task), tj.duration,
                                replace(batch, task=index, throttle=spec.throttle)))
    ids = set(seen) | {t.spec.id for t in out}
    for line, batch in batches.values():
        for _, ref in batch.dependency.refs if batch.dependency is not None else ():
            if ref not in ids:
                raise TraceError(file, line, "dependency", "names no job or array of this trace", ref)
    return out


def _array(file: str, line: int, text: str) -> ArraySpec:
    try:
        return parse_array(text)
    except InputError as exc:
        raise TraceError(file, line, "array", exc.reason, text) from None


def _batch(file: str, line: int, jid: str, row: list[str], i_name: int, i_array: int, i_dep: int) -> Batch | None:
    """The row's name, array and dependency (None when it has none of them)."""
    job_name = row[i_name].strip() if i_name >= 0 else ""
    array = row[i_array].strip() if i_array >= 0 else ""
    text = row[i_dep].strip() if i_dep >= 0 else ""
    if not (job_name or array or text):
        return None
    try:
        dependency = read_dependency(text) if text else None
    except ValueError as exc:
        raise TraceError(file, line, "dependency", str(exc), text) from None
    return Batch(job_name, jid if array else None, None, None, dependency)
