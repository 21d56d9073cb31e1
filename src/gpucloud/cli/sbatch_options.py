"""sbatch's options as gpucloud reads them, from a script's ``#SBATCH`` lines, ``SBATCH_*`` environment variables
and the command line (later sources win, as in Slurm: script < environment < command line), each kept with where
it came from (``train.sh:4``, ``$SBATCH_ACCOUNT``, ``command line``) so that every message can point at it.

Every option sbatch knows falls in one of four kinds: translated into the job (:data:`TRANSLATED`), accepted but
not enforced (:data:`NOT_ENFORCED`: a note says so), not supported (:data:`UNSUPPORTED`: an error, nothing is
submitted), or unknown (an error with a suggestion). ``#GPUCLOUD`` lines take gpucloud's own options
(:data:`GPUCLOUD`) for what Slurm lacks. Standard library only.
"""

from __future__ import annotations

from gpucloud.errors import InputError

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

#: Options gpucloud turns into the job: name → takes a value ("yes", "no", or "optional": only as ``--opt=v``).
TRANSLATED = {
    "job-name": "yes", "nodes": "yes", "ntasks": "yes", "ntasks-per-node": "yes", "cpus-per-task": "yes",
    "gres": "yes", "gpus": "yes", "gpus-per-node": "yes", "gpus-per-task": "yes", "time": "yes", "account": "yes",
    "partition": "yes", "qos": "yes", "output": "yes", "error": "yes", "array": "yes", "dependency": "yes",
    "chdir": "yes", "export": "yes", "signal": "yes", "requeue": "no", "no-requeue": "no", "reservation": "yes",
    "open-mode": "yes", "wrap": "yes", "wait": "no", "parsable": "no", "test-only": "no", "quiet": "no",
    "verbose": "no", "help": "no", "usage": "no", "json": "no",
}
#: Options accepted and reported with a note: gpucloud schedules GPUs, not CPUs, memory or mail.
NOT_ENFORCED = {
    "mail-type": "yes", "mail-user": "yes", "mem": "yes", "mem-per-cpu": "yes", "mem-per-gpu": "yes",
    "comment": "yes", "nice": "optional", "gpu-bind": "yes", "gpu-freq": "yes", "cpu-freq": "yes", "hint": "yes",
    "threads-per-core": "yes", "cores-per-socket": "yes", "sockets-per-node": "yes", "ntasks-per-socket": "yes",
    "ntasks-per-core": "yes", "ntasks-per-gpu": "yes", "cpus-per-gpu": "yes", "distribution": "yes",
    "time-min": "yes", "tmp": "yes", "mincpus": "yes", "propagate": "optional", "get-user-env": "optional",
    "kill-on-invalid-dep": "yes", "profile": "yes", "acctg-freq": "yes", "switches": "yes", "network": "yes",
    "wckey": "yes", "exclusive": "optional", "oversubscribe": "no", "no-kill": "optional", "contiguous": "no",
    "overcommit": "no", "spread-job": "no", "use-min-nodes": "no", "reboot": "no", "mem-bind": "yes",
    "cpu-bind": "yes", "extra-node-info": "yes", "ignore-pbs": "no", "priority": "yes", "kill-command": "optional",
}
#: Options whose meaning gpucloud cannot honour: the submission stops with the reason.
UNSUPPORTED = {
    "begin": "jobs are eligible as soon as they are submitted (use --dependency to wait for other jobs)",
    "deadline": "jobs have no deadline", "constraint": "nodes have no features; ask for a GPU type (--gres=gpu:TYPE:N)",
    "prefer": "nodes have no features", "nodelist": "the scheduler chooses the nodes",
    "exclude": "the scheduler chooses the nodes", "nodefile": "the scheduler chooses the nodes",
    "clusters": "one server is one cluster (set GPUCLOUD_URL for another)", "hold": "jobs cannot be held",
    "immediate": "jobs wait in the queue", "licenses": "there are no licenses to ask for",
    "uid": "jobs run as their submitter", "gid": "jobs run as their submitter",
    "export-file": "use --export", "input": "a batch job's stdin is /dev/null", "container": "no containers",
    "batch": "nodes have no features", "core-spec": "CPUs are not scheduled", "thread-spec": "CPUs are not scheduled",
    "burst-buffer": "no burst buffers", "bb": "no burst buffers", "bbf": "no burst buffers",
    "cluster-constraint": "one server is one cluster", "mcs-label": "no MCS labels", "x11": "no X11 forwarding",
    "het-group": "no heterogeneous jobs", "array-inx": "use --array", "delay-boot": "nodes are not rebooted",
    "power": "no power management",
}
#: Single-letter options and the long option each stands for.
SHORT = {
    "J": "job-name", "N": "nodes", "n": "ntasks", "c": "cpus-per-task", "G": "gpus", "t": "time", "A": "account",
    "p": "partition", "q": "qos", "o": "output", "e": "error", "a": "array", "d": "dependency", "D": "chdir",
    "W": "wait", "H": "hold", "C": "constraint", "w": "nodelist", "x": "exclude", "k": "no-kill",
    "s": "oversubscribe", "m": "distribution", "B": "extra-node-info", "L": "licenses", "M": "clusters",
    "i": "input", "Q": "quiet", "v": "verbose", "h": "help", "F": "nodefile", "b": "begin", "I": "immediate",
    "S": "core-spec", "O": "overcommit",
}
#: ``#GPUCLOUD`` options (gpucloud's own, as ``gpucloud submit`` names them) → takes a value.
GPUCLOUD = {"service-class": "yes", "reservation": "yes", "preemptible": "no", "no-preemptible": "no",
            "priority": "yes", "grace": "yes", "gpu-type": "yes", "project": "yes", "org": "yes"}
#: ``#GPUCLOUD`` options stored under another name (one name per meaning).
GPUCLOUD_NAMES = {"priority": "priority-class", "project": "account"}
#: Flags that undo each other: the later one wins.
OPPOSITES = {"requeue": "no-requeue", "no-requeue": "requeue", "preemptible": "no-preemptible",
             "no-preemptible": "preemptible"}
#: ``SBATCH_*`` environment variables sbatch reads, and the option each sets.
ENVIRONMENT = {
    "SBATCH_ACCOUNT": "account", "SBATCH_ARRAY_INX": "array", "SBATCH_EXPORT": "export", "SBATCH_GRES": "gres",
    "SBATCH_GPUS": "gpus", "SBATCH_GPUS_PER_NODE": "gpus-per-node", "SBATCH_GPUS_PER_TASK": "gpus-per-task",
    "SBATCH_JOB_NAME": "job-name", "SBATCH_PARTITION": "partition", "SBATCH_QOS": "qos",
    "SBATCH_RESERVATION": "reservation", "SBATCH_SIGNAL": "signal", "SBATCH_TIMELIMIT": "time",
    "SBATCH_OPEN_MODE": "open-mode", "SBATCH_REQUEUE": "requeue", "SBATCH_NO_REQUEUE": "no-requeue",
    "SBATCH_WAIT": "wait",
}


class Given:
    """One option as given: its name (long form), its value (None for a flag) and where (``train.sh:4``)."""

    __slots__ = ("name", "origin", "value", "written")

    def __init__(self, name: str, value: str | None, origin: str, written: str) -> None:
        self.name = name
        self.value = value
        self.origin = origin
        #: as the user wrote it (``-N 2``), for messages
        self.written = written

    def __repr__(self) -> str:
        return f"Given({self.name!r}, {self.value!r}, {self.origin!r})"

    def error(self, message: str) -> InputError:
        """An error pointing at this option: ``train.sh:4: --gres=gpu:x: message``."""
        return InputError(self.written, message, where=self.origin)


def _takes(name: str, table: dict[str, str]) -> str | None:
    if name in table:
        return table[name]
    if name in NOT_ENFORCED:
        return NOT_ENFORCED[name]
    if name in UNSUPPORTED:
        return "optional" if name in ("hold", "immediate", "x11") else "yes"
    return None


def _unknown(word: str, origin: str, table: dict[str, str]) -> InputError:
    import difflib

    known = [*table, *NOT_ENFORCED, *UNSUPPORTED] if table is TRANSLATED else list(table)
    close = difflib.get_close_matches(word.lstrip("-").split("=")[0], known, n=1)
    hint = f"; did you mean --{close[0]}?" if close else ""
    return InputError(word, f"unrecognized option{hint}", where=origin)


def parse_words(words: Sequence[str], origin: str, *, gpucloud: bool = False,
                stop_at_operand: bool = False) -> tuple[list[Given], int]:
    """The options among ``words`` (``--opt=v``, ``--opt v``, ``-N2``, ``-N 2``, ``-W``); and the index of the first
    word that is not an option (``len(words)`` when all are). ``gpucloud``: the ``#GPUCLOUD`` options.
    ``stop_at_operand``: stop there (the command line: the script's name and its arguments follow); otherwise any
    such word is an error (a directive line holds options only)."""
    table = GPUCLOUD if gpucloud else TRANSLATED
    out: list[Given] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--" and stop_at_operand:
            return out, i + 1
        if not word.startswith("-") or word == "-":
            if stop_at_operand:
                return out, i
            raise InputError(word, "expected an option (directive lines hold options only)", where=origin)
        if word.startswith("--"):
            name, eq, value = word[2:].partition("=")
        elif not gpucloud and word[1:2] in SHORT:
            name, value = SHORT[word[1]], word[2:]
            eq = "=" if value else ""
        else:
            raise _unknown(word, origin, table)
        takes = _takes(name, table)
        if takes is None:
            raise _unknown(word, origin, table)
        written = word
        if takes == "yes" and not eq:
            if i + 1 >= len(words):
                raise InputError(word, "needs a value", where=origin)
            i += 1
            value = words[i]
            written = f"{word} {value}"
        elif takes == "no" and eq:
            raise InputError(word, "takes no value", where=origin)
        if gpucloud:
            name = GPUCLOUD_NAMES.get(name, name)
        out.append(Given(name, value if eq or takes == "yes" else None, origin, written))
        i += 1
    return out, len(words)


def from_environment(env: dict[str, str]) -> list[Given]:
    """The options that ``SBATCH_*`` variables set (a flag's variable set to anything turns it on)."""
    out = []
    for var, name in ENVIRONMENT.items():
        if var in env:
            flag = TRANSLATED[name] == "no"
            out.append(Given(name, None if flag else env[var], f"${var}", f"--{name}" if flag else
                             f"--{name}={env[var]}"))
    return out


class Options:
    """The options that hold after every source was read: the last one given of each name wins."""

    __slots__ = ("given",)

    def __init__(self, sources: Iterable[Given]) -> None:
        self.given: dict[str, Given] = {}
        for g in sources:
            self.given.pop(OPPOSITES.get(g.name, ""), None)
            self.given[g.name] = g

    def get(self, name: str) -> Given | None:
        return self.given.get(name)

    def value(self, name: str) -> str | None:
        g = self.given.get(name)
        return None if g is None else g.value

    def has(self, name: str) -> bool:
        return name in self.given
