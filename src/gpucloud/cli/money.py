"""Money commands: the ``budget`` group (list, ledger, topup, expire), the ``tariff`` group (list, load), the
``programme`` group (list, create, update) and ``usage``.

They talk to ``/api/v1/budgets``, ``/api/v1/tariffs``, ``/api/v1/programmes`` and ``/api/v1/usage``. The server
decides who may do what (everyone reads tariffs and programmes; users see their org's budgets and usage,
operators all; top-ups, expiry, tariff loads and programme changes are the operator's); these commands only
send the request and show the answer or its error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gpucloud.cli.client import connect, seg
from gpucloud.cli.errors import handle_errors
from gpucloud.cli.output import JsonOption, fmt_time, print_json, print_table
from gpucloud.errors import InputError
from gpucloud.money.tariff_file import load_tariffs
from gpucloud.money.tariff_json import tariff_to_json
from gpucloud.times import time_input

budget_app = typer.Typer(help="Project budgets in points: list, ledger, topup and expire (operator).",
                         no_args_is_help=True)
tariff_app = typer.Typer(help="Tariff versions (prices in points): list, load (operator).", no_args_is_help=True)
programme_app = typer.Typer(help="Subsidy programmes: list, create and update (operator).", no_args_is_help=True)


# --- helpers -------------------------------------------------------------------------------------------------


def parse_expires(text: str | None, option: str = "--expires") -> float | None:
    """A date (midnight UTC), a date-time, or UTC epoch seconds → epoch seconds (:mod:`gpucloud.times`)."""
    return None if text is None else time_input(option, text)


def _pairs(mapping: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in mapping.items())


# --- budgets -------------------------------------------------------------------------------------------------


@budget_app.command("list")
@handle_errors
def budget_list(as_json: JsonOption = False) -> None:
    """List project budgets (your org's projects; operators: every project)."""
    with connect() as client:
        budgets = client.get("/budgets")
    if as_json:
        print_json(budgets)
        return
    print_table(("ORG", "PROJECT", "BALANCE", "HELD", "AVAILABLE", "SPENT", "CAP", "EXPIRES"),
                [[b["org"], b["project"], b["balance"], b["held"], b["available"], b["spent"], b["cap"] or "",
                  fmt_time(b["expires_at"])] for b in budgets], empty="no budgets")


@budget_app.command("ledger")
@handle_errors
def budget_ledger(
    org: Annotated[str, typer.Argument(help="The org.")],
    project: Annotated[str, typer.Argument(help="The project.")],
    limit: Annotated[int, typer.Option("--limit", help="Entries per page (1-1000).")] = 100,
    offset: Annotated[int, typer.Option("--offset", help="Entries to skip.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Show a project's ledger entries (top-ups, holds, charges, ...), one page."""
    with connect() as client:
        page = client.get(f"/budgets/{seg(org)}/{seg(project)}/ledger", offset=offset, limit=limit)
    if as_json:
        print_json(page)
        return
    items = page["items"]
    print_table(("ID", "TIME", "KIND", "AMOUNT", "SUBSIDY", "REF", "NOTE"),
                [[e["id"], fmt_time(e["at"]), e["kind"], e["amount"], e["subsidy"], e["ref"], e["note"]]
                 for e in items], empty="no ledger entries")
    if items:
        typer.echo(f"entries {offset + 1}-{offset + len(items)} of {page['total']}")


@budget_app.command("topup")
@handle_errors
def budget_topup(
    org: Annotated[str, typer.Argument(help="The org.")],
    project: Annotated[str, typer.Argument(help="The project.")],
    amount: Annotated[str, typer.Argument(help="Points to add, e.g. 100 or 12.5 (at most 4 decimals).")],
    expires: Annotated[str | None, typer.Option(
        "--expires", help="When the budget expires: a date (midnight UTC), a datetime with a zone, or epoch "
                          "seconds.")] = None,
    cap: Annotated[str | None, typer.Option("--cap", help="Most points the project may spend per period.")] = None,
    note: Annotated[str, typer.Option("--note", help="Kept on the ledger entry.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Add points to a project's budget (operator)."""
    body: dict[str, Any] = {"amount": amount.strip(), "note": note, "expires_at": parse_expires(expires)}
    if cap is not None:
        body["cap"] = cap.strip()
    with connect() as client:
        b = client.post(f"/budgets/{seg(org)}/{seg(project)}/topup", body)
    if as_json:
        print_json(b)
    else:
        typer.echo(f"topped up {b['org']}/{b['project']} by {body['amount']}: balance {b['balance']}, "
                   f"available {b['available']}")


@budget_app.command("expire")
@handle_errors
def budget_expire(as_json: JsonOption = False) -> None:
    """Expire now the budgets past their expiry date (operator; the server does it about once a minute)."""
    with connect() as client:
        out = client.post("/budgets/expire", {})
    if as_json:
        print_json(out)
    else:
        typer.echo(f"expired: {', '.join(out['expired'])}" if out["expired"] else "nothing to expire")


# --- tariffs -------------------------------------------------------------------------------------------------


@tariff_app.command("list")
@handle_errors
def tariff_list(as_json: JsonOption = False) -> None:
    """List the tariff versions, oldest first."""
    with connect() as client:
        out = client.get("/tariffs")
    if as_json:
        print_json(out)
        return
    print_table(("NAME", "VALID FROM", "MIN", "INCR", "POINTS/GPU-HOUR", "SERVICE", "PRIORITY"),
                [[t["name"], fmt_time(t["valid_from"]), f"{t['minimum_seconds']}s", f"{t['increment_seconds']}s",
                  _pairs(t["points_per_gpu_hour"]), _pairs(t["service_classes"]), _pairs(t["priority_classes"])]
                 for t in out["tariffs"]], empty="no tariffs (budgets are off)")


@tariff_app.command("load")
@handle_errors
def tariff_load(file: Annotated[Path, typer.Argument(help="A tariff YAML file (see docs/money.md).")],
                as_json: JsonOption = False) -> None:
    """Check a tariff file and add its versions on the server (operator); the server checks its GPU types."""
    book = load_tariffs(file)
    with connect() as client:
        out = client.post("/tariffs", {"tariffs": [tariff_to_json(t) for t in book.tariffs]})
    if as_json:
        print_json(out)
    else:
        typer.echo(f"added {len(out['added'])} tariff version(s): {', '.join(out['added'])}")


# --- programmes ----------------------------------------------------------------------------------------------

OrgsOpt = Annotated[list[str] | None, typer.Option("--org", help="An org eligible by name (repeat for more).")]
KindsOpt = Annotated[list[str] | None, typer.Option(
    "--org-kind", help="A kind of org eligible (e.g. university; repeat for more).")]
CapOpt = Annotated[str | None, typer.Option("--org-cap", help="Most points it pays for one org.")]
FromOpt = Annotated[str | None, typer.Option(
    "--from", help="Runs that start from then (a date, a datetime with a zone, or epoch seconds).")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="... and before then.")]


def _programme_body(share: str | None, total: str | None, org_cap: str | None, orgs: list[str] | None,
                    kinds: list[str] | None, valid_from: str | None, valid_until: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"share": share, "total": total, "org_cap": org_cap, "orgs": orgs, "org_kinds": kinds}
    body = {k: v.strip() if isinstance(v, str) else v for k, v in body.items() if v is not None}
    if valid_from is not None:
        body["valid_from"] = parse_expires(valid_from, "--from")
    if valid_until is not None:
        body["valid_until"] = parse_expires(valid_until, "--until")
    return body


def _show_programme(p: dict[str, Any], verb: str, as_json: bool) -> None:
    if as_json:
        print_json(p)
    else:
        typer.echo(f"{verb} programme {p['name']}: pays {p['share']} up to {p['total']} (remaining {p['remaining']})")


@programme_app.command("list")
@handle_errors
def programme_list(as_json: JsonOption = False) -> None:
    """List the subsidy programmes with what each has paid and has left (--json: validity, held, per org)."""
    with connect() as client:
        out = client.get("/programmes")
    if as_json:
        print_json(out)
        return
    print_table(("NAME", "SHARE", "ELIGIBLE", "ORG CAP", "TOTAL", "PAID", "REMAINING"),
                [[p["name"], p["share"], " ".join([*p["orgs"], *(f"kind:{k}" for k in p["org_kinds"])]),
                  p["org_cap"] or "", p["total"], p["paid"], p["remaining"]] for p in out], empty="no programmes")


@programme_app.command("create")
@handle_errors
def programme_create(
    name: Annotated[str, typer.Argument(help="The programme's name.")],
    share: Annotated[str, typer.Option("--share", help="The share it pays: 1/2, 0.5, ...")],
    total: Annotated[str, typer.Option("--total", help="The most points it pays in all.")],
    org_cap: CapOpt = None,
    orgs: OrgsOpt = None,
    kinds: KindsOpt = None,
    valid_from: FromOpt = None,
    valid_until: UntilOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Create a subsidy programme (operator). Eligible: the orgs named with --org, or of a kind in --org-kind."""
    body = {"name": name, **_programme_body(share, total, org_cap, orgs, kinds, valid_from, valid_until)}
    with connect() as client:
        p = client.post("/programmes", body)
    _show_programme(p, "created", as_json)


@programme_app.command("update")
@handle_errors
def programme_update(
    name: Annotated[str, typer.Argument(help="The programme's name.")],
    share: Annotated[str | None, typer.Option("--share", help="A new share (for runs that start from now).")] = None,
    total: Annotated[str | None, typer.Option("--total", help="A new total.")] = None,
    org_cap: CapOpt = None,
    orgs: OrgsOpt = None,
    kinds: KindsOpt = None,
    valid_from: FromOpt = None,
    valid_until: UntilOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Change a programme's terms (operator); what is not given stays. --org / --org-kind replace the lists."""
    body = _programme_body(share, total, org_cap, orgs, kinds, valid_from, valid_until)
    if not body:
        raise InputError("options", "give at least one of --share, --total, --org-cap, --org, --org-kind, --from, "
                                    "--until")
    with connect() as client:
        p = client.patch(f"/programmes/{seg(name)}", body)
    _show_programme(p, "updated", as_json)


# --- usage ---------------------------------------------------------------------------------------------------


@handle_errors
def usage(
    month: Annotated[str, typer.Option("--month", help="The UTC month, YYYY-MM.")],
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the server's CSV as is.")] = False,
    by_user: Annotated[bool, typer.Option("--by-user", help="One row per user as well.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Usage of a month by org, project (and user) and GPU type (your org; operators: all)."""
    if as_csv and as_json:
        raise InputError("--csv", "give --csv or --json, not both")
    with connect() as client:
        if as_csv:
            typer.echo(client.get_text("/usage", month=month, format="csv", by_user=by_user), nl=False)
            return
        rows = client.get("/usage", month=month, format="json", by_user=by_user)
    if as_json:
        print_json(rows)
        return
    user = ("USER",) if by_user else ()
    print_table(("MONTH", "ORG", "PROJECT", *user, "GPU TYPE", "RUNS", "GPU-HOURS", "POINTS", "SUBSIDY", "CHARGED"),
                [[r["month"], r["org"], r["project"], *([r["user"]] if by_user else []), r["gpu_type"], r["runs"],
                  r["gpu_hours"], r["points"], r["subsidy"], r["charged"]] for r in rows],
                empty=f"no usage in {month}")


def register(app: typer.Typer) -> None:
    """Add ``usage`` and the budget / tariff / programme groups."""
    app.command("usage")(usage)
    app.add_typer(budget_app, name="budget")
    app.add_typer(tariff_app, name="tariff")
    app.add_typer(programme_app, name="programme")
