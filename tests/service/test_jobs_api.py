"""Jobs through the API: submit, list (filters, pagination), get with events, cancel, queue, logs, cluster."""

from __future__ import annotations

from api_world import World
from queue_info import set_queue_info
from sqlalchemy import text

from gpucloud.model.job import JobState
from gpucloud.service.store.models import JobRow
from gpucloud.service.store.placement import PlacedNode
from gpucloud.service.transitions import apply_transition


def _move(world: World, job_id: int, *states: JobState) -> None:
    with world.app.state.gpucloud.sessions.begin() as s:
        job = s.get(JobRow, job_id)
        assert job is not None
        for st in states:
            apply_transition(s, job, st, f"test: {st}", world.clock(),
                             placement=[PlacedNode("b0-r0-n1", (2, 3))], gpu_type="H100-80GB")


def test_submit_get_and_events(world: World) -> None:
    job = world.submit("alice", argv=["python", "train.py"], num_gpus=2, walltime="1h30m", priority="high",
                       env={"A": "1"}, name="train", cwd="/tmp", grace="30s")
    assert job["created"] is True and job["state"] == "pending"
    assert (job["org"], job["project"], job["user"]) == ("alpha", "default", "alice")
    assert job["walltime_s"] == 5400 and job["grace_s"] == 30
    assert (job["priority"], job["priority_value"]) == ("high", 10)
    assert world.changes == [1]
    got = world.call("alice", "GET", f"/api/v1/jobs/{job['id']}").json()
    assert got["argv"] == ["python", "train.py"] and got["env"] == {"A": "1"}
    assert got["events"] == [{"at": world.clock.now, "from_state": None, "to_state": "pending",
                              "reason": "submitted by alice"}]


def test_walltime_forms(world: World) -> None:
    for given, seconds in [(90, 90), ("90s", 90), ("30m", 1800), ("1h30m", 5400), ("2d", 172800), ("45", 45),
                           (1.5, 1.5)]:
        assert world.submit("alice", walltime=given)["walltime_s"] == seconds


def test_idempotency_key_gives_one_job(world: World) -> None:
    first = world.call("alice", "POST", "/api/v1/jobs", {"argv": ["true"], "idempotency_key": "k1"})
    again = world.call("alice", "POST", "/api/v1/jobs", {"argv": ["true"], "idempotency_key": "k1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"] and again.json()["created"] is False
    other = world.call("amy", "POST", "/api/v1/jobs", {"argv": ["true"], "idempotency_key": "k1"})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    assert len(world.call("admin", "GET", "/api/v1/jobs").json()["items"]) == 2
    assert world.changes == [1, 1]


def test_list_filters_and_pagination(world: World) -> None:
    ids = [world.submit("alice")["id"] for _ in range(5)] + [world.submit("bob")["id"] for _ in range(2)]
    world.call("alice", "POST", f"/api/v1/jobs/{ids[0]}/cancel")
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        url = "/api/v1/jobs?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = world.call("admin", "GET", url).json()
        seen += [j["id"] for j in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True) and pages == 3
    by = lambda q: [j["id"] for j in world.call("admin", "GET", f"/api/v1/jobs?{q}").json()["items"]]  # noqa: E731
    assert by("org=beta") == ids[:4:-1]
    assert by("user=alice&state=pending") == ids[4:0:-1]
    assert by("state=cancelled") == [ids[0]]
    assert world.call("admin", "GET", "/api/v1/jobs?org=nope").status_code == 404


def test_cancel_pending_is_immediate(world: World) -> None:
    jid = world.submit("alice")["id"]
    world.clock.advance(5)
    r = world.call("alice", "POST", f"/api/v1/jobs/{jid}/cancel")
    assert r.status_code == 200 and r.json()["state"] == "cancelled" and r.json()["ended_at"] == world.clock.now
    events = world.call("alice", "GET", f"/api/v1/jobs/{jid}").json()["events"]
    assert events[-1] == {"at": world.clock.now, "from_state": "pending", "to_state": "cancelled",
                          "reason": "cancelled by alice"}
    assert world.call("alice", "POST", f"/api/v1/jobs/{jid}/cancel").status_code == 409


def test_cancel_running_is_requested(world: World) -> None:
    jid = world.submit("alice", num_gpus=2)["id"]
    _move(world, jid, JobState.ADMITTED, JobState.RUNNING)
    world.changes.clear()
    r = world.call("alpha-admin", "POST", f"/api/v1/jobs/{jid}/cancel").json()
    assert (r["state"], r["cancel_requested"], r["reason"]) == ("running", True, "cancel requested by alpha-admin")
    assert world.changes == [1]
    _move(world, jid, JobState.CANCELLED)
    assert world.call("alice", "GET", f"/api/v1/jobs/{jid}").json()["state"] == "cancelled"


def test_queue_positions_and_reasons(world: World) -> None:
    a = world.submit("alice")["id"]
    b = world.submit("bob", priority="urgent")["id"]
    c = world.submit("amy", priority="low")["id"]
    q = world.call("admin", "GET", "/api/v1/queue").json()
    assert [(e["position"], e["job"]["id"]) for e in q["items"]] == [(1, b), (2, a), (3, c)]
    with world.app.state.gpucloud.sessions.begin() as s:
        set_queue_info(s, {a: "quota", c: "no fitting nodes"}, [c, a, b])
    q = world.call("alice", "GET", "/api/v1/queue").json()
    assert q["total_pending"] == 3
    assert [(e["position"], e["job"]["id"], e["job"]["reason"]) for e in q["items"]] == [
        (1, c, "no fitting nodes"), (2, a, "quota")]


def _store_log(world: World, jid: int, rank: int, stream: str, *pieces: bytes) -> None:
    """Store bytes of a rank's stream as the control loop does, piece by piece."""
    from gpucloud.service.logs import StreamEnd, append

    end = StreamEnd()
    with world.app.state.gpucloud.sessions.begin() as s:
        for piece in pieces:
            append(s, (jid, rank, stream), end, end.end, piece)


def test_logs_paging(world: World) -> None:
    jid = world.submit("alice")["id"]
    _store_log(world, jid, 0, "stdout", "hé".encode(), "llo wörld\n".encode())
    _store_log(world, jid, 0, "stderr", b"oops\n")
    first = world.call("alice", "GET", f"/api/v1/jobs/{jid}/logs?limit=2").json()
    assert first["text"] == "h" and first["next_offset"] == 1  # the 2-byte é is not split
    rest = world.call("alice", "GET", f"/api/v1/jobs/{jid}/logs?offset=1").json()
    assert rest["text"] == "éllo wörld\n" and rest["next_offset"] == rest["size"] == 14 and not rest["done"]
    err = world.call("alice", "GET", f"/api/v1/jobs/{jid}/logs?stream=stderr").json()
    assert err["text"] == "oops\n"
    world.call("alice", "POST", f"/api/v1/jobs/{jid}/cancel")
    assert world.call("alice", "GET", f"/api/v1/jobs/{jid}/logs?offset=14").json()["done"] is True
    assert world.call("bob", "GET", f"/api/v1/jobs/{jid}/logs").status_code == 404  # not bob's


def test_logs_of_every_rank_in_pieces_across_reads(world: World) -> None:
    jid = world.submit("alice", num_gpus=16, nodes=2)["id"]
    with world.app.state.gpucloud.sessions.begin() as s:
        job = s.get(JobRow, jid)
        assert job is not None
        apply_transition(s, job, JobState.ADMITTED, "admitted", world.clock(), gpu_type="H100-80GB",
                         placement=[PlacedNode(f"b0-r0-n{n}", tuple(range(8))) for n in (0, 1)])
    chunks = [bytes([65 + i % 26]) * 40_000 for i in range(5)]  # merged into 64 KiB pieces, split across them
    _store_log(world, jid, 1, "stdout", *chunks)
    whole = b"".join(chunks).decode()
    got, offset = "", 0
    while True:
        page = world.call("alice", "GET", f"/api/v1/jobs/{jid}/logs?rank=1&offset={offset}&limit=30000").json()
        got += page["text"]
        if page["next_offset"] >= page["size"]:
            break
        offset = page["next_offset"]
    assert got == whole and page["size"] == len(whole)
    assert world.call("alice", "GET", f"/api/v1/jobs/{jid}/logs").json()["size"] == 0  # rank 0 printed nothing
    bad = world.call("alice", "GET", f"/api/v1/jobs/{jid}/logs?rank=2")
    assert bad.status_code == 422 and "rank" in bad.text
    with world.app.state.gpucloud.sessions() as s:
        pieces = s.execute(text("SELECT count(*) FROM job_logs WHERE job_id = :j"), {"j": jid}).scalar()
    assert pieces == 3  # 5 reads of 40,000 bytes: appended to the last piece while it is under 64 KiB


def test_cluster_view_shows_holders(world: World) -> None:
    jid = world.submit("alice", num_gpus=2)["id"]
    _move(world, jid, JobState.ADMITTED)
    view = world.call("alice", "GET", "/api/v1/cluster").json()
    assert (view["total_gpus"], view["busy_gpus"]) == (32, 2)
    node = view["blocks"][0]["racks"][0]["nodes"][1]
    assert node["name"] == "b0-r0-n1"
    assert [(g["index"], g["job_id"]) for g in node["gpus"] if g["busy"]] == [(2, jid), (3, jid)]
    hidden = world.call("bob", "GET", "/api/v1/cluster").json()["blocks"][0]["racks"][0]["nodes"][1]["gpus"][2]
    assert hidden == {"index": 2, "busy": True, "job_id": None}


def test_reload_and_quotas(world: World) -> None:
    world.changes.clear()
    r = world.call("admin", "POST", "/api/v1/cluster/reload").json()
    assert (r["total_gpus"], r["nodes"], r["warnings"]) == (32, 4, [])
    q = world.call("admin", "PUT", "/api/v1/orgs/alpha/quotas/H100-80GB", {"guaranteed": 8, "borrow_limit": 4})
    assert q.json() == {"org": "alpha", "gpu_type": "H100-80GB", "guaranteed": 8, "borrow_limit": 4}
    assert world.call("alpha-admin", "GET", "/api/v1/orgs/alpha/quotas").json() == [q.json()]
    assert world.changes == [1, 1]
    bad = world.call("admin", "PUT", "/api/v1/orgs/alpha/quotas/B200-180GB", {"guaranteed": 8})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "gpu_type"


def test_operator_names_the_org(world: World) -> None:
    r = world.call("admin", "POST", "/api/v1/jobs", {"argv": ["true"]})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "org"
    assert world.submit("admin", org="beta")["org"] == "beta"
    world.call("admin", "POST", "/api/v1/orgs/beta/projects", {"name": "vision"})
    assert world.submit("bob", project="vision")["project"] == "vision"
