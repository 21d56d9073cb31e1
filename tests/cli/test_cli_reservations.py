"""Reservation and node commands against a real server (2 × 4 GPUs, no tariff: reservations are free)."""

from __future__ import annotations

import datetime as dt
import time

from cli_world import Cli, submit


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="seconds")


def test_request_approve_submit_into_and_cancel(world: Cli) -> None:
    start = (int(time.time()) // 60 + 120) * 60.0  # whole minutes, two hours from now
    r = world.json("reservation", "request", "--gpu-type", "H100-80GB", "--nodes", "1", "--start", _iso(start),
                   "--end", _iso(start + 3600), "--name", "demo", user="amin")
    assert (r["name"], r["org"], r["state"], r["start"], r["end"]) == ("demo", "alpha", "requested", start,
                                                                        start + 3600)
    err = world.run("reservation", "approve", str(r["id"]), user="amin")
    assert err.exit_code != 0 and "operator" in err.output and "Traceback" not in err.output
    approved = world.json("reservation", "approve", str(r["id"]), user="admin")
    assert approved["state"] == "approved" and len(approved["node_names"]) == 1
    table = world.ok("reservation", "list", user="alice").stdout
    assert "demo" in table and "approved" in table
    assert world.json("reservation", "list", user="bob") == []
    caps = world.json("reservation", "capacity", "--start", str(start), "--end", str(start + 3600), user="bob")
    assert [(c["nodes"], c["free"]) for c in caps] == [(2, 1)]

    jid = submit(world, "alice", "--gpus", "4", "--walltime", "30m", "--reservation", "demo", "--", "true")
    job = world.json("job", str(jid), user="alice")
    assert (job["reservation_id"], job["service_class"]) == (r["id"], "reserved")
    bad = world.run("submit", "--gpus", "8", "--reservation", "demo", "--", "true", user="alice")
    assert bad.exit_code != 0 and "num_gpus" in bad.output

    cancelled = world.json("reservation", "cancel", str(r["id"]), user="amin")
    assert cancelled["state"] == "cancelled"
    assert world.json("job", str(jid), user="alice")["state"] == "cancelled"


def test_member_cannot_reserve_and_bad_time_names_the_option(world: Cli) -> None:
    out = world.run("reservation", "request", "--gpu-type", "H100-80GB", "--nodes", "1", "--start", "2099-01-01",
                    "--end", "2099-01-02", user="alice")
    assert out.exit_code != 0 and "org-admins" in out.output
    out = world.run("reservation", "request", "--gpu-type", "H100-80GB", "--nodes", "1", "--start", "soon",
                    "--end", "2099-01-02", user="amin")
    assert out.exit_code != 0 and "start" in out.output and "Traceback" not in out.output


def test_node_down_and_up(world: Cli) -> None:
    out = world.ok("node", "down", "b0-r0-n0", "--reason", "bad fan", user="admin").stdout
    assert out.strip() == "b0-r0-n0: down (bad fan)"
    nodes = {n["name"]: n for b in world.json("cluster", user="alice")["blocks"] for rk in b["racks"]
             for n in rk["nodes"]}
    assert (nodes["b0-r0-n0"]["state"], nodes["b0-r0-n0"]["state_reason"]) == ("down", "bad fan")
    assert nodes["b0-r0-n1"]["state"] == "up"
    assert world.run("node", "down", "b0-r0-n0", user="alice").exit_code != 0
    assert world.ok("node", "up", "b0-r0-n0", user="admin").stdout.strip() == "b0-r0-n0: up"
