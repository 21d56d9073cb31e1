"""The ``gpucloud`` command: a Typer app that each command module adds itself to with one line below."""

from __future__ import annotations

import typer

from gpucloud.cli import admin, cluster_map, jobs, money, reservations, server, simulate

app = typer.Typer(
    name="gpucloud",
    help="Run a GPU supercomputer as a shared AI cloud: schedule, account, and replay traces.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main() -> None:
    """gpucloud: the control plane of a shared GPU cloud."""


# -- commands: one line per module --------------------------------------------------------------------------
app.command("simulate")(simulate.simulate)
app.command("server")(server.server)
jobs.register(app)
cluster_map.register(app)
admin.register(app)
money.register(app)
reservations.register(app)


if __name__ == "__main__":  # pragma: no cover
    app()
