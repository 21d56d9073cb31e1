"""Reservation and node commands: the ``reservation`` group (list, request, approve, reject, cancel, capacity)
and the ``node`` group (down, up).

They talk to ``/api/v1/reservations`` and ``/api/v1/cluster/nodes``; the server decides who may do what
(org-admins request and cancel for their org, operators approve, reject and mark nodes down).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gpucloud.cli.client import connect, seg
from gpucloud.cli.errors import handle_errors
from gpucloud.cli.output import JsonOption, fmt_time, print_json, print_table

reservation_app = typer.Typer(help="Reserve whole nodes for a time window: list, request, approve, reject, "
                                   "cancel, capacity.", no_args_is_help=True)
node_app = typer.Typer(help="Take nodes out of service and back (operator): down, up.", no_args_is_help=True)

TIME_HELP = "epoch seconds or ISO 8601, e.g. 2026-12-01T09:00+09:00 (no zone: UTC)"


def _rows(items: list[dict[str, Any]]) -> list[list[object]]:
    return [[r["id"], r["name"], r["org"], f"{r['nodes']}×{r['gpu_type']}", fmt_time(r["start"]),
             fmt_time(r["end"]), r["state"], r["price"] or ""] for r in items]


#: the node names, project and refund are in ``--json``
COLUMNS = ("ID", "NAME", "ORG", "NODES", "START", "END", "STATE", "PRICE")


def _show(r: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(r)
    else:
        print_table(COLUMNS, _rows([r]))


@reservation_app.command("list")
@handle_errors
def reservation_list(as_json: JsonOption = False) -> None:
    """Reservations of your org (operators: all), latest window first."""
    with connect() as client:
        items = client.get("/reservations")
    if as_json:
        print_json(items)
        return
    print_table(COLUMNS, _rows(items), empty="no reservations")


@reservation_app.command("request")
@handle_errors
def reservation_request(
    gpu_type: Annotated[str, typer.Option("--gpu-type", help="e.g. H100-80GB.")],
    nodes: Annotated[int, typer.Option("--nodes", help="Whole nodes to reserve.")],
    start: Annotated[str, typer.Option("--start", help=f"Window start: {TIME_HELP}.")],
    end: Annotated[str, typer.Option("--end", help=f"Window end: {TIME_HELP}.")],
    name: Annotated[str, typer.Option("--name", help="A name jobs can use (default r<id>).")] = "",
    org: Annotated[str | None, typer.Option("--org", help="The org (operators).")] = None,
    project: Annotated[str | None, typer.Option("--project", help="The project that pays (default: default).")
                       ] = None,
    note: Annotated[str, typer.Option("--note", help="A note for the operator.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Ask for nodes for a window (org-admin). Charged in full when approved, at the tariff's reserved rate."""
    body: dict[str, Any] = {"gpu_type": gpu_type, "nodes": nodes, "start": start, "end": end, "name": name,
                            "note": note}
    if org is not None:
        body["org"] = org
    if project is not None:
        body["project"] = project
    with connect() as client:
        _show(client.post("/reservations", body), as_json)


def _decide(action: str, rid: int, as_json: bool, body: dict[str, Any] | None = None) -> None:
    with connect() as client:
        _show(client.post(f"/reservations/{rid}/{action}", body), as_json)


@reservation_app.command("approve")
@handle_errors
def reservation_approve(rid: Annotated[int, typer.Argument(help="The reservation id.")],
                        as_json: JsonOption = False) -> None:
    """Approve a request (operator): its nodes are chosen and its price charged."""
    _decide("approve", rid, as_json)


@reservation_app.command("reject")
@handle_errors
def reservation_reject(rid: Annotated[int, typer.Argument(help="The reservation id.")],
                       note: Annotated[str, typer.Option("--note", help="Why.")] = "",
                       as_json: JsonOption = False) -> None:
    """Reject a request (operator)."""
    _decide("reject", rid, as_json, {"note": note})


@reservation_app.command("cancel")
@handle_errors
def reservation_cancel(rid: Annotated[int, typer.Argument(help="The reservation id.")],
                       as_json: JsonOption = False) -> None:
    """Cancel (org-admin, operator): refunded in full before the cut-off; its waiting jobs are cancelled."""
    _decide("cancel", rid, as_json)


@reservation_app.command("capacity")
@handle_errors
def reservation_capacity(
    start: Annotated[str, typer.Option("--start", help=f"Window start: {TIME_HELP}.")],
    end: Annotated[str, typer.Option("--end", help=f"Window end: {TIME_HELP}.")],
    gpu_type: Annotated[str | None, typer.Option("--gpu-type", help="Only this GPU type.")] = None,
    as_json: JsonOption = False,
) -> None:
    """How many whole nodes of each GPU type could be reserved for a window now."""
    params: dict[str, Any] = {"start": start, "end": end}
    if gpu_type is not None:
        params["gpu_type"] = gpu_type
    with connect() as client:
        caps = client.get("/reservations/capacity", **params)
    if as_json:
        print_json(caps)
        return
    print_table(("GPU TYPE", "GPUS/NODE", "NODES", "FREE"),
                [[c["gpu_type"], c["node_gpus"], c["nodes"], c["free"]] for c in caps], empty="no GPU types")


def _node(name: str, state: str, reason: str, as_json: bool) -> None:
    with connect() as client:
        out = client.put(f"/cluster/nodes/{seg(name)}/state", {"state": state, "reason": reason})
    if as_json:
        print_json(out)
    else:
        typer.echo(f"{out['node']}: {out['state']}" + (f" ({out['reason']})" if out["reason"] else ""))


@node_app.command("down")
@handle_errors
def node_down(name: Annotated[str, typer.Argument(help="The node.")],
              reason: Annotated[str, typer.Option("--reason", help="Shown on the map.")] = "",
              as_json: JsonOption = False) -> None:
    """Take a node out of service: no new job starts there (running jobs run on)."""
    _node(name, "down", reason, as_json)


@node_app.command("up")
@handle_errors
def node_up(name: Annotated[str, typer.Argument(help="The node.")], as_json: JsonOption = False) -> None:
    """Put a node back in service."""
    _node(name, "up", "", as_json)


def register(app: typer.Typer) -> None:
    app.add_typer(reservation_app, name="reservation")
    app.add_typer(node_app, name="node")
