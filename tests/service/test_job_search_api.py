"""Finding jobs through the API: the job list's filters, text search, sort, pages by offset with a total, and what
each job cost; the queue's filters and pages with positions in the whole queue; how long a requeued job ran."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api_world import World
from money_rig import open_rig
from queue_info import set_queue_info

from gpucloud.model.job import JobState
from gpucloud.service.store.models import JobRow
from gpucloud.service.store.placement import PlacedNode
from gpucloud.service.transitions import apply_transition


def _move(world: World, job_id: int, *states: JobState, gpus: tuple[int, ...] = (0, 1)) -> None:
    with world.app.state.gpucloud.sessions.begin() as s:
        job = s.get(JobRow, job_id)
        assert job is not None
        for st in states:
            apply_transition(s, job, st, f"test: {st}", world.clock(),
                             placement=[PlacedNode("b0-r0-n1", gpus)], gpu_type="H100-80GB")


def _ids(world: World, user: str, query: str) -> list[int]:
    r = world.call(user, "GET", f"/api/v1/jobs?{query}")
    assert r.status_code == 200, r.text
    return [j["id"] for j in r.json()["items"]]


def test_filters_search_and_sort(world: World) -> None:
    a = world.submit("alice", name="train-llama", num_gpus=2)["id"]
    world.clock.advance(10)
    b = world.submit("alice", name="Eval-LLAMA", num_gpus=1)["id"]
    world.clock.advance(10)
    c = world.submit("amy", name="sweep", num_gpus=8, gpu_type="H100")["id"]
    world.clock.advance(10)
    d = world.submit("bob", name="train-resnet", num_gpus=4)["id"]
    world.call("alice", "POST", f"/api/v1/jobs/{b}/cancel")
    assert _ids(world, "admin", "q=llama") == [b, a]  # any case, newest first
    assert _ids(world, "admin", f"q=%23{c}") == [c]  # a job id
    assert _ids(world, "admin", "state=pending&state=cancelled") == [d, c, b, a]
    assert _ids(world, "admin", "state=cancelled") == [b]
    assert _ids(world, "admin", "project=default&org=beta") == [d]
    assert _ids(world, "admin", "gpu_type=H100-80GB") == [c]  # asked for; the others named no type
    assert _ids(world, "admin", "reason=CANCELLED+BY") == [b]
    assert _ids(world, "admin", f"submitted_after={world.clock.now - 15}") == [d, c]
    assert _ids(world, "admin", "submitted_before=2023-11-14T22:13:31Z") == [b, a]  # T0 + 11 s, as ISO 8601
    assert _ids(world, "admin", "sort=gpus") == [b, a, d, c]
    assert _ids(world, "admin", "sort=-gpus") == [c, d, a, b]
    assert _ids(world, "admin", "sort=name") == [b, c, a, d]  # Eval-LLAMA < sweep < train-llama < train-resnet
    assert _ids(world, "admin", "sort=user") == [b, a, c, d]  # alice (newest first), amy, bob
    assert _ids(world, "admin", "sort=-org") == [d, c, b, a]
    # visibility: a member finds only their own jobs, whatever they ask
    assert _ids(world, "alice", "q=train") == [a]
    assert _ids(world, "beta-admin", "sort=name") == [d]
    assert world.call("alice", "GET", "/api/v1/jobs?user=amy").status_code == 404
    r = world.call("admin", "GET", "/api/v1/jobs?sort=colour")
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "sort"
    r = world.call("admin", "GET", "/api/v1/jobs?submitted_after=yesterday")
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "submitted_after"


def test_pages_by_offset_count_every_match(world: World) -> None:
    ids = [world.submit("alice", name=f"job-{i}")["id"] for i in range(7)]
    world.submit("bob")
    pages: list[dict[str, Any]] = [world.call("alice", "GET", f"/api/v1/jobs?offset={o}&limit=3&sort=id").json()
                                   for o in (0, 3, 6)]
    assert [[j["id"] for j in p["items"]] for p in pages] == [ids[:3], ids[3:6], ids[6:]]
    assert {p["total"] for p in pages} == {7} and {p["next_cursor"] for p in pages} == {None}
    assert world.call("admin", "GET", "/api/v1/jobs?offset=0&limit=1&q=job-").json()["total"] == 7
    assert world.call("alice", "GET", "/api/v1/jobs").json()["total"] is None  # paging by cursor counts nothing
    r = world.call("admin", "GET", "/api/v1/jobs?sort=name&cursor=5")
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "cursor"


def test_queue_filters_pages_and_positions(world: World) -> None:
    ids = [world.submit(u, name=f"q-{u}-{i}", num_gpus=n)["id"]
           for i, (u, n) in enumerate([("alice", 1), ("bob", 2), ("amy", 4), ("alice", 8), ("bob", 1)])]
    with world.app.state.gpucloud.sessions.begin() as s:
        set_queue_info(s, {ids[1]: "quota", ids[3]: "no fitting nodes"}, list(reversed(ids)))
    whole = world.call("admin", "GET", "/api/v1/queue").json()
    assert [(e["position"], e["job"]["id"]) for e in whole["items"]] == list(enumerate(reversed(ids), 1))
    assert (whole["total_pending"], whole["total"]) == (5, 5)
    page = world.call("admin", "GET", "/api/v1/queue?offset=1&limit=2").json()
    assert [(e["position"], e["job"]["id"]) for e in page["items"]] == [(2, ids[3]), (3, ids[2])]
    assert (page["total_pending"], page["total"]) == (5, 5)
    alpha = world.call("alpha-admin", "GET", "/api/v1/queue?sort=-gpus").json()  # their org's, biggest first
    assert [(e["position"], e["job"]["id"]) for e in alpha["items"]] == [(2, ids[3]), (3, ids[2]), (5, ids[0])]
    assert (alpha["total_pending"], alpha["total"]) == (5, 3)
    assert [e["job"]["id"] for e in world.call("admin", "GET", "/api/v1/queue?reason=quota").json()["items"]] \
        == [ids[1]]
    mine = world.call("alice", "GET", "/api/v1/queue?user=alice&limit=1").json()
    assert [(e["position"], e["job"]["id"]) for e in mine["items"]] == [(2, ids[3])] and mine["total"] == 2
    assert world.call("bob", "GET", "/api/v1/queue?q=alice").json()["items"] == []  # beta sees beta's only
    r = world.call("admin", "GET", "/api/v1/queue?sort=ran")
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "sort"


def test_ran_for_counts_every_run_and_not_the_wait(world: World) -> None:
    jid = world.submit("alice", num_gpus=2)["id"]
    assert world.call("alice", "GET", f"/api/v1/jobs/{jid}").json()["ran_s"] is None
    _move(world, jid, JobState.ADMITTED, JobState.RUNNING)
    world.clock.advance(50)
    assert world.call("alice", "GET", f"/api/v1/jobs/{jid}").json()["ran_s"] == 50
    _move(world, jid, JobState.PREEMPTING)
    world.clock.advance(12)
    _move(world, jid, JobState.PENDING)  # requeued after 62 s of running (grace included)
    world.clock.advance(400)
    assert world.call("alice", "GET", f"/api/v1/jobs/{jid}").json()["ran_s"] == 62
    assert world.call("alice", "GET", "/api/v1/jobs").json()["items"][0]["ran_s"] == 62
    _move(world, jid, JobState.ADMITTED, JobState.RUNNING)
    world.clock.advance(30)
    assert world.call("alice", "GET", f"/api/v1/jobs/{jid}").json()["ran_s"] == 92
    _move(world, jid, JobState.SUCCEEDED)
    world.clock.advance(1000)
    assert world.call("alice", "GET", f"/api/v1/jobs/{jid}").json()["ran_s"] == 92
    other = world.submit("alice")["id"]
    _move(world, other, JobState.ADMITTED, JobState.RUNNING, JobState.PREEMPTING, JobState.PENDING,
          JobState.CANCELLED)  # cancelled while waiting again: its one run counts, the wait does not
    assert world.call("alice", "GET", f"/api/v1/jobs/{other}").json()["ran_s"] == 0


def test_the_list_carries_what_each_job_cost(db_url: str, tmp_path: Path) -> None:
    """2 points per GPU-hour: a 2-GPU job held 4 points for its hour and was charged 10 minutes (0.6667); one
    still running holds its 4; a job that never started has no cost."""
    tariff = {"tariffs": [{"name": "fy", "valid_from": 1_600_000_000, "points_per_gpu_hour": {"H100-80GB": "2"}}]}
    with open_rig(db_url, tmp_path, tariff) as rig:
        rig.top_up("100")
        done, running = rig.submit(walltime="1h"), rig.submit(walltime="1h")
        rig.loop.tick()
        rig.clock.advance(600)
        rig.executor.finish(done)
        rig.loop.tick()
        waiting = rig.submit(num_gpus=4)
        items = {j["id"]: j for j in rig.world.call("alice", "GET", "/api/v1/jobs").json()["items"]}
        assert (items[done]["estimated_cost"], items[done]["final_cost"]) == ("4.0000", "0.6667")
        assert (items[running]["estimated_cost"], items[running]["final_cost"]) == ("4.0000", None)
        assert (items[waiting]["estimated_cost"], items[waiting]["final_cost"]) == (None, None)
        for jid in (done, running):
            detail = rig.job(jid)
            assert (detail["estimated_cost"], detail["final_cost"]) == (items[jid]["estimated_cost"],
                                                                        items[jid]["final_cost"])
