"""Errors shown to users: each names the field (or file, line, column) and the bad value."""

from __future__ import annotations


class GpucloudError(Exception):
    """Base class for errors that are reported to the user as one clear line."""


class InputError(GpucloudError, ValueError):
    """Bad input: names where it is (``field``) and what was wrong with it."""

    def __init__(self, field: str, message: str, value: object = None, *, where: str = "") -> None:
        self.field = field
        self.value = value
        self.where = where
        self.reason = message
        shown = "" if value is None else f" (got {value!r})"
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{field}: {message}{shown}")


class UnknownNameError(GpucloudError, KeyError):
    """An unknown name in a registry, with a "did you mean" hint."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        import difflib

        self.kind = kind
        self.name = name
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        self.message = f"unknown {kind} {name!r}{hint} (known: {', '.join(sorted(known))})"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message
