"""Server settings, read from ``GPUCLOUD_*`` environment variables (and constructor arguments)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Used when no cluster file is configured and the example file cannot be found (e.g. an installed wheel).
FALLBACK_CLUSTER = "2x8:H100"


def default_cluster_file() -> str:
    """The tiny example cluster: shipped inside the package, or in the source tree's ``examples/``."""
    package = Path(__file__).resolve().parents[1]  # src/gpucloud
    for candidate in (
        package / "examples" / "clusters" / "tiny.yaml",
        package.parents[1] / "examples" / "clusters" / "tiny.yaml",
    ):
        if candidate.is_file():
            return str(candidate)
    return FALLBACK_CLUSTER


class Settings(BaseSettings):
    """Everything the server needs to start. ``database_url`` defaults to a SQLite file in ``data_dir``."""

    model_config = SettingsConfigDict(env_prefix="GPUCLOUD_", extra="ignore")

    data_dir: Path = Path("./data")
    database_url: str = ""
    cluster_file: str = Field(default_factory=default_cluster_file)
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    executor: str = "local"
    policy: str = "backfill"
    #: a tariff YAML file whose versions not stored yet are stored at start ("": none)
    tariff_file: str = ""
    #: reservations cancelled at least this long before their start are refunded in full
    reservation_cancel_cutoff_s: float = Field(default=24 * 3600.0, ge=0)
    #: reservation requests of at most this many nodes are approved at once when the nodes are free (0: never)
    reservation_auto_approve_nodes: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'gpucloud.db'}"
        return self
