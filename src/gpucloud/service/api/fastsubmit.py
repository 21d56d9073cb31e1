"""The hot path of ``POST /api/v1/jobs`` as a small ASGI middleware, in front of FastAPI's routing.

A submission is the one request that arrives thousands of times a second. This middleware serves the
ordinary case without FastAPI's routing, dependency injection and response validation: a token the
:class:`~gpucloud.service.auth.TokenCache` knows, a body that :class:`JobSubmit` accepts, tenants that the
:class:`~gpucloud.service.submitter.TenantCache` knows and a submission that passes validation. It validates
with the same functions as the route, hands the row to the group-commit writer and answers after the commit.

Everything else — no or unknown token, a body that does not validate, a submission that fails a check, a
database error before the commit — is passed on unchanged (the body replayed) to the FastAPI route, which
answers exactly as before (401, 422 naming the field, 403...). Nothing is committed on the paths that fall
through, so the route's own attempt is the only one.
"""

from __future__ import annotations

import json
import logging

from pydantic import ValidationError

from gpucloud.errors import GpucloudError
from gpucloud.service.api.bodylimit import ASGIApp, Receive, Scope, Send, replay
from gpucloud.service.api.context import AppContext
from gpucloud.service.api.schemas import JobSubmit
from gpucloud.service.api.submission import submit_request
from gpucloud.service.auth import TOKEN_PREFIX, hash_token
from gpucloud.service.submitter import prepare, response_fields

log = logging.getLogger("gpucloud.api")

SUBMIT_PATH = "/api/v1/jobs"
#: Bodies larger than this go the ordinary way.
MAX_FAST_BODY = 256 * 1024


class FastSubmit:
    """ASGI middleware: serve ordinary ``POST /api/v1/jobs`` requests directly (see the module docstring)."""

    def __init__(self, app: ASGIApp, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != SUBMIT_PATH:
            await self.app(scope, receive, send)
            return
        principal = None
        json_body = False
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                token = token.strip()
                if scheme.lower() == "bearer" and token.startswith(TOKEN_PREFIX):
                    principal = self.ctx.token_cache.get(hash_token(token))
            elif name == b"content-type":
                json_body = value.split(b";", 1)[0].strip().lower() == b"application/json"
        if principal is None or not json_body:
            await self.app(scope, receive, send)
            return
        body, complete = await _read_body(receive)
        again = replay(body, receive, more=not complete)
        if not complete:
            await self.app(scope, again, send)
            return
        try:
            req = submit_request(JobSubmit.model_validate_json(body))
            if req.idempotency_key is not None or not self.ctx.tenants.warm(principal, req):
                raise LookupError("not the ordinary case")
            prepared = prepare(self.ctx.tenants, principal, req, self.ctx.cluster, self.ctx.command_limits,
                               self.ctx.clock())
        except (ValidationError, GpucloudError, LookupError, ValueError):
            await self.app(scope, again, send)  # the route answers: 422 naming the field, 403, ...
            return
        try:
            done = await self.ctx.committer.submit_async(prepared)
        except Exception:  # not committed: let the route try (and report) it
            log.info("fast submit failed before its commit; passing it to the route", exc_info=True)
            await self.app(scope, again, send)
            return
        assert done.created  # only submissions without an idempotency key come this way
        if self.ctx.count_submit is not None:
            self.ctx.count_submit(201)
        out = response_fields(prepared, done.job_id)
        data = json.dumps(out, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"content-length", str(len(data)).encode()), (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": data})


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The request body; False if the client went away or it is larger than :data:`MAX_FAST_BODY`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > MAX_FAST_BODY:
            return b"".join(chunks), False
