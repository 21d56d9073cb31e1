"""``gpucloud server``: start the API server and the control loop (SQLite, local executor and the tiny example
cluster by default). Every option can also be set with a ``GPUCLOUD_*`` environment variable."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from gpucloud.cli.errors import handle_errors
from gpucloud.errors import InputError


def _settings(**given: Any) -> Any:
    from gpucloud.service.settings import Settings

    try:
        return Settings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "settings"
        raise InputError(field, err["msg"]) from None


@handle_errors
def server(
    database_url: Annotated[str | None, typer.Option(
        "--database-url", envvar="GPUCLOUD_DATABASE_URL", show_envvar=True,
        help="sqlite:///path.db (default: DATA_DIR/gpucloud.db) or postgresql+psycopg://user@host/db")] = None,
    cluster: Annotated[str | None, typer.Option(
        "--cluster", envvar="GPUCLOUD_CLUSTER_FILE", show_envvar=True,
        help="cluster YAML file or an inline spec like 2x8:H100 (default: the tiny example cluster)")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", envvar="GPUCLOUD_DATA_DIR", show_envvar=True,
        help="where the database file and job logs live (default: ./data)")] = None,
    host: Annotated[str | None, typer.Option("--host", envvar="GPUCLOUD_HOST", show_envvar=True,
                                             help="address to listen on (default: 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option("--port", envvar="GPUCLOUD_PORT", show_envvar=True,
                                             help="port to listen on (default: 8080)")] = None,
    executor: Annotated[str | None, typer.Option(
        "--executor", envvar="GPUCLOUD_EXECUTOR", show_envvar=True,
        help="how jobs run: local (default: on this machine), ray (on the nodes of a Ray cluster), or noop")] = None,
    ray_address: Annotated[str | None, typer.Option(
        "--ray-address", envvar="GPUCLOUD_RAY_ADDRESS", show_envvar=True,
        help="with --executor ray: the Ray cluster's address (default: auto: the one this host is in)")] = None,
    ray_agent_dir: Annotated[str | None, typer.Option(
        "--ray-agent-dir", envvar="GPUCLOUD_RAY_AGENT_DIR", show_envvar=True,
        help="with --executor ray: where each host keeps rank logs and exit files ({node}: the node's name)")] = None,
    run_as: Annotated[str | None, typer.Option(
        "--run-as", envvar="GPUCLOUD_RUN_AS", show_envvar=True,
        help="the OS account jobs run as: server (default: this server's own), same-name (the gpucloud user's "
             "name), or table (--run-as-table)")] = None,
    run_as_table: Annotated[str | None, typer.Option(
        "--run-as-table", envvar="GPUCLOUD_RUN_AS_TABLE", show_envvar=True,
        help="with --run-as table: a YAML/JSON file mapping gpucloud user names to OS account names")] = None,
    policy: Annotated[str | None, typer.Option(
        "--policy", envvar="GPUCLOUD_POLICY", show_envvar=True,
        help="queue policy: backfill (default), fifo, fairshare, las, srtf")] = None,
    tick: Annotated[float, typer.Option("--tick", envvar="GPUCLOUD_TICK", show_envvar=True, min=0.01,
                                        help="seconds between control loop ticks when nothing wakes it")] = 0.5,
    workers: Annotated[int | None, typer.Option(
        "--workers", envvar="GPUCLOUD_WORKERS", show_envvar=True, min=1,
        help="API processes (default: 1 on up to 2 CPU cores, else half the cores, at most 8); more than 1 "
             "adds one control loop process under a supervisor; 1 runs everything in one process")] = None,
    tariff: Annotated[str | None, typer.Option(
        "--tariff", envvar="GPUCLOUD_TARIFF_FILE", show_envvar=True,
        help="tariff YAML file: its versions not stored yet are stored at start (see docs/money.md)")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log the control loop's actions")] = False,
) -> None:
    """Start the gpucloud server: REST API, control loop, and /metrics."""
    from gpucloud.service.server import serve
    from gpucloud.service.workers import default_workers

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    settings = _settings(database_url=database_url, cluster_file=cluster, data_dir=data_dir, host=host, port=port,
                         executor=executor, policy=policy, tariff_file=tariff, ray_address=ray_address,
                         ray_agent_dir=ray_agent_dir, run_as=run_as, run_as_table=run_as_table)
    status = serve(settings, interval_s=tick, say=lambda line: typer.echo(line),
                   workers=workers if workers is not None else default_workers(), verbose=verbose)
    if status:
        raise typer.Exit(status)
