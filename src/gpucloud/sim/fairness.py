"""Fair share attained: how evenly the orgs that wanted more GPUs got them, relative to their quota or weight.

Time is cut into bins of :data:`BIN` seconds. In each bin, the *backlogged* orgs are those with a job waiting
at some moment of the bin (they would have used more than they got). Among them, org ``o`` received a share
``r_o`` of their GPU-seconds in the bin and was entitled to ``e_o = w_o / Σ w`` — ``w`` its guaranteed quota
(all GPU types together) when it has one, else its weight. Jain's index ``(Σx)² / (n·Σx²)`` of ``x_o = r_o /
e_o`` is 1.0 when every backlogged org got exactly its entitlement and ``1/n`` when one took everything. The
result is the mean over the bins with at least two backlogged orgs, weighted by their GPU-seconds in the bin;
None when no bin had two (no contention between orgs, nothing to be fair about).

Orgs that got all they asked for are left out of a bin: taking less than one's entitlement is no unfairness
when one wanted no more. Computed with numpy (a replay has 100,000 jobs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from gpucloud.sim.records import JobRecord, Segment, busy_per_bin

if TYPE_CHECKING:
    import numpy as np

#: seconds per bin
BIN = 3600.0


def waits(submit: np.ndarray, done: np.ndarray, job: np.ndarray, start: np.ndarray, end: np.ndarray,
          until: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The intervals in which a job waited — from submission to its first run, between runs, and to ``until``
    for a job not done at the end — as arrays (job, start, end). In: per job its submit time and whether it is
    done; per run segment its job (an index into those), start and end."""
    import numpy as np

    order = np.lexsort((start, job))
    job, start, end = job[order], start[order], end[order]
    first = np.ones(len(job), dtype=bool)
    first[1:] = job[1:] != job[:-1]
    before = np.where(first, submit[job], np.concatenate([[0.0], end[:-1]]))  # the end of the job's last wait
    last = np.full(len(submit), np.nan)
    last[job] = end  # a job's later segments overwrite its earlier ones: the end of its last run
    tail_start = np.where(np.isnan(last), submit, last)[~done]
    jobs = np.concatenate([job, np.nonzero(~done)[0]])
    starts = np.concatenate([before, tail_start])
    ends = np.concatenate([start, np.full(len(tail_start), until)])
    keep = ends > starts
    return jobs[keep], starts[keep], ends[keep]


def jain_share(records: Sequence[JobRecord], segments: Sequence[Segment],
               entitlement: Mapping[str, float]) -> float | None:
    """The weighted mean of Jain's index of attained shares over contended bins (see the module);
    ``entitlement`` maps an org to its quota or weight (1.0 for an org left out)."""
    import numpy as np

    if not records:
        return None
    n_jobs, n_segs = len(records), len(segments)
    index = {r.job_id: i for i, r in enumerate(records)}
    orgs = sorted({r.org for r in records})
    org_ix = {o: i for i, o in enumerate(orgs)}
    submit = np.fromiter((r.submit_time for r in records), float, n_jobs)
    done = np.fromiter((r.end_time is not None for r in records), bool, n_jobs)
    job_org = np.fromiter((org_ix[r.org] for r in records), int, n_jobs)
    seg = np.asarray([(index[s.job_id], s.start_time, s.end_time, s.placement.gpus) for s in segments],
                     dtype=float).reshape(-1, 4)
    seg_job = seg[:, 0].astype(int)
    until = max(float(seg[:, 2].max()) if n_segs else 0.0, float(submit.max()))
    bins = max(1, math.ceil(until / BIN))
    job, start, end = waits(submit, done, seg_job, seg[:, 1], seg[:, 2], until)
    marks = np.zeros((len(orgs), bins + 1), dtype=int)
    np.add.at(marks, (job_org[job], np.minimum(bins - 1, (start // BIN).astype(int))), 1)
    np.add.at(marks, (job_org[job], np.minimum(bins, np.ceil(end / BIN).astype(int))), -1)
    backlog = np.cumsum(marks, axis=1)[:, :bins] > 0
    seg_org = job_org[seg_job]
    got = np.vstack([busy_per_bin(seg[seg_org == i, 1:], BIN, bins) for i in range(len(orgs))])
    weight = np.asarray([entitlement.get(org, 1.0) for org in orgs])[:, None]
    got = np.where(backlog, got, 0.0)
    contended = (backlog.sum(axis=0) >= 2) & (got.sum(axis=0) > 0)
    if not contended.any():
        return None
    g, b = got[:, contended], backlog[:, contended]
    w = np.where(b, weight, 0.0)
    x = (g / g.sum(axis=0)) / np.where(b, w / w.sum(axis=0), 1.0)
    n = b.sum(axis=0)
    sum_x = np.where(b, x, 0.0).sum(axis=0)
    sum_x2 = np.where(b, x * x, 0.0).sum(axis=0)
    jain = sum_x * sum_x / (n * sum_x2)
    return float((jain * g.sum(axis=0)).sum() / g.sum())
