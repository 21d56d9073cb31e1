"""Exception handlers: every error body is JSON; every 422 names the field.

422: ``{"detail": [{"field": "walltime", "message": "...", "value": ...}]}`` for both pydantic validation
errors and :class:`gpucloud.errors.InputError`. 401/403/404/409: ``{"detail": "one clear line"}``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.orm.exc import StaleDataError

from gpucloud.errors import InputError
from gpucloud.service.api.schemas import FieldError
from gpucloud.service.auth import Forbidden, Unauthorized
from gpucloud.service.store.errors import Conflict, NotFound
from gpucloud.service.transitions import IllegalTransition

_SOURCES = ("body", "query", "path", "header", "cookie")
#: The most characters of a bad value that an error echoes back.
MAX_SHOWN = 200


def _field(loc: tuple[int | str, ...]) -> str:
    parts = list(loc)
    if parts and parts[0] in _SOURCES:
        parts = parts[1:]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return _text(out or (str(loc[0]) if loc else "body"))


def _text(text: str) -> str:
    """``text`` that UTF-8 can carry (a lone surrogate, e.g. from a JSON key, becomes ``\\udXXX``)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def shown(value: object) -> object:
    """A bad value as an error echoes it: as it came when JSON can carry it, else its ``repr`` (NaN, text with a
    lone surrogate, ...); cut to :data:`MAX_SHOWN` characters."""
    try:
        encoded = jsonable_encoder(value)
        text = json.dumps(encoded, ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")
    except (TypeError, ValueError):  # UnicodeEncodeError is a ValueError
        return _cut(repr(value))
    if len(text) <= MAX_SHOWN:
        return encoded
    return _cut(encoded if isinstance(encoded, str) else text)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "…"


def _value(err: Any) -> object:
    if err.get("type") == "missing":
        return None
    value = err.get("input")
    if len(tuple(err.get("loc", ()))) <= 1 and isinstance(value, dict):
        return None  # the whole body: do not echo it back
    return shown(value)


def _message(err: Any) -> str:
    msg = str(err.get("msg", "invalid"))
    return _text(msg.removeprefix("Value error, "))


def field_errors(exc: RequestValidationError) -> list[FieldError]:
    return [FieldError(field=_field(tuple(e.get("loc", ()))), message=_message(e), value=_value(e))
            for e in exc.errors()]


def _unprocessable(errors: list[FieldError]) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": [jsonable_encoder(e) for e in errors]})


async def _on_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _unprocessable(field_errors(exc))


async def _on_input(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InputError)
    return _unprocessable([FieldError(field=_text(exc.field), message=_text(exc.reason), value=shown(exc.value))])


def _simple(status: int, headers: dict[str, str] | None = None) -> Any:
    async def handler(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=status, content={"detail": _text(str(exc))}, headers=headers)

    return handler


async def _on_stale(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=409, content={"detail": "the job changed at the same time; try again"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(InputError, _on_input)
    app.add_exception_handler(Unauthorized, _simple(401, {"WWW-Authenticate": "Bearer"}))
    app.add_exception_handler(Forbidden, _simple(403))
    app.add_exception_handler(NotFound, _simple(404))
    app.add_exception_handler(Conflict, _simple(409))
    app.add_exception_handler(IllegalTransition, _simple(409))
    app.add_exception_handler(StaleDataError, _on_stale)
