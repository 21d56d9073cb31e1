"""``/metrics`` is served at that path itself (no redirect to ``/metrics/``), and counts a submission that the
request size limit refused."""

from __future__ import annotations

from pathlib import Path

from api_world import FakeClock
from fastapi.testclient import TestClient

from gpucloud.service.server import build_server
from gpucloud.service.settings import Settings


def test_metrics_answer_at_their_own_path(db_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, cluster_file="2x8:H100", executor="noop",
                        max_request_bytes=1024)
    server = build_server(settings, clock=FakeClock())
    try:
        with TestClient(server.app, follow_redirects=False) as client:
            token = server.ctx.bootstrap_token
            big = client.post("/api/v1/jobs", content=b'{"argv": ["true"]' + b" " * 2000 + b"}",
                              headers={"authorization": f"Bearer {token}", "content-type": "application/json"})
            assert big.status_code == 413
            r = client.get("/metrics")
            assert r.status_code == 200, r.headers
            assert 'gpucloud_gpus_total{gpu_type="H100-80GB"} 16.0' in r.text
            assert 'gpucloud_submits_total{outcome="rejected"} 1.0' in r.text
    finally:
        server.ctx.engine.dispose()
