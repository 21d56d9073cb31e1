"""The fast submit path: tenant lookups from memory, and group commit.

:class:`TenantCache` remembers orgs, projects and users by name/id. Orgs, projects and users are never
deleted or renamed (only an org's weight changes, which a submission does not use), so a name once seen stays
valid; unknown names are always looked up again.

:class:`GroupCommitter` is one writer thread. API requests validate their submission themselves (from the
cache and the in-memory cluster) and hand the row to the writer; the writer takes every submission waiting
at that moment, inserts them all in **one** transaction (one ``INSERT ... RETURNING`` for the jobs, one for
their events, one version bump) and acknowledges each request only **after** the commit. Nothing is
acknowledged before it is durable; a batch that fails is retried one submission per transaction, so one bad
submission never fails the others. Idempotency keys keep their meaning: an existing key (or the same key twice
in one batch) yields the one job, with ``created`` false.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, insert, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from gpucloud.errors import InputError
from gpucloud.model.cluster import Cluster
from gpucloud.model.job import JobState
from gpucloud.model.limits import CommandLimits, check_command
from gpucloud.service.auth import Principal
from gpucloud.service.jobs import SubmitRequest, check_request, submit_org_name
from gpucloud.service.reservations import job_terms
from gpucloud.service.store.engine import bump_version
from gpucloud.service.store.errors import NotFound
from gpucloud.service.store.models import JobEventRow, JobRow, OrgRow, ProjectRow, UserRow
from gpucloud.service.store.tenants import DEFAULT_PROJECT

log = logging.getLogger("gpucloud.submit")

#: The most submissions one transaction takes.
MAX_BATCH = 512


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


class TenantCache:
    """Org ids by name, project ids by (org id, name), user names by id; positive answers only."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._orgs: dict[str, int] = {}
        self._projects: dict[tuple[int, str], int] = {}
        self._users: dict[int, str] = {}

    def org(self, name: str) -> int | None:
        found = self._orgs.get(name)
        if found is None:
            with self.sessions() as s:
                found = s.scalar(select(OrgRow.id).where(OrgRow.name == name))
            if found is not None:
                self._orgs[name] = found
        return found

    def project(self, org_id: int, name: str) -> int | None:
        found = self._projects.get((org_id, name))
        if found is None:
            with self.sessions() as s:
                found = s.scalar(select(ProjectRow.id).where(ProjectRow.org_id == org_id, ProjectRow.name == name))
            if found is not None:
                self._projects[(org_id, name)] = found
        return found

    def user(self, user_id: int) -> str | None:
        found = self._users.get(user_id)
        if found is None:
            with self.sessions() as s:
                found = s.scalar(select(UserRow.name).where(UserRow.id == user_id))
            if found is not None:
                self._users[user_id] = found
        return found

    def warm(self, who: Principal, req: SubmitRequest) -> bool:
        """True if :func:`prepare` will not need the database for this request."""
        org = req.org if who.is_operator else who.org
        if (org is None or who.user_id not in self._users or req.reservation is not None or req.array is not None
                or req.dependency is not None):
            return False
        org_id = self._orgs.get(org)
        return org_id is not None and (org_id, req.project or DEFAULT_PROJECT) in self._projects


@dataclass(frozen=True, slots=True)
class Prepared:
    """A validated submission: the ``jobs`` row to insert and the names the response shows."""

    values: dict[str, Any]
    org: str
    project: str
    user: str
    event_reason: str


def prepare(tenants: TenantCache, who: Principal, req: SubmitRequest, cluster: Cluster, limits: CommandLimits,
            now: float) -> Prepared:
    """Validate ``req``: its command against ``limits``, then against the tenants and the cluster
    (same checks, same order, same errors) without ORM objects; the row to insert."""
    check_command(req.argv, req.env, req.cwd, limits)
    name = submit_org_name(who, req.org)
    org_id = tenants.org(name)
    if org_id is None:
        raise InputError("org", "unknown org", name)
    project_name = req.project or DEFAULT_PROJECT
    project_id = tenants.project(org_id, project_name)
    if project_id is None:
        raise InputError("project", f"unknown project in org {name!r}", project_name)
    priority, gpu_type = check_request(req, who, name, project_name, cluster, now)
    if req.reservation is None:  # no database needed
        terms = job_terms(None, org_id, req, gpu_type, cluster, now)
    else:
        with tenants.sessions() as session:
            terms = job_terms(session, org_id, req, gpu_type, cluster, now)
    user = tenants.user(who.user_id)
    if user is None:
        raise NotFound("user", who.name)
    values = {
        "org_id": org_id, "project_id": project_id, "user_id": who.user_id, "name": req.name,
        "argv": list(req.argv), "env": dict(req.env), "cwd": req.cwd, "num_gpus": req.num_gpus, "nodes": req.nodes,
        "gpu_type": terms.gpu_type, "walltime_s": float(req.walltime_s), "priority": priority,
        "priority_class": req.priority_class, "preemptible": req.preemptible, "grace_s": float(req.grace_s),
        "state": JobState.PENDING.value, "reason": "submitted", "cancel_requested": False, "submitted_at": now,
        "queued_at": now, "run_count": 0, "preemptions": 0, "attained_gpu_s": 0.0,
        "idempotency_key": req.idempotency_key, "row_version": 1, "service_class": terms.service_class,
        "reservation_id": terms.reservation_id,
    }
    return Prepared(values, name, project_name, user, f"submitted by {who.name}")


def response_fields(p: Prepared, job_id: int) -> dict[str, Any]:
    """The ``SubmitOut`` of a job just created from ``p`` (what :func:`job_out` would give), as plain JSON."""
    v = p.values
    return {
        "id": job_id, "name": v["name"], "org": p.org, "project": p.project, "user": p.user,
        "argv": [str(a) for a in v["argv"]], "env": {str(k): str(x) for k, x in v["env"].items()}, "cwd": v["cwd"],
        "num_gpus": v["num_gpus"], "nodes": v["nodes"], "gpu_type": v["gpu_type"], "walltime_s": v["walltime_s"],
        "priority": v["priority_class"], "priority_value": v["priority"], "preemptible": v["preemptible"],
        "grace_s": v["grace_s"], "state": v["state"], "reason": v["reason"], "cancel_requested": False,
        "submitted_at": v["submitted_at"], "queued_at": v["queued_at"], "started_at": None, "ended_at": None,
        "exit_code": None, "placement": None, "assigned_gpu_type": None, "run_count": 0, "preemptions": 0,
        "service_class": v["service_class"], "reservation_id": v["reservation_id"], "array_job_id": None,
        "array_task_id": None, "array_throttle": None, "dependency": None, "ran_s": None,
        "estimated_cost": None, "final_cost": None, "created": True,
    }


@dataclass(frozen=True, slots=True)
class Committed:
    """The outcome of one submission: the job's id, and whether this submission created it (``False``: an
    earlier one with the same idempotency key did)."""

    job_id: int
    created: bool


#: A waiting submission's future: a thread future (:meth:`GroupCommitter.submit`) or an asyncio future with its
#: event loop (:meth:`GroupCommitter.submit_async`).
Waiter = Future[Committed] | tuple[asyncio.AbstractEventLoop, "asyncio.Future[Committed]"]
_Item = tuple[Prepared, Waiter]


class GroupCommitter:
    """One writer thread that commits waiting submissions together; see the module docstring."""

    def __init__(self, sessions: sessionmaker[Session], on_commit: Callable[[], None] | None = None) -> None:
        self.sessions = sessions
        self.on_commit = on_commit
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0
        self.committed = 0

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="gpucloud-submit-writer", daemon=True)
                    self._thread.start()

    def submit(self, prepared: Prepared) -> Future[Committed]:
        """Queue one submission; the future resolves after its transaction committed (or with its error)."""
        self._ensure_thread()
        fut: Future[Committed] = Future()
        self._queue.put((prepared, fut))
        return fut

    def submit_async(self, prepared: Prepared) -> asyncio.Future[Committed]:
        """Like :meth:`submit`, from a coroutine: the asyncio future is resolved on its own event loop, with one
        wake-up of that loop per batch (not one per submission, as ``asyncio.wrap_future`` would need)."""
        self._ensure_thread()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Committed] = loop.create_future()
        self._queue.put((prepared, (loop, fut)))
        return fut

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            outcomes: list[tuple[Waiter, Committed | BaseException]] = []
            try:
                self._commit_batch(batch, outcomes)
            except BaseException:  # never let the writer die
                log.exception("submit writer failed")
                settled = {id(w) for w, _ in outcomes}
                outcomes += [(w, RuntimeError("the submission could not be stored")) for _, w in batch
                             if id(w) not in settled]
            _settle(outcomes)

    def _commit_batch(self, batch: list[_Item], outcomes: list[tuple[Waiter, Committed | BaseException]]) -> None:
        try:
            results = self._write([p for p, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                outcomes.append((batch[0][1], exc))
                return
            log.info("a batch of %d submissions failed (%s); committing them one by one", len(batch), exc)
            for item in batch:
                self._commit_batch([item], outcomes)
            return
        self.batches += 1
        self.committed += len(batch)
        outcomes += [(w, result) for (_, w), result in zip(batch, results, strict=True)]
        if self.on_commit is not None and any(r.created for r in results):
            self.on_commit()

    def _write(self, prepared: list[Prepared]) -> list[Committed]:
        """Insert the batch in one transaction; each submission's outcome (only valid once committed)."""
        jobs, events = _table(JobRow), _table(JobEventRow)
        results: list[Committed | None] = [None] * len(prepared)
        with self.sessions.begin() as session:
            conn = session.connection()
            keyed = {(p.values["user_id"], p.values["idempotency_key"]) for p in prepared
                     if p.values["idempotency_key"] is not None}
            known: dict[tuple[int, str], int] = {}
            if keyed:
                rows = conn.execute(select(jobs.c.user_id, jobs.c.idempotency_key, jobs.c.id).where(
                    tuple_(jobs.c.user_id, jobs.c.idempotency_key).in_(list(keyed))))
                known = {(u, k): jid for u, k, jid in rows}
            new: list[int] = []
            first_of: dict[tuple[int, str], int] = {}
            for i, p in enumerate(prepared):
                key = p.values["idempotency_key"]
                if key is not None:
                    uk = (p.values["user_id"], key)
                    if uk in known:
                        results[i] = Committed(known[uk], False)
                        continue
                    if uk in first_of:
                        continue  # resolved below, after the first one got its id
                    first_of[uk] = i
                new.append(i)
            if new:
                ids = list(conn.execute(insert(jobs).returning(jobs.c.id, sort_by_parameter_order=True),
                                        [prepared[i].values for i in new]).scalars())
                for i, jid in zip(new, ids, strict=True):
                    results[i] = Committed(jid, True)
                conn.execute(insert(events), [
                    {"job_id": jid, "at": prepared[i].values["submitted_at"], "from_state": None,
                     "to_state": JobState.PENDING.value, "reason": prepared[i].event_reason}
                    for i, jid in zip(new, ids, strict=True)])
                bump_version(session)
            for i, p in enumerate(prepared):
                if results[i] is None:
                    first = results[first_of[(p.values["user_id"], p.values["idempotency_key"])]]
                    assert first is not None
                    results[i] = Committed(first.job_id, False)
        return [r for r in results if r is not None]


def _settle(outcomes: list[tuple[Waiter, Committed | BaseException]]) -> None:
    """Resolve every waiter: thread futures here, asyncio futures by one callback per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Committed], Committed | BaseException]]] = {}
    for waiter, outcome in outcomes:
        if isinstance(waiter, Future):
            if not waiter.done():
                if isinstance(outcome, BaseException):
                    waiter.set_exception(outcome)
                else:
                    waiter.set_result(outcome)
        else:
            by_loop.setdefault(waiter[0], []).append((waiter[1], outcome))
    for loop, items in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that event loop is closed: nobody waits any more
            loop.call_soon_threadsafe(_resolve, items)


def _resolve(items: list[tuple[asyncio.Future[Committed], Committed | BaseException]]) -> None:
    for fut, outcome in items:
        if fut.done():  # the request was cancelled (client gone); the job is stored all the same
            continue
        if isinstance(outcome, BaseException):
            fut.set_exception(outcome)
        else:
            fut.set_result(outcome)
