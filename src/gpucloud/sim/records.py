"""Output rows of a simulation: one per job, one per run segment, and utilisation over time in bins."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gpucloud.core.types import Placement
from gpucloud.model.cluster import Cluster

if TYPE_CHECKING:  # numpy loads when the bins are computed
    import numpy as np


@dataclass(slots=True)
class JobRecord:
    job_id: str
    org: str
    num_gpus: int
    submit_time: float
    duration: float
    start_time: float | None = None
    end_time: float | None = None
    state: str = "pending"
    preemptions: int = 0
    racks: int = 0
    blocks: int = 0
    #: seconds spent waiting in all: before its first start and between its runs (budget waits included)
    waited: float = 0.0
    #: the longest of those waits (seconds)
    longest_wait: float = 0.0

    @property
    def wait_time(self) -> float | None:
        return None if self.start_time is None else self.start_time - self.submit_time

    @property
    def jct(self) -> float | None:
        return None if self.end_time is None else self.end_time - self.submit_time


@dataclass(frozen=True, slots=True)
class Segment:
    """One run of a job on the GPUs of ``placement``."""

    job_id: str
    start_time: float
    end_time: float
    placement: Placement
    cluster: Cluster

    @property
    def gpu_type(self) -> str:
        return self.placement.gpu_type

    @property
    def gpus(self) -> tuple[str, ...]:
        """The ``node/gpu`` labels held (rendered on demand: most segments are only counted)."""
        return tuple(self.placement.labels(self.cluster))


class UtilisationBins:
    """Busy GPU-seconds per time bin, with a bounded number of bins (pairs merge as time grows)."""

    def __init__(self, width: float = 60.0, max_bins: int = 2048) -> None:
        self.width = width
        self.max_bins = max_bins
        self.busy: list[float] = []

    def add(self, start: float, end: float, gpus: int) -> None:
        """Add ``gpus`` busy from ``start`` to ``end``."""
        t = start
        while t < end:
            i = int(t // self.width)
            while i >= self.max_bins:
                self._merge()
                i = int(t // self.width)
            if i >= len(self.busy):
                self.busy.extend([0.0] * (i + 1 - len(self.busy)))
            stop = min(end, (i + 1) * self.width)
            self.busy[i] += gpus * (stop - t)
            t = stop

    @classmethod
    def of(cls, spans: Sequence[tuple[float, float, int]], width: float = 60.0,
           max_bins: int = 2048) -> UtilisationBins:
        """The bins of many ``(start, end, gpus)`` spans at once: the same bins as :meth:`add` of each (the
        width doubled until the last end fits ``max_bins``), computed with numpy (:func:`busy_per_bin`)."""
        out = cls(width, max_bins)
        last = max((e for s, e, _ in spans if e > s), default=0.0)
        if last <= 0:
            return out
        while math.ceil(last / out.width) > max_bins:
            out.width *= 2
        out.busy = busy_per_bin(spans, out.width, math.ceil(last / out.width)).tolist()
        return out

    def _merge(self) -> None:
        b = self.busy
        self.busy = [b[i] + (b[i + 1] if i + 1 < len(b) else 0.0) for i in range(0, len(b), 2)]
        self.width *= 2

    def series(self, total_gpus: int) -> tuple[list[float], list[float]]:
        """Bin start times and the utilisation (0..1) in each bin."""
        times = [i * self.width for i in range(len(self.busy))]
        return times, [b / (self.width * total_gpus) for b in self.busy]


def busy_per_bin(spans: Sequence[tuple[float, float, int]] | np.ndarray, width: float, bins: int) -> np.ndarray:
    """GPU-seconds busy in each of ``bins`` bins of ``width`` seconds from time 0, of ``(start, end, gpus)``
    spans (a sequence, or an array of three columns). The integral of busy GPUs over time is piecewise linear,
    so it is exact at every bin edge by interpolation between the spans' ends; spans past the last bin are cut
    there."""
    import numpy as np

    edges = np.arange(bins + 1) * width
    arr = np.asarray(spans, dtype=float).reshape(-1, 3)
    arr = arr[arr[:, 1] > arr[:, 0]]
    if not len(arr):
        return np.zeros(bins)
    times = np.concatenate([arr[:, 0], arr[:, 1]])
    slopes = np.concatenate([arr[:, 2], -arr[:, 2]])
    order = np.argsort(times, kind="stable")
    times, slopes = times[order], slopes[order]
    busy = np.cumsum(slopes)  # GPUs busy from each event time to the next
    integral = np.concatenate([[0.0], np.cumsum(busy[:-1] * np.diff(times))])
    return np.diff(np.interp(edges, times, integral, left=0.0, right=float(integral[-1])))
