"""The ``gpucloud`` command: find the module of the named command, import only that, and run it.

The commands that talk to the server are light (:mod:`gpucloud.cli.command`: argparse and the SDK's client, no
Typer, Rich or pydantic), so a ``gpucloud jobs`` or ``gpucloud submit`` costs about as much as any Python program
making that HTTP request. ``server`` and ``simulate`` run big things locally and keep their Typer app
(:mod:`gpucloud.cli.main`), imported only for them.

Adding a command: declare it in its module (see :mod:`gpucloud.cli.command`) and add its top-level word here,
one line.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib import import_module

#: Each top-level word and the module under ``gpucloud.cli`` that declares it (imported only for that word).
COMMANDS = {
    "submit": "jobs", "jobs": "jobs", "job": "jobs", "cancel": "jobs", "logs": "jobs", "queue": "jobs",
    "cluster": "cluster_map",
    "login": "account", "whoami": "account",
    "org": "admin", "project": "admin", "user": "admin", "token": "admin", "quota": "admin",
    "cluster-reload": "admin",
    "usage": "money", "budget": "money", "tariff": "money", "programme": "money",
    "reservation": "reservations", "node": "reservations",
    "service": "services",
    "admin": "recover",
    "sbatch": "sbatch", "squeue": "squeue", "scancel": "scancel", "sacct": "sacct", "sinfo": "sinfo",
}
#: The commands of the Typer app in :mod:`gpucloud.cli.main`, with their summaries for ``gpucloud --help``.
TYPER_COMMANDS = {
    "server": "Start the gpucloud server: REST API, control loop, and /metrics.",
    "simulate": "Replay a job trace on a cluster under one or more policies and compare them.",
    "plan": "Find the smallest cluster that meets a wait objective, by replaying a trace.",
}
ABOUT = "Run a GPU supercomputer as a shared AI cloud: schedule, account, and replay traces."


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gpucloud ARGV`` (default: the process's arguments) and return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    word = args[0] if args else ""
    if word in COMMANDS:
        from gpucloud.cli.command import run

        module = import_module(f"gpucloud.cli.{COMMANDS[word]}")
        return run(module.commands.children[word], f"gpucloud {word}", args[1:])
    if word in TYPER_COMMANDS:
        from gpucloud.cli.main import app

        try:
            app(args, prog_name="gpucloud")
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return 0
    if word in ("", "-h", "--help", "help"):
        sys.stdout.write(overview())
        return 0 if word else 2
    import difflib

    close = difflib.get_close_matches(word, [*COMMANDS, *TYPER_COMMANDS], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    print(f"error: no command {word!r}{hint} (see gpucloud --help)", file=sys.stderr)
    return 2


def overview() -> str:
    """``gpucloud --help``: every command with its summary."""
    rows = [(word, import_module(f"gpucloud.cli.{module}").commands.children[word].summary)
            for word, module in COMMANDS.items()]
    rows += TYPER_COMMANDS.items()
    pad = max(len(word) for word, _ in rows) + 2
    lines = ["usage: gpucloud COMMAND [ARGS]...", "", ABOUT, "", "commands:"]
    lines += [f"  {word.ljust(pad)}{summary}" for word, summary in rows]
    lines += ["", "Run gpucloud COMMAND --help for its options. Every command takes --json.", ""]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
