"""Job arrays and dependencies through the real API and control loop (SQLite and PostgreSQL): an array's tasks
held by its throttle and started in index order, dependencies held until met and ended when they never can be
(transitively), singleton, whole-array and corresponding-task dependencies, the mistakes answered with 422 naming
the field, idempotent array submissions, and ``POST /jobs/cancel`` by array, task, name and user."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from money_rig import Rig, open_rig

from gpucloud.service.control.snapshot import read_snapshot


@pytest.fixture
def rig(db_url: str, tmp_path: Path) -> Iterator[Rig]:
    with open_rig(db_url, tmp_path, None, cluster_file="1x8:H100") as r:
        yield r


def submit(rig: Rig, user: str = "alice", **body: Any) -> dict[str, Any]:
    body.setdefault("num_gpus", 1)
    body.setdefault("argv", ["true"])
    return rig.world.submit(user, **body)


def tasks(rig: Rig, array: int) -> list[dict[str, Any]]:
    r = rig.world.call("admin", "GET", f"/api/v1/jobs?array={array}&sort=id&offset=0&limit=1000")
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def states(rig: Rig, array: int) -> dict[int, str]:
    return {t["array_task_id"]: t["state"] for t in tasks(rig, array)}


def test_an_array_runs_its_tasks_in_index_order_within_its_throttle(rig: Rig) -> None:
    first = submit(rig, array="3-13:2%2", name="sweep", env={"SEED": "1"})
    array = first["id"]
    assert first["array_job_id"] == array and first["array_task_id"] == 3 and first["array_throttle"] == 2
    listed = tasks(rig, array)
    assert [t["array_task_id"] for t in listed] == [3, 5, 7, 9, 11, 13]
    assert {t["array_job_id"] for t in listed} == {array} and {t["name"] for t in listed} == {"sweep"}
    assert [t["env"] for t in listed][:2] == [
        {"SEED": "1", "GPUCLOUD_ARRAY_JOB_ID": str(array), "GPUCLOUD_ARRAY_TASK_ID": "3"},
        {"SEED": "1", "GPUCLOUD_ARRAY_JOB_ID": str(array), "GPUCLOUD_ARRAY_TASK_ID": "5"}]
    rig.loop.tick()
    now = states(rig, array)
    assert sorted(t for t, s in now.items() if s == "running") == [3, 5]  # 8 GPUs free, but %2
    held = next(t for t in tasks(rig, array) if t["array_task_id"] == 7)
    assert held["reason"] == f"array throttle: at most 2 tasks of array {array} at once (%2)"
    by_task = {t["array_task_id"]: t["id"] for t in listed}
    rig.executor.finish(by_task[5])
    rig.loop.tick()
    rig.loop.tick()
    assert states(rig, array) == {3: "running", 5: "succeeded", 7: "running", 9: "pending", 11: "pending",
                                  13: "pending"}


def test_dependencies_wait_and_those_never_met_are_cancelled_transitively(rig: Rig) -> None:
    a = submit(rig, argv=["false"])["id"]
    ok = submit(rig, dependency=f"afterok:{a}")["id"]
    notok = submit(rig, dependency=f"afternotok:{a}")["id"]
    anyway = submit(rig, dependency=f"afterany:{a}")["id"]
    started = submit(rig, dependency=f"after:{a}")["id"]
    chained = submit(rig, dependency=f"afterok:{ok}")["id"]
    assert rig.job(ok)["dependency"] == f"afterok:{a}"
    rig.loop.tick()
    assert rig.job(a)["state"] == "running" and rig.job(started)["state"] == "pending"
    assert rig.job(ok)["reason"] == f"dependency: waiting for job {a} to succeed (afterok:{a})"
    rig.clock.advance(61)  # a start is the loop's own doing: its housekeeping runs a cycle for the dependents
    rig.loop.tick()
    assert rig.job(started)["state"] == "running"  # after: once it started
    rig.executor.finish(a, 3)
    rig.loop.tick()
    rig.loop.tick()
    assert rig.job(a)["state"] == "failed"
    assert rig.job(notok)["state"] == "running" and rig.job(anyway)["state"] == "running"
    never = rig.job(ok)
    assert never["state"] == "pending"
    assert never["reason"] == f"dependency can never be met: job {a} failed (afterok:{a})"
    rig.clock.advance(61)  # the loop's housekeeping ends them, and those that depended on them
    rig.loop.tick()
    for jid, why in ((ok, f"job {a} failed (afterok:{a})"), (chained, f"job {ok} was cancelled (afterok:{ok})")):
        job = rig.job(jid)
        assert job["state"] == "cancelled" and job["reason"] == f"dependency can never be met: {why}", job
        assert job["events"][-1]["reason"] == job["reason"]


def test_any_of_waits_while_one_may_still_be_met(rig: Rig) -> None:
    a = submit(rig, argv=["sleep"])["id"]
    b = submit(rig, argv=["sleep"])["id"]
    either = submit(rig, dependency=f"afterok:{a}?afterok:{b}")["id"]
    rig.loop.tick()
    rig.executor.finish(a, 1)
    rig.loop.tick()
    rig.clock.advance(61)
    rig.loop.tick()
    assert rig.job(either)["state"] == "pending"  # b may still succeed
    rig.executor.finish(b, 0)
    rig.loop.tick()
    rig.loop.tick()
    assert rig.job(either)["state"] == "running"


def test_singleton_runs_one_job_of_a_name_at_a_time(rig: Rig) -> None:
    first = submit(rig, name="nightly", dependency="singleton")["id"]
    second = submit(rig, name="nightly", dependency="singleton")["id"]
    other = submit(rig, user="amy", name="nightly", dependency="singleton")["id"]
    rig.loop.tick()
    assert rig.job(first)["state"] == "running" and rig.job(other)["state"] == "running"
    assert rig.job(second)["reason"] == (f"dependency: singleton: job {first} of the same name and user has not "
                                         "ended")
    rig.executor.finish(first)
    rig.loop.tick()
    rig.loop.tick()
    assert rig.job(second)["state"] == "running"


def test_whole_array_and_corresponding_task_dependencies(rig: Rig) -> None:
    prep = submit(rig, array="0-2")["id"]
    ids = {t["array_task_id"]: t["id"] for t in tasks(rig, prep)}
    after_all = submit(rig, dependency=f"afterok:{prep}")["id"]
    after_one = submit(rig, dependency=f"afterany:{prep}_1")["id"]
    corr = submit(rig, array="0-3", dependency=f"aftercorr:{prep}")["id"]
    corr_ids = {t["array_task_id"]: t["id"] for t in tasks(rig, corr)}
    assert rig.job(after_all)["dependency"] == f"afterok:{prep}"
    assert rig.job(after_one)["dependency"] == f"afterany:{ids[1]}"
    rig.loop.tick()
    assert states(rig, corr) == {0: "pending", 1: "pending", 2: "pending", 3: "running"}  # no task 3 in prep
    rig.executor.finish(ids[1])
    rig.loop.tick()
    rig.loop.tick()
    assert rig.job(after_one)["state"] == "running" and states(rig, corr)[1] == "running"
    assert "waiting for array" in rig.job(after_all)["reason"]
    rig.executor.finish(ids[0], 1)
    rig.loop.tick()
    assert "1 of array" in rig.job(after_all)["reason"] and "did not succeed" in rig.job(after_all)["reason"]
    assert "the corresponding task of array" in rig.job(corr_ids[0])["reason"]


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"array": "5-1"}, "array", "ends before it starts"),
    ({"array": "0-10000"}, "array", "at most 10,000 tasks"),
    ({"array": "1-3%0"}, "array", "throttle"),
    ({"dependency": "aftr:1"}, "dependency", "did you mean 'after'"),
    ({"dependency": "afterok:999999"}, "dependency", "job 999999 not found"),
    ({"dependency": "aftercorr:{job}"}, "dependency", "aftercorr is for the tasks of a job array"),
    ({"dependency": "afterok:{job}_1"}, "dependency", "not found"),
])
def test_mistakes_are_422_naming_the_field_and_store_nothing(rig: Rig, body: dict[str, Any], field: str,
                                                             words: str) -> None:
    job = submit(rig)["id"]
    before = len(tasks_of(rig))
    body = {k: v.format(job=job) for k, v in body.items()}
    r = rig.world.call("alice", "POST", "/api/v1/jobs", {"argv": ["true"], **body})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["field"] == field and words in detail["message"], detail
    assert len(tasks_of(rig)) == before


def tasks_of(rig: Rig) -> list[dict[str, Any]]:
    return list(rig.world.call("admin", "GET", "/api/v1/jobs?limit=1000").json()["items"])


def test_another_users_job_is_not_found(rig: Rig) -> None:
    bobs = submit(rig, user="bob")["id"]
    amys = submit(rig, user="amy")["id"]
    for user, job in (("alice", bobs), ("alice", amys)):
        r = rig.world.call(user, "POST", "/api/v1/jobs", {"argv": ["true"], "dependency": f"afterok:{job}"})
        assert r.status_code == 422 and f"job {job} not found" in r.text
    r = rig.world.call("alpha-admin", "POST", "/api/v1/jobs", {"argv": ["true"], "dependency": f"afterok:{amys}"})
    assert r.status_code == 201, r.text  # an org-admin sees the org's jobs


def test_an_array_submission_is_idempotent(rig: Rig) -> None:
    body = {"argv": ["true"], "array": "0-4", "idempotency_key": "sweep-1"}
    first = rig.world.call("alice", "POST", "/api/v1/jobs", body)
    again = rig.world.call("alice", "POST", "/api/v1/jobs", body)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["created"] is False
    assert len(tasks(rig, first.json()["id"])) == 5


def test_ten_thousand_tasks_in_one_call_and_a_cycle_sees_only_the_throttle(rig: Rig) -> None:
    array = submit(rig, array="0-9999%3", name="big")["id"]
    ctx = rig.world.app.state.gpucloud
    with ctx.sessions() as session:
        snap = read_snapshot(session)
    assert len(snap.pending) == 10_000 and len(snap.held) == 9_997
    rig.loop.tick()
    r = rig.world.call("admin", "GET", f"/api/v1/jobs?array={array}&state=running&limit=10")
    assert sorted(t["array_task_id"] for t in r.json()["items"]) == [0, 1, 2]


def cancel(rig: Rig, caller: str, **body: Any) -> dict[str, Any]:
    r = rig.world.call(caller, "POST", "/api/v1/jobs/cancel", body)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_cancel_many_by_array_task_name_and_user(rig: Rig) -> None:
    array = submit(rig, array="0-9%4")["id"]
    rig.loop.tick()
    by_task = {t["array_task_id"]: t["id"] for t in tasks(rig, array)}
    out = cancel(rig, "alice", jobs=[f"{array}_[1-2,8]", f"{array}_42", "999999"])
    assert out["requested"] == [by_task[1], by_task[2]] and out["cancelled"] == [by_task[8]]
    assert out["not_found"] == [f"{array}_42", "999999"]
    named = submit(rig, name="junk")["id"]
    amys = submit(rig, user="amy", name="junk")["id"]
    assert cancel(rig, "alice", name="junk")["cancelled"] == [named]  # only her own
    assert rig.job(amys)["state"] == "pending"
    assert cancel(rig, "alice", jobs=[str(amys)])["not_found"] == [str(amys)]
    assert cancel(rig, "alpha-admin", user="amy")["cancelled"] == [amys]
    rest = cancel(rig, "alice", jobs=[str(array)])
    assert sorted(rest["cancelled"] + rest["requested"] + rest["ended"]) == sorted(by_task.values())
    assert set(states(rig, array).values()) <= {"cancelled", "running"}
    r = rig.world.call("alice", "POST", "/api/v1/jobs/cancel", {})
    assert r.status_code == 422 and "refusing to cancel every job" in r.text
