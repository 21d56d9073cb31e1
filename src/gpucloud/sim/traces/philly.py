"""The Microsoft Philly trace (Jeon et al., USENIX ATC 2019), pre-processed as in the Pollux artifact.

Columns: ``timestamp`` (submit time, ``YYYY-MM-DD HH:MM:SS``), ``duration`` (seconds), ``num_gpus``,
``gpu_time`` (= duration × num_gpus; checked to be a number, otherwise unused), ``cluster`` (the virtual
cluster, i.e. the tenant, used as the org). Rows need not be sorted; blank lines (the file ends with one)
are skipped; extra columns are ignored.

- Job ids are ``philly-<line number>`` (the header is line 1, so the first job is ``philly-2``).
- The trace has no walltime: ``walltime = max(60, duration * walltime_factor)`` (see :mod:`.base`).
- A duration of 0 is kept as a job that runs for 0 s (its walltime is still 60 s); the published file has none
  (its shortest job runs 1 s). A negative duration is an error.
- GPU type: any (the trace does not say which GPU model a job ran on).
"""

from __future__ import annotations

import csv
import math
from datetime import datetime
from pathlib import Path

from gpucloud.sim.traces.base import (
    DEFAULT_WALLTIME_FACTOR,
    MIN_WALLTIME,
    CsvFile,
    RawJob,
    Trace,
    TraceError,
    build_trace,
    check_walltime_factor,
    gc_paused,
    open_csv,
    parse_float,
    parse_int,
)

COLUMNS = ("timestamp", "duration", "num_gpus", "gpu_time", "cluster")
_EPOCH = datetime(1970, 1, 1)


def read_philly(path: str | Path, *, walltime_factor: float = DEFAULT_WALLTIME_FACTOR) -> Trace:
    """Read a Philly CSV trace; raises :class:`TraceError` naming file, line and column on a bad row."""
    factor = check_walltime_factor(walltime_factor)
    stream, f = open_csv(path)
    with stream, gc_paused():
        f.require(COLUMNS, "Philly")
        return _read_rows(f, factor)


def _read_rows(f: CsvFile, factor: float) -> Trace:
    """Check each field of each row (raising :class:`TraceError` at the first bad one) and build the trace."""
    name = f.name
    i_ts, i_dur, i_gpus, i_gt, i_org = (f.index[c] for c in COLUMNS)
    width = len(f.header)
    raw: list[RawJob] = []
    append = raw.append
    orgs: dict[str, None] = {}
    fromiso = datetime.fromisoformat
    epoch = _EPOCH
    inf = math.inf
    min_wall = MIN_WALLTIME
    line = 1
    try:
        for row in f.reader:
            line = f.line_num
            if len(row) != width:
                f.check_width(row)  # raises unless the line is blank
                continue
            ts = row[i_ts]
            try:
                if len(ts) != 19 or ts[10] != " ":
                    raise ValueError(ts)
                submit = (fromiso(ts) - epoch).total_seconds()
            except ValueError:
                raise TraceError(
                    name, line, "timestamp", "must be a date and time YYYY-MM-DD HH:MM:SS", ts
                ) from None
            text = row[i_dur]
            try:
                dur = float(text)
            except ValueError:
                dur = math.nan
            if not 0.0 <= dur < inf:  # also false for NaN
                dur = parse_float(name, line, "duration", text)  # raises with the precise reason
            text = row[i_gpus]
            try:
                gpus = int(text)
            except ValueError:
                gpus = parse_int(name, line, "num_gpus", text, minimum=1)
            if gpus < 1:
                raise TraceError(name, line, "num_gpus", "must be a positive integer", text)
            text = row[i_gt]
            try:
                gt = float(text)
            except ValueError:
                gt = math.nan
            if not 0.0 <= gt < inf:
                parse_float(name, line, "gpu_time", text)
            org = row[i_org]
            if org not in orgs:
                org = org.strip()
                if not org:
                    raise TraceError(name, line, "cluster", "must not be empty (it names the tenant)", row[i_org])
                orgs[org] = None
            wall = dur * factor
            append((submit, line, f"philly-{line}", org, gpus, wall if wall > min_wall else min_wall, dur,
                    None, None, 0, True, 0.0))
    except (csv.Error, UnicodeDecodeError) as exc:
        raise f.csv_error(exc) from None
    return build_trace(raw, list(orgs), name, "philly", {})
