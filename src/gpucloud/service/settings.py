"""Server settings, read from ``GPUCLOUD_*`` environment variables (and constructor arguments)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gpucloud.model.limits import CommandLimits

_COMMAND = CommandLimits()  # the defaults

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
    #: which OS account jobs run as: server (its own), same-name, or table (see service/accounts.py)
    run_as: str = "server"
    #: with run_as=table: a YAML/JSON file mapping gpucloud user names to OS account names
    run_as_table: str = ""
    #: the Ray cluster of the ``ray`` executor ("auto": the one this host belongs to)
    ray_address: str = "auto"
    #: where the ``ray`` executor's node agents keep rank logs and exit files on each host ({node}: its name)
    ray_agent_dir: str = "/var/tmp/gpucloud-agent/{node}"
    #: bytes of each rank's stdout and stderr copied into the database (the rest stays on the rank's host)
    log_cap_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    #: the largest request body in bytes (413 beyond it, answered before the rest is read)
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: a job's command (422 naming the field beyond them): argv items, argv UTF-8 bytes in all and per item,
    #: environment variables, bytes of a variable's name and of its value, bytes of the working directory
    max_argv_items: int = Field(default=_COMMAND.argv_items, ge=1)
    max_argv_bytes: int = Field(default=_COMMAND.argv_bytes, ge=1)
    max_arg_bytes: int = Field(default=_COMMAND.arg_bytes, ge=1)
    max_env_vars: int = Field(default=_COMMAND.env_vars, ge=0)
    max_env_key_bytes: int = Field(default=_COMMAND.env_key_bytes, ge=1)
    max_env_value_bytes: int = Field(default=_COMMAND.env_value_bytes, ge=0)
    max_cwd_bytes: int = Field(default=_COMMAND.cwd_bytes, ge=0)
    #: the most tasks of one job array (a submission of ``array: "0-9999"`` creates them all at once)
    max_array_tasks: int = Field(default=_COMMAND.array_tasks, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'gpucloud.db'}"
        return self

    def command_limits(self) -> CommandLimits:
        return CommandLimits(self.max_argv_items, self.max_argv_bytes, self.max_arg_bytes, self.max_env_vars,
                             self.max_env_key_bytes, self.max_env_value_bytes, self.max_cwd_bytes,
                             self.max_array_tasks)
