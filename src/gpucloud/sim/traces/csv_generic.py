"""The planners' own CSV trace: one job per row, times in seconds.

Required columns: ``job_id, submit_time, duration, num_gpus``. Optional: ``org`` (empty or absent →
``default``), ``gpu_type`` (empty → any type; the name is checked against the cluster at replay, not here),
``walltime`` (empty or absent → ``max(60, duration * walltime_factor)``, see :mod:`.base`), ``priority``
(integer, default 0), ``preemptible`` (true/false, yes/no, 1/0; default true), ``nodes`` (an explicit gang of
``nodes`` nodes; must divide ``num_gpus``) and ``grace`` (checkpoint grace period in seconds, default 0).

Any other column is an error naming it, as is a missing required column or a repeated ``job_id``.
``submit_time`` and ``duration`` must not be negative, ``num_gpus`` must be at least 1, ``walltime`` > 0.
Example::

    job_id,submit_time,duration,num_gpus,org,gpu_type,walltime,priority,preemptible
    train-1,0,3600,16,uni-a,H100-80GB,7200,0,true
    eval-1,120,600,1,lab-b,,,,
"""

from __future__ import annotations

from pathlib import Path

from gpucloud.sim.traces.base import (
    DEFAULT_WALLTIME_FACTOR,
    RawJob,
    Trace,
    TraceError,
    build_trace,
    check_walltime_factor,
    estimate_walltime,
    gc_paused,
    open_csv,
    parse_bool,
    parse_float,
    parse_int,
)

REQUIRED = ("job_id", "submit_time", "duration", "num_gpus")
OPTIONAL = ("org", "gpu_type", "walltime", "priority", "preemptible", "nodes", "grace")
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
        i_org, i_type, i_wall, i_prio, i_pre, i_nodes, i_grace = (ix.get(c, -1) for c in OPTIONAL)
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
            raw.append((submit, line, jid, org, gpus, wall, dur, gpu_type, nodes, prio, pre, grace))
        return build_trace(raw, list(orgs), name, "csv", {})
