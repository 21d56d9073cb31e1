"""The Typer app of the commands that run big things locally: ``server`` and ``simulate``.

The ``gpucloud`` command (:mod:`gpucloud.cli.entry`) imports it only for them; every other command is a light
one. ``python -m gpucloud.cli.main`` runs the whole ``gpucloud`` command.
"""

from __future__ import annotations

import typer

from gpucloud.cli import plan, server, simulate

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


app.command("simulate")(simulate.simulate)
app.command("server")(server.server)
app.command("plan")(plan.plan)


if __name__ == "__main__":  # pragma: no cover
    from gpucloud.cli.entry import main as run_gpucloud

    raise SystemExit(run_gpucloud())
