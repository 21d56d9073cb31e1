"""The job state machine: legal paths with events and version bumps; every illegal transition refused."""

from __future__ import annotations

import itertools

import pytest
from api_world import World

from gpucloud.model.job import JobState
from gpucloud.service.store.engine import scheduler_version
from gpucloud.service.store.models import JobRow
from gpucloud.service.store.placement import PlacedNode
from gpucloud.service.transitions import RULES, IllegalTransition, apply_transition

S = JobState
ALLOWED = {
    (S.PENDING, S.ADMITTED), (S.ADMITTED, S.RUNNING),
    (S.RUNNING, S.SUCCEEDED), (S.RUNNING, S.FAILED), (S.RUNNING, S.CANCELLED), (S.RUNNING, S.TIMED_OUT),
    (S.RUNNING, S.PREEMPTING), (S.PREEMPTING, S.PENDING), (S.RUNNING, S.PENDING),
    (S.PREEMPTING, S.SUCCEEDED), (S.PREEMPTING, S.FAILED), (S.PREEMPTING, S.CANCELLED), (S.PREEMPTING, S.TIMED_OUT),
    (S.PENDING, S.CANCELLED), (S.ADMITTED, S.CANCELLED), (S.ADMITTED, S.FAILED), (S.ADMITTED, S.PENDING),
}
PLACE = [PlacedNode("b0-r0-n0", (0, 1))]


def test_rule_table_matches_the_documented_machine() -> None:
    table = {(f, t) for t, rule in RULES.items() for f in rule.from_states}
    assert table == ALLOWED


def _step(world: World, job_id: int, to: JobState, **kw: object) -> JobRow:
    ctx = world.app.state.gpucloud
    with ctx.sessions.begin() as s:
        job = s.get(JobRow, job_id)
        assert job is not None
        apply_transition(s, job, to, f"to {to}", world.clock(), **kw)  # type: ignore[arg-type]
    world.clock.advance(10)
    with ctx.sessions() as s:
        out = s.get(JobRow, job_id)
        assert out is not None
        return out


def test_run_preempt_requeue_succeed(world: World) -> None:
    jid = world.submit("alice", num_gpus=2)["id"]
    with world.app.state.gpucloud.sessions() as s:
        v0 = scheduler_version(s)
    job = _step(world, jid, S.ADMITTED, placement=PLACE, gpu_type="H100-80GB")
    assert job.placement == [{"node": "b0-r0-n0", "gpus": [0, 1]}]
    job = _step(world, jid, S.RUNNING, handle={"pid": 1})
    assert job.run_count == 1 and job.started_at is not None
    assert world.call("admin", "GET", "/api/v1/cluster").json()["busy_gpus"] == 2
    job = _step(world, jid, S.PREEMPTING)
    assert job.preemptions == 1
    job = _step(world, jid, S.PENDING)
    assert job.placement is None and job.handle is None and job.attained_gpu_s == pytest.approx(2 * 20)
    _step(world, jid, S.ADMITTED, placement=PLACE, gpu_type="H100-80GB")
    _step(world, jid, S.RUNNING)
    job = _step(world, jid, S.SUCCEEDED, exit_code=0)
    assert job.exit_code == 0 and job.ended_at is not None and job.run_count == 2
    with world.app.state.gpucloud.sessions() as s:
        assert scheduler_version(s) == v0 + 7
    events = world.call("alice", "GET", f"/api/v1/jobs/{jid}").json()["events"]
    assert [(e["from_state"], e["to_state"]) for e in events] == [
        (None, "pending"), ("pending", "admitted"), ("admitted", "running"), ("running", "preempting"),
        ("preempting", "pending"), ("pending", "admitted"), ("admitted", "running"), ("running", "succeeded"),
    ]
    assert events[3]["reason"] == "to preempting"


def _force_state(world: World, job_id: int, state: JobState) -> None:
    with world.app.state.gpucloud.sessions.begin() as s:
        job = s.get(JobRow, job_id)
        assert job is not None
        job.state = state.value


ILLEGAL = [p for p in itertools.product(S, S) if p not in ALLOWED]


def test_illegal_transitions_are_refused(world: World) -> None:
    """Every (from, to) pair outside the table raises, and leaves the job and its events unchanged."""
    jid = world.submit("alice")["id"]
    refused = []
    for src, dst in ILLEGAL:
        _force_state(world, jid, src)
        with world.app.state.gpucloud.sessions.begin() as s:
            job = s.get(JobRow, jid)
            assert job is not None
            try:
                apply_transition(s, job, dst, "nope", world.clock(), placement=PLACE, gpu_type="H100-80GB")
            except IllegalTransition as exc:
                assert f"cannot go from {src} to {dst}" in str(exc)
                refused.append((src, dst))
                s.rollback()
    assert refused == ILLEGAL
    assert len(world.call("alice", "GET", f"/api/v1/jobs/{jid}").json()["events"]) == 1


def test_admission_needs_a_placement(world: World) -> None:
    jid = world.submit("alice")["id"]
    with world.app.state.gpucloud.sessions.begin() as s:
        job = s.get(JobRow, jid)
        assert job is not None
        with pytest.raises(IllegalTransition, match="needs a placement"):
            apply_transition(s, job, S.ADMITTED, "x", world.clock())
