"""Price previews through the API (``POST /quotes/job`` and ``/quotes/reservation``), with numbers worked out by
hand: a tariff of 2.4 points per H100 GPU-hour and 4 per B200 GPU-hour, ``shared`` 1.25 × (part of one node),
``high`` priority 2 ×, ``reserved`` 0.8 ×; a programme that pays half for universities."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_world import FakeClock, World, make_world

CLUSTER = """name: two-types
blocks:
  - name: b0
    racks:
      - name: r0
        nodes:
          - {name: h0, gpus: 8, gpu_type: H100-80GB}
          - {name: h1, gpus: 8, gpu_type: H100-80GB}
          - {name: g0, gpus: 4, gpu_type: B200-180GB}
"""
TARIFF = {"tariffs": [{"name": "fy2026", "valid_from": 1_600_000_000,
                       "points_per_gpu_hour": {"H100-80GB": "2.4", "B200-180GB": "4"},
                       "service_classes": {"standard": "1", "shared": "1.25", "reserved": "0.8"},
                       "priority_classes": {"high": "2"}}]}


@pytest.fixture
def two_types(db_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[World]:
    path = tmp_path / "cluster.yaml"
    path.write_text(CLUSTER)
    world = make_world(db_url, tmp_path, clock, cluster_file=str(path))
    yield world
    world.client.close()
    world.app.state.gpucloud.engine.dispose()


def _quote(world: World, user: str, **body: Any) -> dict[str, Any]:
    r = world.call(user, "POST", "/api/v1/quotes/job", body)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_without_a_tariff_jobs_are_free(two_types: World) -> None:
    q = _quote(two_types, "alice", num_gpus=4)
    assert (q["tariff"], q["project"], q["available"]) == (None, "alpha/default", "0.0000")
    assert [(o["gpu_type"], o["hold"]) for o in q["options"]] == [("B200-180GB", None), ("H100-80GB", None)]


def test_job_price_per_gpu_type_with_shared_class_priority_and_subsidy(two_types: World) -> None:
    w = two_types
    assert w.call("admin", "POST", "/api/v1/tariffs", TARIFF).status_code == 201
    assert w.call("admin", "PATCH", "/api/v1/orgs/alpha", {"kind": "university"}).status_code == 200
    r = w.call("admin", "POST", "/api/v1/programmes", {"name": "half", "share": "1/2", "total": "1000",
                                                         "org_kinds": ["university"]})
    assert r.status_code == 201, r.text
    w.call("admin", "POST", "/api/v1/budgets/alpha/default/topup", {"amount": "2"})
    # 2 GPUs for 30 minutes, any type: part of one node on either, so the shared class.
    # H100: 2.4 × 1.25 × 2 × 0.5 h = 3.0, half of it subsidised; B200: 4 × 1.25 × 2 × 0.5 = 5.0
    q = _quote(w, "alice", num_gpus=2, walltime="30m")
    assert (q["tariff"], q["available"]) == ("fy2026", "2.0000")
    got = {o["gpu_type"]: (o["service_class"], o["rate"], o["hold"], o["subsidy"], o["project_pays"], o["programme"],
                           o["enough"]) for o in q["options"]}
    assert got == {"H100-80GB": ("shared", "3", "3.0000", "1.5000", "1.5000", "half", True),
                   "B200-180GB": ("shared", "5", "5.0000", "2.5000", "2.5000", "half", False)}
    assert "cannot cover" in next(o for o in q["options"] if o["gpu_type"] == "B200-180GB")["why"]
    # a whole H100 node at high priority for an hour: standard × 2 = 2.4 × 2 × 8 = 38.4; B200 cannot take 8
    q = _quote(w, "alice", num_gpus=8, walltime="1h", priority="high", gpu_type="H100")
    [only] = q["options"]
    assert (only["gpu_type"], only["service_class"], only["rate"], only["hold"], only["subsidy"]) == (
        "H100-80GB", "standard", "4.8", "38.4000", "19.2000")
    # beta is no university: it pays all
    [h100] = _quote(w, "bob", num_gpus=8, gpu_type="H100")["options"]
    assert (h100["hold"], h100["subsidy"], h100["project_pays"], h100["enough"]) == ("19.2000", "0.0000", "19.2000",
                                                                                      False)


def test_job_quote_refuses_what_could_not_be_submitted(two_types: World) -> None:
    w = two_types
    for body, field, code in [({"num_gpus": 9, "nodes": 1}, "num_gpus", 422),
                              ({"num_gpus": 24, "nodes": 3}, "nodes", 422), ({"project": "nope"}, "project", 422),
                              ({"priority": "highest"}, "priority", 422), ({"gpu_type": "A100"}, "gpu_type", 422),
                              ({"service_class": "gold"}, "service_class", 422)]:
        r = w.call("alice", "POST", "/api/v1/quotes/job", body)
        assert r.status_code == code and r.json()["detail"][0]["field"] == field, (body, r.text)
    assert w.call("alice", "POST", "/api/v1/quotes/job", {"org": "beta"}).status_code == 403


def test_reservation_price(two_types: World) -> None:
    w = two_types
    start, end = w.clock.now + 86400, w.clock.now + 86400 + 2 * 3600
    body = {"gpu_type": "H100", "nodes": 2, "start": start, "end": end}
    r = w.call("alpha-admin", "POST", "/api/v1/quotes/reservation", body)
    assert r.status_code == 200, r.text
    assert (r.json()["price"], r.json()["tariff"], r.json()["enough"]) == (None, None, True)
    assert w.call("admin", "POST", "/api/v1/tariffs", TARIFF).status_code == 201
    w.call("admin", "POST", "/api/v1/budgets/alpha/default/topup", {"amount": "50"})
    # 2 nodes × 8 GPUs × 2 h × 2.4 × 0.8 = 61.44
    q = w.call("alice", "POST", "/api/v1/quotes/reservation", body).json()  # members may ask for their org
    assert (q["price"], q["gpus"], q["seconds"], q["available"], q["enough"]) == ("61.4400", 16, 7200, "50.0000",
                                                                                  False)
    r = w.call("admin", "POST", "/api/v1/quotes/reservation", {**body, "org": "beta", "project": "default"})
    assert r.status_code == 200 and r.json()["project"] == "beta/default"
    r = w.call("alice", "POST", "/api/v1/quotes/reservation", {**body, "end": start - 1})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "end"
    assert w.call("bob", "POST", "/api/v1/quotes/reservation", {**body, "org": "alpha"}).status_code == 403
