"""Subsidy programmes, budget expiry and the tariff file at start, in the running service (issue 4), with
numbers worked out by hand.

The tariff of ``test_budgets``: 2 points per H100 GPU-hour, no minimum, exact seconds, on a 1 × 4 H100
cluster; the control loop is driven tick by tick with a hand-moved clock and jobs end when the test says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_world import FakeClock
from money_rig import Rig, open_rig
from test_budgets import PROJECT, TARIFF
from typer.testing import CliRunner

from gpucloud.cli.main import app as cli_app
from gpucloud.service.server import build_server
from gpucloud.service.settings import Settings

HOUR = 3600.0


@pytest.fixture
def rig(db_url: str, tmp_path: Path) -> Iterator[Rig]:
    with open_rig(db_url, tmp_path, TARIFF) as r:
        yield r


def _programme(rig: Rig, **body: Any) -> dict[str, Any]:
    r = rig.world.call("admin", "POST", "/api/v1/programmes", body)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def _programmes(rig: Rig, user: str = "admin") -> dict[str, dict[str, Any]]:
    r = rig.world.call(user, "GET", "/api/v1/programmes")
    assert r.status_code == 200, r.text
    return {p["name"]: p for p in r.json()}


def _run(rig: Rig, seconds: float, user: str = "alice", **body: Any) -> int:
    """Submit, start, run ``seconds`` and finish one job; its id."""
    jid = rig.submit(user=user, **body)
    rig.loop.tick()
    assert rig.job(jid)["state"] == "running", rig.job(jid)
    rig.clock.advance(seconds)
    rig.executor.finish(jid)
    rig.loop.tick()
    assert rig.job(jid)["state"] == "succeeded", rig.job(jid)
    return jid


def _charges(rig: Rig, project: str = PROJECT) -> list[tuple[str, str, str]]:
    r = rig.world.call("admin", "GET", f"/api/v1/budgets/{project}/ledger")
    return [(e["amount"], e["subsidy"], e["programme"]) for e in r.json()["items"] if e["kind"] == "charge"]


# --- programmes ----------------------------------------------------------------------------------------------


def test_subsidy_reaches_the_org_cap(rig: Rig) -> None:
    r = rig.world.call("admin", "PATCH", "/api/v1/orgs/alpha", {"kind": "university"})
    assert (r.status_code, r.json()["kind"], r.json()["weight"]) == (200, "university", 1.0)
    _programme(rig, name="academic", share="1/2", total="1000", org_cap="10", org_kinds=["university"])
    rig.top_up("100")

    # job 1: 3 GPUs × 2 h × 2 points = 12; the programme pays 1/2 = 6 (room: min(1000, 10) = 10), alpha 6
    jid = rig.submit(num_gpus=3, walltime="2h")
    rig.loop.tick()
    assert rig.job(jid)["estimated_cost"] == "12.0000"
    b = rig.budget()
    assert (b["held"], b["available"]) == ("6.0000", "94.0000")  # the project holds only its own part
    held = _programmes(rig)["academic"]
    assert (held["held"], held["paid"], held["remaining"]) == ("6.0000", "0.0000", "994.0000")
    rig.clock.advance(2 * HOUR)
    rig.executor.finish(jid)
    rig.loop.tick()
    assert rig.job(jid)["final_cost"] == "6.0000"
    assert rig.budget()["balance"] == "94.0000"

    # job 2: again 12; 1/2 would be 6 but only 10 − 6 = 4 is left of alpha's cap: 4 subsidy, 8 project
    _run(rig, 2 * HOUR, num_gpus=3, walltime="2h")
    assert rig.budget()["balance"] == "86.0000"  # 94 − 8

    # job 3: the cap is reached, so the programme has no room for alpha: alpha pays all 12
    _run(rig, 2 * HOUR, num_gpus=3, walltime="2h")
    assert rig.budget()["balance"] == "74.0000"  # 86 − 12
    assert _charges(rig) == [("6.0000", "6.0000", "academic"), ("8.0000", "4.0000", "academic"),
                             ("12.0000", "0.0000", "")]
    p = _programmes(rig)["academic"]
    assert (p["paid"], p["held"], p["remaining"], p["org_committed"]) == ("10.0000", "0.0000", "990.0000",
                                                                          {"alpha": "10.0000"})
    assert (p["share"], p["total"], p["org_cap"], p["org_kinds"]) == ("1/2", "1000.0000", "10.0000",
                                                                      ["university"])
    rig.verify()


def test_an_ineligible_org_pays_all_and_an_early_end_gives_the_programme_room_back(rig: Rig) -> None:
    _programme(rig, name="alpha-grant", share="1/2", total="100", orgs=["alpha"])
    rig.top_up("100")
    rig.top_up("100", "beta/default")

    # beta is not named: 2 GPUs × 1 h × 2 = 4, all of it beta's
    _run(rig, HOUR, user="bob", num_gpus=2, walltime="1h")
    assert _charges(rig, "beta/default") == [("4.0000", "0.0000", "")]
    assert rig.budget("beta/default")["balance"] == "96.0000"

    # alpha: 3 GPUs × 2 h = 12 held (6 + 6); it ends after 1 h: 6 used, 3 programme + 3 alpha; the other 3 + 3
    # go back to the programme and to alpha
    _run(rig, HOUR, num_gpus=3, walltime="2h")
    assert _charges(rig) == [("3.0000", "3.0000", "alpha-grant")]
    assert rig.budget()["balance"] == "97.0000"
    p = _programmes(rig)["alpha-grant"]
    assert (p["paid"], p["held"], p["remaining"]) == ("3.0000", "0.0000", "97.0000")
    # members see the programme, and only their own org's figure
    assert _programmes(rig, "bob")["alpha-grant"]["org_committed"] == {}
    assert _programmes(rig, "alice")["alpha-grant"]["org_committed"] == {"alpha": "3.0000"}
    rig.verify()


def test_the_first_eligible_programme_in_name_order_pays(rig: Rig) -> None:
    t0 = rig.clock.now
    _programme(rig, name="b-national", share="1/2", total="100", orgs=["alpha"])
    _programme(rig, name="a-small", share="1/4", total="1", orgs=["alpha"])
    _programme(rig, name="0-window", share="1", total="100", orgs=["alpha"], valid_from=t0 + HOUR,
               valid_until=t0 + 3 * HOUR)
    rig.top_up("100")
    # each job: 2 GPUs × 1 h × 2 = 4
    # t0: 0-window is not in force yet; a-small comes next: 1/4 × 4 = 1, exactly its total; alpha 3
    _run(rig, HOUR, num_gpus=2, walltime="1h")
    # t0 + 2 h: 0-window is in force and first in name order: it pays all 4
    rig.clock.advance(HOUR)
    _run(rig, HOUR, num_gpus=2, walltime="1h")
    # t0 + 3 h: 0-window has ended (valid_until is exclusive), a-small has no room left: b-national, 1/2 × 4 = 2
    _run(rig, HOUR, num_gpus=2, walltime="1h")
    assert _charges(rig) == [("3.0000", "1.0000", "a-small"), ("0.0000", "4.0000", "0-window"),
                             ("2.0000", "2.0000", "b-national")]
    assert rig.budget()["balance"] == "95.0000"  # 100 − 3 − 0 − 2
    assert [p["remaining"] for p in _programmes(rig).values()] == ["96.0000", "0.0000", "98.0000"]
    rig.verify()


def test_only_operators_create_and_change_programmes(rig: Rig) -> None:
    body = {"name": "p", "share": "1/2", "total": "10"}
    for user in ("alpha-admin", "alice"):
        assert rig.world.call(user, "POST", "/api/v1/programmes", body).status_code == 403
        assert rig.world.call(user, "PATCH", "/api/v1/programmes/p", {"total": "5"}).status_code == 403
    assert rig.world.call("alice", "GET", "/api/v1/programmes").json() == []
    _programme(rig, **body)
    assert rig.world.call("admin", "POST", "/api/v1/programmes", body).status_code == 409
    r = rig.world.call("admin", "PATCH", "/api/v1/programmes/p", {"share": "0.25", "org_cap": "3"})
    assert r.status_code == 200, r.text
    assert (r.json()["share"], r.json()["org_cap"], r.json()["total"]) == ("1/4", "3.0000", "10.0000")
    assert rig.world.call("admin", "PATCH", "/api/v1/programmes/nope", {"total": "5"}).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"share": "3/2"}, "share"),
    ({"share": "half"}, "share"),
    ({"share": "1/0"}, "share"),
    ({"total": "-1"}, "total"),
    ({"total": "0.00001"}, "total"),
    ({"org_cap": "lots"}, "org_cap"),
    ({"orgs": ["gamma"]}, "orgs[0]"),
    ({"org_kinds": ["Uni versity"]}, "org_kinds[0]"),
    ({"valid_from": 10, "valid_until": 5}, "valid_until"),
])
def test_bad_programmes_are_422_naming_the_field(rig: Rig, body: dict[str, Any], field: str) -> None:
    r = rig.world.call("admin", "POST", "/api/v1/programmes", {"name": "p", "share": "1/2", "total": "10", **body})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["field"] == field, r.text


def test_total_cannot_drop_below_what_is_committed(rig: Rig) -> None:
    _programme(rig, name="p", share="1", total="10", orgs=["alpha"])
    rig.top_up("10")
    jid = rig.submit(num_gpus=2, walltime="1h")  # 4, all held by the programme
    rig.loop.tick()
    assert _programmes(rig)["p"]["held"] == "4.0000"
    r = rig.world.call("admin", "PATCH", "/api/v1/programmes/p", {"total": "3"})
    assert (r.status_code, r.json()["detail"][0]["field"]) == (422, "total")
    # a new share applies to new runs; the running one keeps 1 (it pays all 4 of its hour)
    assert rig.world.call("admin", "PATCH", "/api/v1/programmes/p", {"share": "1/2"}).status_code == 200
    rig.clock.advance(HOUR)
    rig.executor.finish(jid)
    rig.loop.tick()
    assert _charges(rig) == [("0.0000", "4.0000", "p")]
    rig.verify()


# --- expiry --------------------------------------------------------------------------------------------------


def test_expiry_removes_what_is_left_once(rig: Rig) -> None:
    t = rig.clock.now + 10 * HOUR
    r = rig.world.call("admin", "POST", f"/api/v1/budgets/{PROJECT}/topup", {"amount": "100", "expires_at": t})
    assert r.status_code == 200, r.text
    # 3 GPUs × 5 h × 2 = 30 charged
    _run(rig, 5 * HOUR, num_gpus=3, walltime="5h")
    assert rig.budget()["balance"] == "70.0000"
    assert rig.world.call("admin", "POST", "/api/v1/budgets/expire").json() == {"expired": []}  # not yet
    assert rig.world.call("alice", "POST", "/api/v1/budgets/expire").status_code == 403
    rig.clock.now = t + 1
    assert rig.world.call("admin", "POST", "/api/v1/budgets/expire").json() == {"expired": [PROJECT]}
    b = rig.budget()
    assert (b["balance"], b["available"], b["spent"]) == ("0.0000", "0.0000", "0.0000")
    assert rig.world.call("admin", "POST", "/api/v1/budgets/expire").json() == {"expired": []}
    assert rig.ledger()[-1] == ("expiry", "70.0000")
    rig.verify()

    # a job cannot start on an expired budget; a top-up with a new expiry date starts a new period
    jid = rig.submit(num_gpus=1, walltime="1h")
    rig.loop.tick()
    assert (rig.job(jid)["state"], rig.job(jid)["reason"]) == ("pending", "budget")
    r = rig.world.call("admin", "POST", f"/api/v1/budgets/{PROJECT}/topup",
                       {"amount": "50", "expires_at": t + 100 * HOUR})
    assert r.json()["available"] == "50.0000"
    rig.loop.tick()
    assert rig.job(jid)["state"] == "running"
    assert rig.budget()["available"] == "48.0000"  # 1 GPU × 1 h × 2 held
    assert rig.world.call("admin", "POST", "/api/v1/budgets/expire").json() == {"expired": []}
    rig.verify()


def test_the_loop_expires_budgets_about_once_a_minute(rig: Rig) -> None:
    t = rig.clock.now + 30
    rig.world.call("admin", "POST", f"/api/v1/budgets/{PROJECT}/topup", {"amount": "10", "expires_at": t})
    rig.loop.tick()  # the first tick runs an expiry pass: nothing due yet
    rig.clock.advance(40)
    rig.loop.tick()  # past the expiry, but the last pass was only 40 s ago
    assert rig.ledger() == [("top_up", "10.0000")]
    rig.clock.advance(20)
    rig.loop.tick()  # 60 s after the first pass
    assert rig.ledger() == [("top_up", "10.0000"), ("expiry", "10.0000")]
    rig.clock.advance(60)
    rig.loop.tick()
    assert len(rig.ledger()) == 2
    rig.verify()


# --- the tariff file at start ---------------------------------------------------------------------------------

TARIFF_YAML = """\
tariffs:
  - name: fy2026
    valid_from: 2025-04-01
    points_per_gpu_hour: {H100-80GB: 2}
"""


def test_server_start_stores_the_tariff_file(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "tariffs.yaml"
    path.write_text(TARIFF_YAML)
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, cluster_file="1x4:H100",
                        tariff_file=str(path))
    for added in (["fy2026"], []):  # a second start skips the identical version
        server = build_server(settings, clock=FakeClock())
        try:
            assert server.tariffs_added == added
            with server.ctx.sessions() as session:
                from gpucloud.service.budgets import tariff_book

                book = tariff_book(session)
                assert book is not None and [t.name for t in book.tariffs] == ["fy2026"]
        finally:
            server.ctx.engine.dispose()


@pytest.mark.parametrize(("text", "word"), [
    ("tariffs:\n  - name: x\n    valid_from: 2025-01-01\n    points_per_gpu_hour: {B200-180GB: 1}\n",
     "tariffs[0].points_per_gpu_hour"),
    ("tariffs:\n  - name: x\n    valid_from: 2025-01-01\n    points_per_gpu_hour: {H100-80GB: -1}\n",
     "must not be negative"),
])
def test_a_bad_tariff_file_stops_the_server_with_one_line(tmp_path: Path, text: str, word: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = CliRunner().invoke(cli_app, ["server", "--data-dir", str(tmp_path / "data"), "--cluster", "1x4:H100",
                                          "--workers", "1", "--port", "0", "--tariff", str(path)])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.stderr
    assert word in lines[0] and str(path) in lines[0] and "Traceback" not in result.stderr
