"""Money commands against a real server: tariff load / list, budget topup / list / ledger, usage."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cli_world import Cli

from gpucloud.cli.money import parse_expires

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "tariffs"

TARIFF_YAML = """\
tariffs:
  - name: test-2025
    description: H100 at 2 points per GPU-hour
    valid_from: 2025-01-01
    minimum_seconds: 60
    increment_seconds: 1
    points_per_gpu_hour: {H100-80GB: 2.0}
    service_classes: {standard: 1.0, preemptible: 0.5}
    priority_classes: {high: 1.5}
"""


def _tariff_file(tmp_path: Path) -> Path:
    path = tmp_path / "tariffs.yaml"
    path.write_text(TARIFF_YAML)
    return path


def test_tariffs_budgets_ledger_and_usage(world: Cli, tmp_path: Path) -> None:
    assert world.json("tariff", "list", user="alice") == {"tariffs": []}
    assert "no tariffs" in world.ok("tariff", "list", user="alice").stdout

    loaded = world.ok("tariff", "load", str(_tariff_file(tmp_path)), user="admin")
    assert "test-2025" in loaded.stdout
    tariffs = world.json("tariff", "list", user="alice")["tariffs"]
    assert [t["name"] for t in tariffs] == ["test-2025"]
    assert tariffs[0]["points_per_gpu_hour"] == {"H100-80GB": "2.0"}
    assert tariffs[0]["valid_from"] == dt.datetime(2025, 1, 1, tzinfo=dt.UTC).timestamp()
    table = world.ok("tariff", "list", user="alice").stdout
    assert "test-2025" in table and "H100-80GB=2.0" in table

    out = world.json("budget", "topup", "alpha", "default", "100", "--expires", "2099-12-31", "--cap", "80",
                     user="admin")
    assert (out["org"], out["project"], out["balance"], out["available"]) == ("alpha", "default", "100.0000",
                                                                               "100.0000")
    assert out["cap"] == "80.0000"
    assert out["expires_at"] == dt.datetime(2099, 12, 31, tzinfo=dt.UTC).timestamp()
    assert "balance 112.5000" in world.ok("budget", "topup", "alpha", "default", "12.5", user="admin").stdout

    budgets = {(b["org"], b["project"]): b for b in world.json("budget", "list", user="admin")}
    assert budgets[("alpha", "default")]["balance"] == "112.5000"
    assert set(budgets) >= {("alpha", "default"), ("beta", "default")}
    mine = world.json("budget", "list", user="alice")
    assert {b["org"] for b in mine} == {"alpha"}
    listed = world.ok("budget", "list", user="alice").stdout
    assert "alpha" in listed and "112.5000" in listed and "beta" not in listed

    page = world.json("budget", "ledger", "alpha", "default", user="alice")
    assert page["total"] == 2
    assert [(e["kind"], e["amount"]) for e in page["items"]] == [("top_up", "100.0000"), ("top_up", "12.5000")]
    one = world.json("budget", "ledger", "alpha", "default", "--limit", "1", "--offset", "1", user="admin")
    assert (one["total"], [e["amount"] for e in one["items"]]) == (2, ["12.5000"])
    text = world.ok("budget", "ledger", "alpha", "default", "--limit", "1", user="admin").stdout
    assert "top_up" in text and "100.0000" in text and "entries 1-1 of 2" in text
    hidden = world.run("budget", "ledger", "alpha", "default", user="bob")
    assert hidden.exit_code != 0 and "not found" in hidden.stderr and "Traceback" not in hidden.stderr

    csv_out = world.ok("usage", "--month", "2025-01", "--csv", user="admin").stdout
    assert csv_out.splitlines()[0] == "month,org,project,gpu_type,runs,gpu_hours,points,subsidy,charged"
    assert world.json("usage", "--month", "2025-01", user="alice") == []
    assert "no usage in 2025-01" in world.ok("usage", "--month", "2025-01", user="alice").stdout


def test_member_topup_is_refused(world: Cli) -> None:
    refused = world.run("budget", "topup", "alpha", "default", "100", user="alice")
    lines = refused.stderr.strip().splitlines()
    assert refused.exit_code == 2 and len(lines) == 1 and "forbidden" in lines[0], refused.stderr
    assert [e for e in world.json("budget", "ledger", "alpha", "default", user="admin")["items"]] == []


def test_bad_input_is_one_line(world: Cli, tmp_path: Path) -> None:
    member = world.run("tariff", "load", str(_tariff_file(tmp_path)), user="alice")
    assert member.exit_code == 2 and "forbidden" in member.stderr
    # The per-second example prices B200s, which the 2 × 4 H100 test cluster does not have: the server says so.
    wrong = world.run("tariff", "load", str(EXAMPLES / "gpu-cloud-per-second.yaml"), user="admin")
    assert wrong.exit_code == 2 and "B200-180GB" in wrong.stderr and "H100-80GB" in wrong.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("tariffs:\n  - name: x\n    valid_from: 2025-01-01\n    points_per_gpu_hour: {H100-80GB: -1}\n")
    negative = world.run("tariff", "load", str(bad), user="admin")
    assert negative.exit_code == 2 and "must not be negative" in negative.stderr
    missing = world.run("tariff", "load", str(tmp_path / "nope.yaml"), user="admin")
    assert missing.exit_code == 2 and "cannot read file" in missing.stderr
    assert world.json("tariff", "list", user="admin") == {"tariffs": []}

    for args, word in ((["budget", "topup", "alpha", "default", "lots"], "amount"),
                       (["budget", "topup", "alpha", "default", "1", "--expires", "soon"], "--expires"),
                       (["budget", "topup", "alpha", "nope", "1"], "not found"),
                       (["usage", "--month", "2025-1"], "month"),
                       (["usage", "--month", "2025-01", "--csv", "--json"], "--csv")):
        result = world.run(*args, user="admin")
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == 2 and len(lines) == 1 and word in lines[0], (args, result.stderr)


def test_parse_expires() -> None:
    assert parse_expires(None) is None
    assert parse_expires("1700000000") == 1700000000.0
    assert parse_expires("2026-03-31") == dt.datetime(2026, 3, 31, tzinfo=dt.UTC).timestamp()
    assert parse_expires("2026-03-31T12:00:00+00:00") == dt.datetime(2026, 3, 31, 12, tzinfo=dt.UTC).timestamp()


def test_programmes(world: Cli) -> None:
    assert world.json("programme", "list", user="alice") == []
    assert "no programmes" in world.ok("programme", "list", user="alice").stdout
    created = world.json("programme", "create", "academic", "--share", "1/2", "--total", "1000", "--org-cap", "10",
                         "--org", "alpha", "--org-kind", "university", "--from", "2025-04-01", user="admin")
    assert (created["share"], created["total"], created["org_cap"], created["remaining"]) == (
        "1/2", "1000.0000", "10.0000", "1000.0000")
    assert (created["orgs"], created["org_kinds"]) == (["alpha"], ["university"])
    assert created["valid_from"] == dt.datetime(2025, 4, 1, tzinfo=dt.UTC).timestamp()
    table = world.ok("programme", "list", user="alice").stdout
    assert "academic" in table and "alpha" in table and "1000.0000" in table
    assert "pays 1/4" in world.ok("programme", "update", "academic", "--share", "0.25", user="admin").stdout
    assert [p["share"] for p in world.json("programme", "list", user="bob")] == ["1/4"]
    assert "nothing to expire" in world.ok("budget", "expire", user="admin").stdout

    for args, user, word in ((["programme", "create", "p", "--share", "1/2", "--total", "1"], "alice", "forbidden"),
                             (["programme", "create", "p", "--share", "3/2", "--total", "1"], "admin", "share"),
                             (["programme", "update", "academic"], "admin", "--share"),
                             (["programme", "update", "nope", "--total", "5"], "admin", "not found"),
                             (["budget", "expire"], "alice", "forbidden")):
        result = world.run(*args, user=user)
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == 2 and len(lines) == 1 and word in lines[0], (args, result.stderr)
