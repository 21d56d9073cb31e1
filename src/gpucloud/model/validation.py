"""Validating a YAML document against a pydantic model, with one clear error naming the field and value."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from gpucloud.errors import InputError

M = TypeVar("M", bound=BaseModel)


def field_path(loc: tuple[int | str, ...]) -> str:
    """``('blocks', 0, 'racks', 1, 'gpus')`` → ``blocks[0].racks[1].gpus``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "document"


def input_error(exc: ValidationError, where: str) -> InputError:
    """The first error of ``exc`` as an :class:`InputError` (the value is left out when it is a whole
    mapping or list)."""
    err = exc.errors()[0]
    value = err.get("input") if err["type"] != "missing" else None
    message = str(err["msg"]).removeprefix("Value error, ")
    return InputError(field_path(tuple(err["loc"])), message,
                      None if isinstance(value, dict | list) else value, where=where)


def validate_document(model: type[M], data: Any, what: str, expected: str, where: str) -> M:
    """Validate a loaded YAML document: ``what`` names it in errors, ``expected`` says what it should hold."""
    if data is None:
        raise InputError(what, f"the file is empty; expected {expected}", where=where)
    if not isinstance(data, dict):
        raise InputError(what, f"must be {expected}", type(data).__name__, where=where)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise input_error(exc, where) from None


def read_yaml(path: str | Path, what: str) -> Any:
    """The parsed YAML document in ``path``; an unreadable file or bad YAML (with its line and column) is an
    :class:`InputError` about ``what``."""
    p = Path(path)
    try:
        raw = p.read_text()
    except OSError as exc:
        raise InputError(what, f"cannot read file: {exc.strerror}", str(p)) from None
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        pos = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(what, f"not valid YAML{pos}", where=str(p)) from None
