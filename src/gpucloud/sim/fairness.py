"""Fair share attained: how evenly the orgs that wanted more GPUs got them, relative to their quota or weight.

Time is cut into bins of :data:`BIN` seconds. In each bin, the *backlogged* orgs are those with a job waiting
at some moment of the bin (they would have used more than they got). Among them, org ``o`` received a share
``r_o`` of their GPU-seconds in the bin and was entitled to ``e_o = w_o / Σ w`` — ``w`` its guaranteed quota
(all GPU types together) when it has one, else its weight. Jain's index ``(Σx)² / (n·Σx²)`` of ``x_o = r_o /
e_o`` is 1.0 when every backlogged org got exactly its entitlement and ``1/n`` when one took everything. The
result is the mean over the bins with at least two backlogged orgs, weighted by their GPU-seconds in the bin;
None when no bin had two (no contention between orgs, nothing to be fair about).

Orgs that got all they asked for are left out of a bin: taking less than one's entitlement is no unfairness
when one wanted no more.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence

from gpucloud.sim.records import JobRecord, Segment, busy_per_bin

#: seconds per bin
BIN = 3600.0


def waits(records: Sequence[JobRecord], segments: Sequence[Segment],
          until: float) -> dict[str, list[tuple[float, float]]]:
    """Per org, the intervals in which one of its jobs waited: from submission to the first run, between runs,
    and to ``until`` for a job still waiting at the end."""
    runs: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for s in segments:
        runs[s.job_id].append((s.start_time, s.end_time))
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for rec in records:
        t = rec.submit_time
        for start, end in sorted(runs.get(rec.job_id, ())):
            if start > t:
                out[rec.org].append((t, start))
            t = end
        if rec.end_time is None and until > t:
            out[rec.org].append((t, until))
    return out


def jain_share(records: Sequence[JobRecord], segments: Sequence[Segment],
               entitlement: Mapping[str, float]) -> float | None:
    """The weighted mean of Jain's index of attained shares over contended bins (see the module);
    ``entitlement`` maps an org to its quota or weight (1.0 for an org left out)."""
    import numpy as np

    until = max((s.end_time for s in segments), default=0.0)
    until = max([until, *(r.submit_time for r in records)])
    bins = max(1, math.ceil(until / BIN))
    waiting = waits(records, segments, until)
    orgs = sorted({r.org for r in records})
    backlog = np.zeros((len(orgs), bins), dtype=bool)
    for i, org in enumerate(orgs):
        marks = np.zeros(bins + 1, dtype=int)
        for start, end in waiting.get(org, ()):
            if end > start:
                marks[min(bins - 1, int(start // BIN))] += 1
                marks[min(bins, math.ceil(end / BIN))] -= 1
        backlog[i] = np.cumsum(marks)[:bins] > 0
    org_of = {r.job_id: r.org for r in records}
    spans: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for s in segments:
        spans[org_of[s.job_id]].append((s.start_time, s.end_time, s.placement.gpus))
    got = np.vstack([busy_per_bin(spans.get(org, []), BIN, bins) for org in orgs])
    weight = np.asarray([entitlement.get(org, 1.0) for org in orgs])[:, None]
    got = np.where(backlog, got, 0.0)
    contended = (backlog.sum(axis=0) >= 2) & (got.sum(axis=0) > 0)
    if not contended.any():
        return None
    g, b, w = got[:, contended], backlog[:, contended], np.where(backlog[:, contended], weight, 0.0)
    x = (g / g.sum(axis=0)) / np.where(b, w / w.sum(axis=0), 1.0)
    n = b.sum(axis=0)
    sum_x = np.where(b, x, 0.0).sum(axis=0)
    sum_x2 = np.where(b, x * x, 0.0).sum(axis=0)
    index = sum_x * sum_x / (n * sum_x2)
    return float((index * g.sum(axis=0)).sum() / g.sum())
