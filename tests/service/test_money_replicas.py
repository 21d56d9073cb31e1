"""Two server replicas on one PostgreSQL database settle many jobs at once (issue 4, docs/money.md
"PostgreSQL concurrency").

Two apps (A and B), each with its own engine and session factory on the same database, as two replicas would
be, and a control loop for each. Only the leader runs its loop in a real server (an advisory lock,
:mod:`gpucloud.service.control.leader`), but ``tick()`` does not ask: the test drives both loops at once in
threads, as two leaders would (a split brain), while the API of replica B tops up budgets and cancels running
jobs. Both loops watch the same processes (one executor), so each tries to commit every end it sees.

PostgreSQL only: skipped when no server answers, a failure instead when ``GPUCLOUD_REQUIRE_POSTGRES`` is set
(as in CI).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from api_world import FakeClock, World, make_world
from fastapi.testclient import TestClient
from money_books import T0, TARIFFS, Manual, check_books, hand_cost
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from gpucloud.model.job import JobState
from gpucloud.service import budgets
from gpucloud.service.api import create_app
from gpucloud.service.api.context import AppContext
from gpucloud.service.control.leader import Leadership
from gpucloud.service.loop import ControlLoop, LoopConfig
from gpucloud.service.settings import Settings
from gpucloud.service.store.models import JobRow, LedgerEntryRow, ProjectRow

PG_HOST, PG_PORT = "127.0.0.1", 5432  # as in conftest.py
JOBS = 40
#: the jobs' projects (user, project key) in turn, so that several settle on one budget row at once
OWNERS = [("alice", "alpha/default"), ("amy", "alpha/ml"), ("bob", "beta/default"), ("alice", "alpha/default")]
PRIORITIES = ["low", "normal", "high"]


@pytest.fixture
def pg_url(pg_database: str | None) -> str:
    """A fresh schema in the session's PostgreSQL database (conftest's ``pg_database`` already fails when
    GPUCLOUD_REQUIRE_POSTGRES is set and no server answers)."""
    if pg_database is None:
        if os.environ.get("GPUCLOUD_REQUIRE_POSTGRES"):
            pytest.fail("GPUCLOUD_REQUIRE_POSTGRES is set but PostgreSQL is unreachable")
        pytest.skip(f"PostgreSQL server at {PG_HOST}:{PG_PORT} is unreachable; the replica test needs it")
    import psycopg

    schema = f"t_{secrets.token_hex(6)}"
    dbname = pg_database.rsplit("/", 1)[1]
    with psycopg.connect(f"host={PG_HOST} port={PG_PORT} user=postgres dbname={dbname}", autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
    return f"{pg_database}?options=-csearch_path%3D{schema}"


class Replicas:
    def __init__(self, url: str, tmp: Path) -> None:
        self.clock = FakeClock(T0)
        self.world: World = make_world(url, tmp / "a", self.clock, cluster_file="5x8:H100")
        self.a: AppContext = self.world.app.state.gpucloud
        app_b = create_app(Settings(data_dir=tmp / "b" / "data", database_url=url, cluster_file="5x8:H100"),
                           clock=self.clock)
        self.b: AppContext = app_b.state.gpucloud
        self.client_b = TestClient(app_b)
        self.executor = Manual()
        # both loops in one leadership term (a split brain that fencing would otherwise stop: this test is about
        # what the money layer itself guarantees when two loops settle the same jobs)
        term = Leadership(self.a.engine)
        self.loops = [ControlLoop(ctx.sessions, lambda c=ctx: c.cluster, self.executor,  # type: ignore[misc]
                                  engine=ctx.engine, clock=self.clock, config=LoopConfig(), leadership=term)
                      for ctx in (self.a, self.b)]
        self.top_ups: defaultdict[str, Decimal] = defaultdict(Decimal)

    def call_b(self, user: str, method: str, path: str, json: Any = None) -> Any:
        return self.client_b.request(method, path, headers=self.world.h(user), json=json)

    def top_up(self, project: str, amount: str, via_b: bool = False) -> None:
        call = self.call_b if via_b else self.world.call
        r = call("admin", "POST", f"/api/v1/budgets/{project}/topup", {"amount": amount})
        assert r.status_code == 200, r.text
        self.top_ups[project] += Decimal(amount)

    def states(self) -> dict[int, str]:
        with self.a.sessions() as s:
            return {i: st for i, st in s.execute(select(JobRow.id, JobRow.state))}

    def books(self) -> Any:
        with self.b.sessions() as s:
            return check_books(s, self.top_ups)

    def close(self) -> None:
        self.loops[0].leader.release()
        self.world.client.close()
        self.client_b.close()
        self.a.engine.dispose()
        self.b.engine.dispose()


@pytest.fixture
def replicas(pg_url: str, tmp_path: Path) -> Iterator[Replicas]:
    r = Replicas(pg_url, tmp_path)
    yield r
    r.close()


def _together(*work: Callable[[], None]) -> None:
    """Run each in its own thread, all released at once; re-raise the first error."""
    barrier = threading.Barrier(len(work))
    errors: list[BaseException] = []

    def run(fn: Callable[[], None]) -> None:
        try:
            barrier.wait()
            fn()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(fn,)) for fn in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
        assert not t.is_alive(), "a replica hung (deadlock?)"
    if errors:
        raise errors[0]


def _start_forty(r: Replicas) -> dict[int, tuple[str, str]]:
    """Top up, submit 40 one-GPU jobs of 30 minutes over three projects (half through each replica's API) and
    let loop A start them all; job id → (project, priority)."""
    assert r.world.call("admin", "POST", "/api/v1/tariffs", TARIFFS).status_code == 201
    assert r.world.call("admin", "POST", "/api/v1/orgs/alpha/projects", {"name": "ml"}).status_code == 201
    for project in ("alpha/default", "alpha/ml", "beta/default"):
        r.top_up(project, "40")
    jobs: dict[int, tuple[str, str]] = {}
    for i in range(JOBS):
        user, project = OWNERS[i % len(OWNERS)]
        prio = PRIORITIES[i % len(PRIORITIES)]
        body = {"argv": ["true"], "num_gpus": 1, "walltime": 1800, "priority": prio,
                "project": project.split("/")[1]}
        call = r.world.call if i % 2 else r.call_b
        resp = call(user, "POST", "/api/v1/jobs", body)
        assert resp.status_code == 201, resp.text
        jobs[int(resp.json()["id"])] = (project, prio)
    r.loops[0].tick()
    assert set(r.states().values()) == {"running"}, r.states()
    r.loops[1].tick()  # B recovers: it re-attaches the 40 running jobs and watches them too
    assert set(r.states().values()) == {"running"}
    r.books()
    return jobs


def test_two_replicas_settle_forty_jobs_at_once(replicas: Replicas) -> None:
    r = replicas
    jobs = _start_forty(r)
    ids = sorted(jobs)
    finished, cancelled, timed_out = ids[:14], ids[14:21], ids[21:]
    # 10 minutes in: 14 jobs end by themselves one after the other, 7 are cancelled through B's API, while both
    # loops settle them and B's API tops up the three budgets, all at once
    r.clock.advance(600)
    api_done = threading.Event()

    def loop(i: int, until: threading.Event | None = None) -> Callable[[], None]:
        def ticks() -> None:
            n = 0
            while n < 6 or (until is not None and not until.is_set() and n < 500):
                r.loops[i].tick()
                n += 1
        return ticks

    def finishes() -> None:
        for n, jid in enumerate(finished):
            r.executor.finish(jid, n % 2)
            time.sleep(0.01)  # spread over the loops' ticks (more settles to race with the top-ups)

    def cancels() -> None:
        for jid in cancelled:
            resp = r.call_b("admin", "POST", f"/api/v1/jobs/{jid}/cancel")
            assert resp.status_code == 200, resp.text

    def top_ups() -> None:
        for n in range(24):
            r.top_up(("alpha/default", "alpha/ml", "beta/default")[n % 3], f"{n + 1}.0001", via_b=True)
        api_done.set()

    _together(loop(0, api_done), loop(1, api_done), finishes, cancels, top_ups)
    for _ in range(2):  # the cancels that came after the loops' last ticks
        _together(loop(0), loop(1))
    states = r.states()
    assert [states[j] for j in finished] == ["succeeded", "failed"] * 7
    # the loop that saw the cancel stopped the job (cancelled); the other may see it killed before it reads the
    # cancel and record failed (two loops watching one set of processes): the same charge either way
    assert {states[j] for j in cancelled} <= {"cancelled", "failed"}
    assert {states[j] for j in timed_out} == {"running"}
    r.books()

    # past the walltime: both loops stop the other 19 and settle them, at once
    r.clock.advance(1800)
    for _ in range(2):
        _together(loop(0), loop(1))
    states = r.states()
    # likewise: the loop that sent SIGTERM records timed_out, the other may record failed
    assert {states[j] for j in timed_out} <= {"timed_out", "failed"}, states
    books = r.books()

    # exactly one hold, release and charge per run; every hold's unused part released
    with r.a.sessions() as s:
        per_run = Counter((ref, kind) for ref, kind in s.execute(
            select(LedgerEntryRow.ref, LedgerEntryRow.kind).where(LedgerEntryRow.ref.is_not(None))))
    assert set(per_run.values()) == {1}
    assert {ref for ref, _ in per_run} == {f"{j}#1" for j in ids}
    assert Counter(kind for _, kind in per_run) == {"hold": JOBS, "release": JOBS, "charge": JOBS}
    # the balances, by hand: top-ups − 600 s for the finished and cancelled jobs − the whole hold for the others
    want = {p: Decimal(t) for p, t in r.top_ups.items()}
    for jid, (project, prio) in jobs.items():
        ran = 600.0 if jid not in timed_out else 1800.0
        want[project] -= hand_cost(T0, 1, ran, prio)
    assert books.balances == want
    assert books.available == want  # nothing held any more
    assert sum(r.top_ups.values()) == 120 + sum(Decimal(f"{n + 1}.0001") for n in range(24))


def test_settles_of_the_same_runs_on_two_replicas_charge_once(replicas: Replicas,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Below the loop: two replicas settle the same 40 runs in two transactions at once, first with the
    budget row lock, then with the lock gone (as if a code path forgot it): the unique (ref, kind) still
    leaves one charge per run, and the loser rolls back whole."""
    r = replicas
    jobs = _start_forty(r)
    refs = {f"{j}#1": project for j, (project, _) in jobs.items()}
    with r.a.sessions() as s:
        pids = {budgets.project_key(p.org.name, p.name): p.id for p in s.scalars(select(ProjectRow))}
    outcome: dict[str, list[str]] = {"a": [], "b": []}

    def settle(name: str, ctx: AppContext, mine: list[str], both_read: threading.Barrier | None = None
               ) -> Callable[[], None]:
        def run() -> None:
            try:
                with ctx.sessions.begin() as s:
                    state = budgets.load_state(s, {pids[p]: p for p in set(refs.values())})
                    ledger = state.ledger
                    done = []
                    for ref in mine:
                        if ref in ledger.holds:
                            ledger = ledger.settle(ref, 600.0, T0 + 600)
                            done.append(ref)
                    if both_read is not None:  # without the lock: both have read the holds open
                        both_read.wait(30)
                    budgets.append(s, state, ledger)
                outcome[name] += done
            except IntegrityError:
                outcome[name].append("rolled back")
        return run

    half = sorted(refs)[:20]
    _together(settle("a", r.a, half), settle("b", r.b, half))
    assert sorted(outcome["a"] + outcome["b"]) == sorted(half)  # the lock: the second saw them settled

    rest = sorted(refs)[20:]
    monkeypatch.setattr(budgets, "is_postgres", lambda _s: False)  # no FOR UPDATE any more
    outcome = {"a": [], "b": []}
    both_read = threading.Barrier(2)
    _together(settle("a", r.a, rest, both_read), settle("b", r.b, rest, both_read))
    assert sorted([outcome["a"], outcome["b"]], key=len) == [["rolled back"], rest]
    with r.a.sessions() as s:
        charges = Counter(s.scalars(select(LedgerEntryRow.ref).where(LedgerEntryRow.kind == "charge")))
        assert charges == Counter(list(refs))
        assert s.scalar(select(func.count()).select_from(LedgerEntryRow)) == 3 + 3 * JOBS
        ledger = budgets.full_ledger(s)
    ledger.verify()
    for project in ("alpha/default", "alpha/ml", "beta/default"):
        want = Decimal(40) - sum((hand_cost(T0, 1, 600, jobs[int(ref.split("#")[0])][1])
                                  for ref, p in refs.items() if p == project), Decimal(0))
        assert ledger.balance(project) == want
    assert not ledger.holds
    assert {JobState(s) for s in r.states().values()} == {JobState.RUNNING}  # the jobs themselves untouched
