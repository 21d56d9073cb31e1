"""What the sync and async clients send, built once for both: the submit body, the job-list and log queries,
and when a job or a log is finished. No I/O here."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from gpucloud.errors import InputError

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from typing import Any

#: The biggest page the server hands out.
MAX_PAGE = 1000


def new_idempotency_key(prefix: str = "sdk") -> str:
    """A random key: a submit retried after a lost answer returns the first job instead of making a second."""
    return f"{prefix}-{os.urandom(16).hex()}"


def submit_body(argv: Sequence[str], *, gpus: int | None = None, nodes: int | None = None,
                gpus_per_node: int | None = None, preemptible: bool | None = None,
                env: Mapping[str, str] | None = None, cwd: str | None = None, idempotency_key: str | None = None,
                **fields: Any) -> dict[str, Any]:
    """The ``POST /jobs`` body: the gang shape worked out from ``gpus`` / ``nodes`` / ``gpus_per_node``, ``cwd``
    the current directory unless given (``""``: the executor's default), a random idempotency key unless given,
    and the other fields that are not None."""
    if not argv:
        raise InputError("argv", "give the command to run, e.g. ['python', 'train.py']")
    body: dict[str, Any] = {"argv": list(argv)}
    if gpus_per_node is not None:
        if nodes is None:
            raise InputError("gpus_per_node", "needs nodes", gpus_per_node)
        total = nodes * gpus_per_node
        if gpus is not None and gpus != total:
            raise InputError("gpus", f"disagrees with nodes × gpus_per_node = {total}", gpus)
        gpus = total
    if gpus is not None:
        body["num_gpus"] = gpus
    if nodes is not None:
        body["nodes"] = nodes
    if preemptible is not None:
        body["preemptible"] = preemptible
    if env:
        body["env"] = dict(env)
    body["cwd"] = os.getcwd() if cwd is None else cwd
    body["idempotency_key"] = idempotency_key or new_idempotency_key()
    body.update({k: v for k, v in fields.items() if v is not None})
    return body


def cancel_body(jobs: Sequence[str | int], name: str | None, user: str | None, project: str | None,
                states: Sequence[str]) -> dict[str, Any]:
    """The ``POST /jobs/cancel`` body: the jobs named and the filters given."""
    body: dict[str, Any] = {"jobs": [str(j) for j in jobs], "name": name, "user": user, "project": project,
                            "states": list(states)}
    return {k: v for k, v in body.items() if v}


def job_query(state: str | Sequence[str] | None, org: str | None, user: str | None,
              **more: Any) -> dict[str, Any]:
    """The ``GET /jobs`` filters (``state`` one or several)."""
    states = [state] if isinstance(state, str) else list(state or ())
    return {"state": states or None, "org": org, "user": user, **more}


def log_query(stream: str, offset: int, rank: int) -> dict[str, Any]:
    """The ``GET /jobs/{id}/logs`` query: ``rank`` is sent only when it is not 0 (servers before per-rank logs
    know no ``rank``)."""
    if stream not in ("stdout", "stderr"):
        raise InputError("stream", "must be stdout or stderr", stream)
    query: dict[str, Any] = {"stream": stream, "offset": offset}
    if rank:
        query["rank"] = rank
    return query


def log_step(page: Mapping[str, Any], follow: bool) -> tuple[int, bool, bool]:
    """After a log page: the next offset, whether to stop, and (when going on) whether to wait before asking
    again (everything written so far has been read)."""
    offset = int(page["next_offset"])
    caught_up = offset >= int(page["size"])
    stop = bool(page["done"]) or (not follow and caught_up)
    return offset, stop, caught_up
