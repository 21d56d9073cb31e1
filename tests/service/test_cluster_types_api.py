"""``GET /cluster/gpu-types``: the GPU types of the cluster without its topology, for everyone."""

from __future__ import annotations

from pathlib import Path

from api_world import FakeClock, make_world

CLUSTER = """name: two-types
blocks:
  - name: b0
    racks:
      - name: r0
        nodes:
          - {name: h0, gpus: 8, gpu_type: H100-80GB}
          - {name: h1, gpus: 4, gpu_type: H100-80GB}
          - {name: g0, gpus: 4, gpu_type: B200-180GB}
"""


def test_gpu_types(db_url: str, tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(CLUSTER)
    world = make_world(db_url, tmp_path, clock, cluster_file=str(path))
    try:
        r = world.call("bob", "GET", "/api/v1/cluster/gpu-types")
        assert r.status_code == 200, r.text
        got = {t["name"]: (t["total"], t["node_gpus"]) for t in r.json()}
        assert got == {"H100-80GB": (12, 8), "B200-180GB": (4, 4)}
        assert world.client.get("/api/v1/cluster/gpu-types").status_code == 401
    finally:
        world.client.close()
        world.app.state.gpucloud.engine.dispose()
