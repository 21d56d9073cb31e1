"""The CLI's light command layer: commands and groups of them, declared with argparse arguments, parsed and run
with one-line errors.

A module declares its commands on a :class:`Group` (``commands = Group()``)::

    @commands.command("cancel", Arg("job_id", type=int, help="The job id."), JSON)
    def cancel(a: Namespace) -> None:
        \"\"\"Cancel a job.\"\"\"

and names its top-level words in :data:`gpucloud.cli.entry.COMMANDS`. The docstring is the help (its first line
the summary in lists). Only the standard library is imported here, so a command costs what it uses and no more.
Every error is one line on stderr and exit code 2: a usage error names the option, a
:class:`~gpucloud.errors.GpucloudError` (API errors included) or :class:`OSError` says what went wrong; Ctrl-C
is exit code 130. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from gpucloud.errors import GpucloudError

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from typing import Any, NoReturn

#: The exit code of a command that stopped on bad input or a refused request.
EXIT_INPUT_ERROR = 2
#: The exit code after Ctrl-C.
EXIT_INTERRUPTED = 130
#: The exit code when stdout's reader went away, as for a process ended by SIGPIPE.
EXIT_BROKEN_PIPE = 141

Namespace = argparse.Namespace
Run = Callable[[Namespace], None]


class Arg:
    """One argument: what ``ArgumentParser.add_argument`` takes, kept until a parser is built."""

    __slots__ = ("flags", "options")

    def __init__(self, *flags: str, **options: Any) -> None:
        self.flags = flags
        self.options = options


#: The ``--json`` option every command takes.
JSON = Arg("--json", dest="as_json", action="store_true", help="Print the server's JSON instead of a table.")


class Command:
    """A command: its name, its arguments, and the function that runs it with the parsed arguments. A ``raw``
    command parses its own words (``a.words``: everything after the command, e.g. Slurm's options for
    ``gpucloud sbatch``); its ``args`` only document them in ``--help``."""

    def __init__(self, name: str, run: Run, args: Sequence[Arg], epilog: str = "", raw: bool = False) -> None:
        self.name = name
        self.run = run
        self.args = args
        self.epilog = epilog
        self.raw = raw
        self.help = dedent(run.__doc__ or "")

    @property
    def summary(self) -> str:
        return summary_of(self.help)

    def options(self) -> dict[str, Any]:
        """What its parser is made with."""
        return {"description": self.help, "epilog": self.epilog or None}

    def build(self, parser: argparse.ArgumentParser) -> None:
        for arg in self.args:
            parser.add_argument(*arg.flags, **arg.options)
        if self.raw:
            parser.add_argument("words", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        parser.set_defaults(_run=self.run)


class Group:
    """Commands under one word (``gpucloud org create``); a module's nameless group holds its top-level words."""

    def __init__(self, name: str = "", help: str = "") -> None:
        self.name = name
        self.help = help
        self.children: dict[str, Command | Group] = {}
        #: what the group's word alone runs (``gpucloud cluster``), if anything
        self.fallback: Command | None = None

    @property
    def summary(self) -> str:
        return summary_of(self.help)

    def command(self, name: str, *args: Arg, epilog: str = "", raw: bool = False) -> Callable[[Run], Run]:
        """Declare the decorated function as the command ``name`` with these arguments (``raw``: see
        :class:`Command`)."""

        def add(run: Run) -> Run:
            self.children[name] = Command(name, run, args, epilog, raw)
            return run

        return add

    def group(self, name: str, help: str) -> Group:
        """A group of commands under ``name``."""
        group = self.children[name] = Group(name, help)
        return group

    def default(self, *args: Arg) -> Callable[[Run], Run]:
        """Declare the decorated function as what the group's word runs without a command after it (its
        arguments are the group's own: ``gpucloud cluster --per-rack``)."""

        def add(run: Run) -> Run:
            self.fallback = Command(self.name, run, args)
            return run

        return add

    def options(self) -> dict[str, Any]:
        """What its parser is made with: the usage and, after the options, its commands with their summaries."""
        pad = max((len(name) for name in self.children), default=0) + 2
        listing = "\n".join(f"  {name.ljust(pad)}{child.summary}" for name, child in self.children.items())
        options: dict[str, Any] = {"description": self.fallback.help if self.fallback else self.help,
                                   "epilog": f"commands:\n{listing}" if listing else None}
        if self.fallback is None:
            options["usage"] = "%(prog)s COMMAND [ARGS]..."
        return options

    def build(self, parser: argparse.ArgumentParser) -> None:
        parser.set_defaults(_help=parser.format_help)
        if self.fallback is not None:
            self.fallback.build(parser)
        if not self.children:
            return
        subs = parser.add_subparsers(metavar="COMMAND", help=argparse.SUPPRESS, parser_class=Parser)
        for name, child in self.children.items():
            child.build(subs.add_parser(name, prog=f"{parser.prog} {name}", help=child.summary,
                                        **_parser_options(child)))


class UsageError(GpucloudError):
    """A command line that does not parse; the message names the option."""


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error raised as one line instead of printed with the usage and exited."""

    def error(self, message: str) -> NoReturn:
        message = message.removeprefix("argument ")
        raise UsageError(f"{message} (see {self.prog} --help)")


class Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's help formatter, sized once per process: argparse makes one for every argument it adds (to check
    it) and each asks the terminal for its size through :mod:`shutil`, which costs more than the parsing."""

    width: int | None = None

    def __init__(self, prog: str) -> None:
        if Formatter.width is None:
            try:
                columns = int(os.environ.get("COLUMNS") or os.get_terminal_size(1).columns)
            except (ValueError, OSError):
                columns = 80
            Formatter.width = max(columns - 2, 40)
        super().__init__(prog, width=Formatter.width)


def _parser_options(node: Command | Group) -> dict[str, Any]:
    return {**node.options(), "formatter_class": Formatter, "allow_abbrev": False}


def summary_of(help: str) -> str:
    """The first paragraph of ``help``, on one line."""
    return help.split("\n\n", 1)[0].replace("\n", " ")


def dedent(doc: str) -> str:
    """A docstring without the indentation of its second and later lines."""
    lines = doc.strip().splitlines()
    rest = [line for line in lines[1:] if line.strip()]
    margin = min((len(line) - len(line.lstrip()) for line in rest), default=0)
    return "\n".join([lines[0].strip() if lines else "", *(line[margin:] for line in lines[1:])]).strip()


def parse(node: Command | Group, prog: str, argv: Sequence[str]) -> Namespace:
    """Parse ``argv`` for ``node`` (``prog`` is how it was called, e.g. ``gpucloud org``)."""
    parser = Parser(prog=prog, **_parser_options(node))
    node.build(parser)
    if isinstance(node, Command) and node.raw and not wants_help(argv):
        argv = ["--", *argv]  # every word is the command's own (a.words starts with this "--")
    return parser.parse_args(list(argv))


def wants_help(argv: Sequence[str]) -> bool:
    """Whether ``-h`` or ``--help`` comes before the first word that is not an option."""
    for word in argv:
        if word in ("-h", "--help"):
            return True
        if not word.startswith("-"):
            return False
    return False


def run(node: Command | Group, prog: str, argv: Sequence[str]) -> int:
    """Parse and run; the exit code (0, 2 on user errors with one line on stderr, 130 after Ctrl-C)."""
    try:
        args = parse(node, prog, argv)
        if not hasattr(args, "_run"):  # a group without its command: show what it has
            sys.stdout.write(args._help())
            return EXIT_INPUT_ERROR
        try:
            args._run(args)
        except SystemExit as exc:  # a command's own exit status (sbatch --wait: the job's; scancel: 1)
            return exc.code if isinstance(exc.code, int) else EXIT_INPUT_ERROR
    except BrokenPipeError:  # the reader went away (``gpucloud jobs | head``): stop quietly, as if by SIGPIPE
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except (GpucloudError, OSError) as exc:
        report(exc)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return 0


# --- one-line errors -----------------------------------------------------------------------------------------


def error_line(exc: BaseException) -> str:
    """The one line shown for ``exc``: ``error: ...`` (newlines folded into ``; ``)."""
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        text = f"{where}: {exc.strerror}" if where else exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    return "error: " + "; ".join(part.strip() for part in text.splitlines() if part.strip())


def report(exc: BaseException) -> None:
    """Print :func:`error_line` of ``exc`` on stderr (bold red on a terminal)."""
    line = error_line(exc)
    if colour_on(sys.stderr):
        line = f"\x1b[1;31m{line}\x1b[0m"
    print(line, file=sys.stderr, flush=True)


def colour_on(stream: Any) -> bool:
    """Whether to colour what goes to ``stream``: a terminal, and ``NO_COLOR`` not set."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


# --- argument types ------------------------------------------------------------------------------------------


def int_range(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from ``lo`` (to ``hi``)."""
    want = f"a whole number from {lo} to {hi}" if hi is not None else f"a whole number, at least {lo}"

    def parse_int(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be {want} (got {text!r})")
        return value

    return parse_int


def float_min(lo: float) -> Callable[[str], float]:
    """An argparse type: a number of at least ``lo``."""

    def parse_float(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or not value >= lo:
            raise argparse.ArgumentTypeError(f"must be a number, at least {lo:g} (got {text!r})")
        return value

    return parse_float


def number(text: str) -> float:
    """An argparse type: any number."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number (got {text!r})") from None


def whole(text: str) -> int:
    """An argparse type: any whole number."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number (got {text!r})") from None
