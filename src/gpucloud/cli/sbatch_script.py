"""A batch script as sbatch reads it: the interpreter line, then the ``#SBATCH`` (and gpucloud's ``#GPUCLOUD``)
directives up to the first command, each with its line number.

sbatch's rules, kept: the first line must be ``#!`` and an interpreter; a directive starts its line with exactly
``#SBATCH``; its words are split as a shell splits them and a ``#`` starts a comment; reading stops at the first
line that is neither blank nor a comment, so a directive after it has no effect. gpucloud says what sbatch would
not: a directive after the first command, an indented one and a ``#sbatch`` in the wrong case are reported (with
their line) instead of being silently ignored. Standard library only.
"""

from __future__ import annotations

import shlex

from gpucloud.cli.sbatch_options import Given, parse_words
from gpucloud.errors import InputError

SBATCH = "#SBATCH"
GPUCLOUD = "#GPUCLOUD"
#: The largest script accepted (bytes): it travels inside the job's command, whose items the server bounds.
MAX_SCRIPT_BYTES = 24 * 1024


class Script:
    """A read script: ``text``, its ``name`` (for messages), the options of its directives in order, and
    ``warnings`` (``where: what``) about lines that look like directives but are not read."""

    __slots__ = ("name", "options", "text", "warnings")

    def __init__(self, name: str, text: str, options: list[Given], warnings: list[str]) -> None:
        self.name = name
        self.text = text
        self.options = options
        self.warnings = warnings


def _looks_like_directive(line: str) -> bool:
    """``# SBATCH``, ``#sbatch`` or an indented ``#SBATCH``: meant as a directive, but sbatch reads none of them
    (``##SBATCH``, the usual way to switch a directive off, is left alone)."""
    text = line.lstrip()
    if not text.startswith("#") or text.startswith("##"):
        return False
    word = text[1:].split(maxsplit=1)
    return bool(word) and word[0].upper() in ("SBATCH", "GPUCLOUD")


def read_script(text: str, name: str) -> Script:
    """Read ``text`` (the script called ``name``); :class:`InputError` at ``name:line`` for what sbatch would
    refuse (no interpreter line, a directive it cannot split, an unknown option)."""
    if "\x00" in text:
        raise InputError("script", "is not a text file (it holds NUL bytes)", where=name)
    size = len(text.encode("utf-8", "surrogateescape"))
    if size > MAX_SCRIPT_BYTES:
        raise InputError("script", f"is {size:,} bytes; gpucloud takes batch scripts of at most "
                                   f"{MAX_SCRIPT_BYTES // 1024} KiB", where=name)
    lines = text.splitlines()
    if not lines or not lines[0].startswith("#!") or not lines[0][2:].strip():
        raise InputError("script", "this does not look like a batch script: the first line must start with #! "
                                   "followed by the path to an interpreter, for instance #!/bin/bash",
                         where=f"{name}:1")
    options: list[Given] = []
    warnings: list[str] = []
    reading = True
    for number, line in enumerate(lines[1:], start=2):
        where = f"{name}:{number}"
        stripped = line.strip()
        prefix = SBATCH if line.startswith(SBATCH) else GPUCLOUD if line.startswith(GPUCLOUD) else None
        if prefix is not None and line[len(prefix):len(prefix) + 1] not in ("", " ", "\t"):
            prefix = None
        if prefix is None:
            if stripped and not stripped.startswith("#"):
                reading = False
            elif _looks_like_directive(line) and reading:
                shown = stripped.split(" -")[0].strip()
                warnings.append(f"{where}: {shown!r} is not a directive and has no effect (a directive starts its "
                                f"line with exactly {SBATCH} or {GPUCLOUD})")
            continue
        if not reading:
            warnings.append(f"{where}: {prefix} after the first command has no effect (sbatch reads directives only "
                            "up to the first command)")
            continue
        try:
            words = shlex.split(line[len(prefix):], comments=True)
        except ValueError as exc:
            raise InputError(prefix, f"cannot split this line: {exc}", where=where) from None
        options += parse_words(words, where, gpucloud=prefix == GPUCLOUD)[0]
    return Script(name, text, options, warnings)
