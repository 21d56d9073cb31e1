"""Settings: defaults and GPUCLOUD_* environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpucloud.service.settings import FALLBACK_CLUSTER, Settings, default_cluster_file


def test_defaults() -> None:
    s = Settings()
    assert (s.host, s.port, s.executor, s.policy) == ("127.0.0.1", 8080, "local", "backfill")
    assert s.database_url == f"sqlite:///{Path('data') / 'gpucloud.db'}"
    assert s.cluster_file == default_cluster_file()
    assert s.cluster_file == FALLBACK_CLUSTER or s.cluster_file.endswith("examples/clusters/tiny.yaml")


def test_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GPUCLOUD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GPUCLOUD_PORT", "9000")
    monkeypatch.setenv("GPUCLOUD_CLUSTER_FILE", "16x8:H100")
    s = Settings()
    assert s.database_url == f"sqlite:///{tmp_path / 'gpucloud.db'}" and s.port == 9000
    monkeypatch.setenv("GPUCLOUD_DATABASE_URL", "postgresql+psycopg://x@h/db")
    assert Settings().database_url == "postgresql+psycopg://x@h/db"
