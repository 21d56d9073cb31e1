"""The input guard: a dependency of every ``/api/v1`` route that refuses, with a 422 naming the field, what no
part of the service can store or show: a NUL character or a lone surrogate in any path or query parameter or in
any string (or key) of a JSON body, and NaN or an infinity anywhere in a JSON body. Models need not repeat it;
only the fast submit path, which no route serves, checks its own body (see ``JobSubmit``)."""

from __future__ import annotations

import math
from typing import Any

from fastapi import Request

from gpucloud.errors import InputError
from gpucloud.model.limits import text_problem

_BODYLESS = ("GET", "HEAD", "OPTIONS")


async def check_input(request: Request) -> None:
    """Async: it needs no thread. The body is the one FastAPI reads (cached on the request)."""
    for name, value in (*request.path_params.items(), *request.query_params.multi_items()):
        if isinstance(value, str) and (problem := text_problem(value)) is not None:
            raise InputError(name, problem, value)
    if request.method in _BODYLESS or not await request.body():
        return
    try:
        document = await request.json()
    except (ValueError, RecursionError):
        return  # not JSON: the route answers that
    found = first_problem(document)
    if found is not None:
        raise InputError(*found)


def first_problem(document: Any) -> tuple[str, str, object] | None:
    """The first string, key or number of a JSON document that cannot be kept: its field path (``tariffs[0].name``,
    as the API names fields), why, and the value; None when there is none. Iterative: any depth."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem is not None:
                return path or "body", problem, value
        elif isinstance(value, float) and not math.isfinite(value):
            return path or "body", "must be a finite number", value
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = text_problem(key)
                if problem is not None:
                    return path or "body", f"a key {problem}", key
                stack.append((f"{path}.{key}" if path else key, item))
        elif isinstance(value, list):
            stack += [(f"{path}[{i}]", item) for i, item in enumerate(value)]
    return None
