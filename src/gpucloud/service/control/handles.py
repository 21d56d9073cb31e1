"""Handles as stored in ``jobs.handle``: JSON objects with the executor's name, the job id and the data."""

from __future__ import annotations

from typing import Any

from gpucloud.service.executors.base import Handle


def handle_to_json(handle: Handle) -> dict[str, Any]:
    return {"executor": handle.executor, "job_id": handle.job_id, "data": dict(handle.data)}


def handle_from_json(data: Any) -> Handle | None:
    """The handle stored in ``jobs.handle``; ``None`` if absent or malformed."""
    if not isinstance(data, dict):
        return None
    try:
        raw = data.get("data") or {}
        values = {str(k): v for k, v in raw.items() if isinstance(v, str | int | float)}
        return Handle(str(data["executor"]), str(data["job_id"]), values)
    except (KeyError, AttributeError, TypeError):
        return None
