"""PNG plots of simulation runs (matplotlib's Agg renderer; no pyplot, so no global state or display).

* :func:`plot_utilisation`: GPU utilisation over time of one run, days on the x axis.
* :func:`plot_cdf`: the CDF of a per-job duration (wait or JCT) with one line per policy, on a log x axis.
  A log axis cannot show 0, so values below :data:`CDF_FLOOR` seconds are drawn at it (the line's height
  there is the share of jobs at or under one second).

matplotlib is the optional ``plots`` extra, imported only when a chart is drawn; without it drawing raises a
:class:`~gpucloud.errors.GpucloudError` that says how to install it (:func:`available` tells beforehand).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gpucloud.errors import GpucloudError
from gpucloud.sim.engine import SimResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MISSING = "drawing charts needs matplotlib, which is not installed: pip install 'gpucloud[plots]'"

#: The smallest value drawn on the CDFs' log axis (seconds).
CDF_FLOOR = 1.0
#: A CDF line has at most this many points (evenly spaced quantiles of the values).
CDF_POINTS = 2000
DAY = 86_400.0


def available() -> bool:
    """Whether matplotlib (the ``plots`` extra) is installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise GpucloudError(MISSING) from None
    return Figure(figsize=(width, height), layout="constrained")


def _save(fig: Figure, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


def plot_utilisation(result: SimResult, path: Path) -> Path:
    """Draw the run's GPU utilisation (busy GPUs / all GPUs, per time bin) over time in days."""
    times, util = result.utilisation.series(result.cluster.total_gpus)
    fig = _figure(9, 3.5)
    ax = fig.add_subplot()
    if times:
        x = np.asarray([*times, times[-1] + result.utilisation.width]) / DAY
        y = np.asarray([*util, util[-1]]) * 100.0
        ax.step(x, y, where="post", linewidth=0.8)
        ax.fill_between(x, y, step="post", alpha=0.3)
        ax.set_xlim(0, x[-1])
    ax.set_ylim(0, 105)
    ax.set_xlabel("time (days)")
    ax.set_ylabel("GPU utilisation (%)")
    ax.set_title(f"GPU utilisation — {result.policy} on {result.cluster.name} "
                 f"({result.cluster.total_gpus:,} GPUs)")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _cdf(values: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    arr = np.sort(np.maximum(np.asarray(values, dtype=float), CDF_FLOOR))
    n = len(arr)
    if n > CDF_POINTS:
        idx = np.unique(np.linspace(0, n - 1, CDF_POINTS).astype(int))
        return arr[idx], (idx + 1) / n
    return arr, np.arange(1, n + 1) / n


def plot_cdf(values: Mapping[str, Sequence[float]], what: str, path: Path) -> Path:
    """Draw one CDF line per policy of ``values`` (policy → seconds per job); ``what`` names the quantity."""
    fig = _figure(7, 4.5)
    ax = fig.add_subplot()
    for policy, vals in values.items():
        if len(vals):
            x, y = _cdf(vals)
            ax.step(x, y, where="post", label=policy, linewidth=1.2)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.01)
    ax.set_xlabel(f"{what} (seconds, log scale; values under {CDF_FLOOR:g} s drawn at {CDF_FLOOR:g} s)")
    ax.set_ylabel("fraction of jobs")
    ax.set_title(f"CDF of {what}")
    ax.grid(alpha=0.3, which="both")
    if values:
        ax.legend(loc="upper left")
    return _save(fig, path)
