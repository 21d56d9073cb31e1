"""The report of ``gpucloud plan``: the curve each option's search came from (the objective's wait statistic
against the cluster's GPUs, the objective as a line, the answer marked) as ``plan.png``, and ``plan.html``
with that chart, the answer and every replayed point. matplotlib is the optional ``plots`` extra
(:func:`gpucloud.sim.plots.available`); without it only the HTML (with its table) is written."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

from gpucloud.sim import plots
from gpucloud.sim.plan import Answer


def _hours(seconds: float) -> float:
    return seconds / 3600 if math.isfinite(seconds) else math.nan


def plot_plan(answer: Answer, path: Path) -> Path:
    """The curves (log y: hours of the statistic) with the objective and each option's answer."""
    fig = plots._figure(8, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    for name, points in answer.curve.items():
        xs = [p.gpus for p in points]
        line, = ax.plot(xs, [max(_hours(p.value), 1 / 3600) for p in points], marker="o", label=name)
        best = answer.smallest.get(name)
        if best is not None:
            ax.scatter([best.gpus], [max(_hours(best.value), 1 / 3600)], s=160, facecolors="none",
                       edgecolors=line.get_color(), linewidths=2, zorder=3)
            ax.annotate(f"{best.gpus:,} GPUs", (best.gpus, max(_hours(best.value), 1 / 3600)),
                        textcoords="offset points", xytext=(8, 8))
    ax.axhline(_hours(answer.objective.limit), color="grey", linestyle="--",
               label=f"objective: {answer.objective.text}")
    ax.set_yscale("log")
    ax.set_xlabel("GPUs in the cluster")
    ax.set_ylabel(f"{'worst org ' if answer.objective.per_org else ''}{answer.objective.statistic} wait (hours)")
    ax.set_title(f"smallest cluster for {answer.objective.text} ({answer.policy}, demand × {answer.growth:g})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return plots._save(fig, path)


def write_report(answer: Answer, out: Path, source: str) -> list[Path]:
    """``plan.png`` (with matplotlib) and ``plan.html`` in ``out``; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    image = ""
    if plots.available():
        png = plot_plan(answer, out / "plan.png")
        written.append(png)
        image = (f'<img alt="the search curve" src="data:image/png;base64,'
                 f'{base64.b64encode(png.read_bytes()).decode()}">')
    rows = []
    for name, points in answer.curve.items():
        best = answer.smallest.get(name)
        for p in points:
            mark = " (answer)" if best is not None and p.nodes == best.nodes else ""
            rows.append(f"<tr><td>{html.escape(name)}</td><td>{p.nodes:,}{mark}</td><td>{p.gpus:,}</td>"
                        f"<td>{_hours(p.value):.2f}</td><td>{_hours(p.p50):.2f}</td><td>{_hours(p.p95):.2f}</td>"
                        f"<td>{p.utilisation:.0%}</td><td>{'yes' if p.meets else 'no'}</td></tr>")
    answers = "".join(
        f"<li>{html.escape(name)}: " + (f"<b>{best.nodes:,} nodes, {best.gpus:,} GPUs</b>" if best is not None
                                        else "not met within the largest size tried") + "</li>"
        for name, best in answer.smallest.items())
    page = f"""<!doctype html><meta charset="utf-8"><title>gpucloud plan</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td,th{{padding:2px 8px;text-align:right}}
img{{max-width:100%}}</style>
<h1>Capacity plan</h1>
<p>Trace {html.escape(source)}, policy {html.escape(answer.policy)}, demand × {answer.growth:g},
objective <code>{html.escape(answer.objective.text)}</code>.</p>
<ul>{answers}</ul>{image}
<table><tr><th>option</th><th>nodes</th><th>GPUs</th><th>objective statistic (h)</th><th>p50 wait (h)</th>
<th>p95 wait (h)</th><th>GPU utilisation</th><th>meets</th></tr>{''.join(rows)}</table>
"""
    (out / "plan.html").write_text(page, encoding="utf-8")
    written.append(out / "plan.html")
    return written
