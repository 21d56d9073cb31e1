"""Money commands: the ``budget`` group (list, ledger, topup, expire), the ``tariff`` group (list, load), the
``programme`` group (list, create, update) and ``usage``.

They talk to ``/api/v1/budgets``, ``/api/v1/tariffs``, ``/api/v1/programmes`` and ``/api/v1/usage``. The server
decides who may do what (everyone reads tariffs and programmes; users see their org's budgets and usage,
operators all; top-ups, expiry, tariff loads and programme changes are the operator's); these commands only
send the request and show the answer or its error.
"""

from __future__ import annotations

import sys

from gpucloud.cli.command import JSON, Arg, Group, Namespace, int_range
from gpucloud.cli.output import echo, fmt_time, print_json, print_table
from gpucloud.errors import InputError
from gpucloud.sdk.client import Client, seg

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from typing import Any

commands = Group()
budget = commands.group("budget", "Project budgets in points: list, ledger, topup and expire (operator).")
tariff = commands.group("tariff", "Tariff versions (prices in points): list, load (operator).")
programme = commands.group("programme", "Subsidy programmes: list, create and update (operator).")


# --- helpers -------------------------------------------------------------------------------------------------


def parse_expires(text: str | None, option: str = "--expires") -> float | None:
    """A date (midnight UTC), a date-time, or UTC epoch seconds → epoch seconds (:mod:`gpucloud.times`)."""
    if text is None:
        return None
    from gpucloud.times import time_input

    return time_input(option, text)


def _pairs(mapping: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in mapping.items())


# --- budgets -------------------------------------------------------------------------------------------------


@budget.command("list", JSON)
def budget_list(a: Namespace) -> None:
    """List project budgets (your org's projects; operators: every project)."""
    with Client() as client:
        budgets = client.get("/budgets")
    if a.as_json:
        print_json(budgets)
        return
    print_table(("ORG", "PROJECT", "BALANCE", "HELD", "AVAILABLE", "SPENT", "CAP", "EXPIRES"),
                [[b["org"], b["project"], b["balance"], b["held"], b["available"], b["spent"], b["cap"] or "",
                  fmt_time(b["expires_at"])] for b in budgets], empty="no budgets")


@budget.command(
    "ledger", Arg("org", help="The org."), Arg("project", help="The project."),
    Arg("--limit", type=int_range(1, 1000), default=100, help="Entries per page (1-1000, default 100)."),
    Arg("--offset", type=int_range(0), default=0, help="Entries to skip."),
    JSON,
)
def budget_ledger(a: Namespace) -> None:
    """Show a project's ledger entries (top-ups, holds, charges, ...), one page."""
    with Client() as client:
        page = client.get(f"/budgets/{seg(a.org)}/{seg(a.project)}/ledger", offset=a.offset, limit=a.limit)
    if a.as_json:
        print_json(page)
        return
    items = page["items"]
    print_table(("ID", "TIME", "KIND", "AMOUNT", "SUBSIDY", "REF", "NOTE"),
                [[e["id"], fmt_time(e["at"]), e["kind"], e["amount"], e["subsidy"], e["ref"], e["note"]]
                 for e in items], empty="no ledger entries")
    if items:
        echo(f"entries {a.offset + 1}-{a.offset + len(items)} of {page['total']}")


@budget.command(
    "topup", Arg("org", help="The org."), Arg("project", help="The project."),
    Arg("amount", help="Points to add, e.g. 100 or 12.5 (at most 4 decimals)."),
    Arg("--expires", help="When the budget expires: a date (midnight UTC), a datetime with a zone, or epoch "
                          "seconds."),
    Arg("--cap", help="Most points the project may spend per period."),
    Arg("--note", default="", help="Kept on the ledger entry."),
    JSON,
)
def budget_topup(a: Namespace) -> None:
    """Add points to a project's budget (operator)."""
    body: dict[str, Any] = {"amount": a.amount.strip(), "note": a.note, "expires_at": parse_expires(a.expires)}
    if a.cap is not None:
        body["cap"] = a.cap.strip()
    with Client() as client:
        b = client.post(f"/budgets/{seg(a.org)}/{seg(a.project)}/topup", body)
    if a.as_json:
        print_json(b)
    else:
        echo(f"topped up {b['org']}/{b['project']} by {body['amount']}: balance {b['balance']}, "
             f"available {b['available']}")


@budget.command("expire", JSON)
def budget_expire(a: Namespace) -> None:
    """Expire now the budgets past their expiry date (operator; the server does it about once a minute)."""
    with Client() as client:
        out = client.post("/budgets/expire", {})
    if a.as_json:
        print_json(out)
    else:
        echo(f"expired: {', '.join(out['expired'])}" if out["expired"] else "nothing to expire")


# --- tariffs -------------------------------------------------------------------------------------------------


@tariff.command("list", JSON)
def tariff_list(a: Namespace) -> None:
    """List the tariff versions, oldest first."""
    with Client() as client:
        out = client.get("/tariffs")
    if a.as_json:
        print_json(out)
        return
    print_table(("NAME", "VALID FROM", "MIN", "INCR", "POINTS/GPU-HOUR", "SERVICE", "PRIORITY"),
                [[t["name"], fmt_time(t["valid_from"]), f"{t['minimum_seconds']}s", f"{t['increment_seconds']}s",
                  _pairs(t["points_per_gpu_hour"]), _pairs(t["service_classes"]), _pairs(t["priority_classes"])]
                 for t in out["tariffs"]], empty="no tariffs (budgets are off)")


@tariff.command("load", Arg("file", help="A tariff YAML file (see docs/money.md)."), JSON)
def tariff_load(a: Namespace) -> None:
    """Check a tariff file and add its versions on the server (operator); the server checks its GPU types."""
    from pathlib import Path

    from gpucloud.money.tariff_file import load_tariffs
    from gpucloud.money.tariff_json import tariff_to_json

    book = load_tariffs(Path(a.file))
    with Client() as client:
        out = client.post("/tariffs", {"tariffs": [tariff_to_json(t) for t in book.tariffs]})
    if a.as_json:
        print_json(out)
    else:
        echo(f"added {len(out['added'])} tariff version(s): {', '.join(out['added'])}")


# --- programmes ----------------------------------------------------------------------------------------------

ORGS = Arg("--org", dest="orgs", action="append", help="An org eligible by name (repeat for more).")
KINDS = Arg("--org-kind", dest="kinds", action="append", help="A kind of org eligible (e.g. university; repeat).")
CAP = Arg("--org-cap", help="Most points it pays for one org.")
FROM = Arg("--from", dest="valid_from", help="Runs that start from then (a date, a datetime with a zone, or epoch "
                                             "seconds).")
UNTIL = Arg("--until", dest="valid_until", help="... and before then.")


def _programme_body(a: Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"share": a.share, "total": a.total, "org_cap": a.org_cap, "orgs": a.orgs,
                            "org_kinds": a.kinds}
    body = {k: v.strip() if isinstance(v, str) else v for k, v in body.items() if v is not None}
    if a.valid_from is not None:
        body["valid_from"] = parse_expires(a.valid_from, "--from")
    if a.valid_until is not None:
        body["valid_until"] = parse_expires(a.valid_until, "--until")
    return body


def _show_programme(p: dict[str, Any], verb: str, as_json: bool) -> None:
    if as_json:
        print_json(p)
    else:
        echo(f"{verb} programme {p['name']}: pays {p['share']} up to {p['total']} (remaining {p['remaining']})")


@programme.command("list", JSON)
def programme_list(a: Namespace) -> None:
    """List the subsidy programmes with what each has paid and has left (--json: validity, held, per org)."""
    with Client() as client:
        out = client.get("/programmes")
    if a.as_json:
        print_json(out)
        return
    print_table(("NAME", "SHARE", "ELIGIBLE", "ORG CAP", "TOTAL", "PAID", "REMAINING"),
                [[p["name"], p["share"], " ".join([*p["orgs"], *(f"kind:{k}" for k in p["org_kinds"])]),
                  p["org_cap"] or "", p["total"], p["paid"], p["remaining"]] for p in out], empty="no programmes")


@programme.command(
    "create", Arg("name", help="The programme's name."),
    Arg("--share", required=True, help="The share it pays: 1/2, 0.5, ..."),
    Arg("--total", required=True, help="The most points it pays in all."),
    CAP, ORGS, KINDS, FROM, UNTIL, JSON,
)
def programme_create(a: Namespace) -> None:
    """Create a subsidy programme (operator). Eligible: the orgs named with --org, or of a kind in --org-kind."""
    body = {"name": a.name, **_programme_body(a)}
    with Client() as client:
        p = client.post("/programmes", body)
    _show_programme(p, "created", a.as_json)


@programme.command(
    "update", Arg("name", help="The programme's name."),
    Arg("--share", help="A new share (for runs that start from now)."),
    Arg("--total", help="A new total."),
    CAP, ORGS, KINDS, FROM, UNTIL, JSON,
)
def programme_update(a: Namespace) -> None:
    """Change a programme's terms (operator); what is not given stays. --org / --org-kind replace the lists."""
    body = _programme_body(a)
    if not body:
        raise InputError("options", "give at least one of --share, --total, --org-cap, --org, --org-kind, --from, "
                                    "--until")
    with Client() as client:
        p = client.patch(f"/programmes/{seg(a.name)}", body)
    _show_programme(p, "updated", a.as_json)


# --- usage ---------------------------------------------------------------------------------------------------


@commands.command(
    "usage",
    Arg("--month", required=True, help="The UTC month, YYYY-MM."),
    Arg("--csv", dest="as_csv", action="store_true", help="Print the server's CSV as is."),
    Arg("--by-user", action="store_true", help="One row per user as well."),
    JSON,
)
def usage(a: Namespace) -> None:
    """Usage of a month by org, project (and user) and GPU type (your org; operators: all)."""
    if a.as_csv and a.as_json:
        raise InputError("--csv", "give --csv or --json, not both")
    with Client() as client:
        if a.as_csv:
            sys.stdout.write(client.get_text("/usage", month=a.month, format="csv", by_user=a.by_user))
            return
        rows = client.get("/usage", month=a.month, format="json", by_user=a.by_user)
    if a.as_json:
        print_json(rows)
        return
    who = ("USER",) if a.by_user else ()
    print_table(("MONTH", "ORG", "PROJECT", *who, "GPU TYPE", "RUNS", "GPU-HOURS", "POINTS", "SUBSIDY", "CHARGED"),
                [[r["month"], r["org"], r["project"], *([r["user"]] if a.by_user else []), r["gpu_type"], r["runs"],
                  r["gpu_hours"], r["points"], r["subsidy"], r["charged"]] for r in rows],
                empty=f"no usage in {a.month}")
