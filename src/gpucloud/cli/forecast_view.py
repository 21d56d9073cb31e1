"""How the CLI shows start-time forecasts and shape advice (``gpucloud queue --start``, ``gpucloud job N
[--advice]``): plain functions of the API's JSON, light like every server command (docs/cli.md)."""

from __future__ import annotations

from gpucloud.cli.output import fmt_duration, fmt_time, fmt_when, print_table

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from typing import Any


def _in(at: float | None, now: float) -> str:
    """``in 2h10m``, ``now`` or ``?`` (beyond the horizon)."""
    if at is None:
        return "?"
    return "now" if at <= now + 30 else f"in {fmt_duration(at - now)}"


def start_cells(f: dict[str, Any] | None, now: float) -> list[str]:
    """The START, IN, RANGE and WAITS FOR cells of one queue entry."""
    if f is None:
        return ["", "", "", ""]
    low, high = f["earliest"], f["latest"]
    span = "" if low is None else f"{fmt_when(low)} – {fmt_when(high) if high is not None else '?'}"
    return [fmt_when(f["start"]) or "?", _in(f["start"], now), span, f["waits_for"]]


def forecast_fields(f: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """The lines ``gpucloud job N`` adds for a pending job's forecast (none when it has none)."""
    if f is None:
        return []
    if f["start"] is None:
        return [("predicted start", "not within 90 days"), ("waits for", f["waits_for"])]
    high = f["latest"]
    return [("predicted start", f"{fmt_time(f['start'])} ({_in(f['start'], f['made_at'])})"),
            ("likely between", f"{fmt_time(f['earliest'])} and {fmt_time(high) if high is not None else '?'}"),
            ("waits for", f["waits_for"] or "nothing: it starts in the next cycle")] + (
        [("expected run", f"{fmt_duration(f['run_time_s'])}: {f['run_time_basis']}")] if f.get("run_time_s") else [])


def print_advice(advice: dict[str, Any]) -> None:
    """The alternatives of ``GET /jobs/N/advice``, earliest end first; the job's own request marked ``*``."""
    now = advice["made_at"]
    rows = [["*" if o["current"] else "", o["label"], o["num_gpus"], o["nodes"] or "auto", o["gpu_type"] or "any",
             fmt_duration(o["walltime_s"]), fmt_when(o["start"]) or "?", _in(o["start"], now),
             fmt_when(o["end"]) or "?"] for o in advice["options"]]
    print_table(("", "ASK FOR", "GPUS", "NODES", "TYPE", "WALLTIME", "START", "IN", "END"), rows,
                title="shape advice (earliest end first)", empty="no alternatives")
