"""Failover: two ``gpucloud server`` replicas on one PostgreSQL database, both running Ray jobs through the same
real Ray cluster. While clients submit jobs to both replicas and jobs run on the Ray nodes, the leader (the
replica running the control loop) is killed with SIGKILL. The other replica must lead within 10 s, and in the end
every acknowledged job exists once, none ran twice, and no GPU was given to two jobs at once.

PostgreSQL only: skipped when no server answers, a failure instead when ``GPUCLOUD_REQUIRE_POSTGRES`` is set."""

from __future__ import annotations

import itertools
import os
import secrets
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from ray_cluster import RayNodes
from server_proc import ServerProcess, kill_recorded, wait_for

pytestmark = [pytest.mark.xdist_group("ray"), pytest.mark.slow, pytest.mark.postgres]

PG = "host=127.0.0.1 port=5432 user=postgres connect_timeout=3"
TERMINAL = ("succeeded", "failed", "cancelled", "timed_out")


@pytest.fixture
def database() -> Iterator[str]:
    try:
        import psycopg

        admin = psycopg.connect(f"{PG} dbname=postgres", autocommit=True)
    except Exception as exc:
        if os.environ.get("GPUCLOUD_REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 is unreachable: {exc}")
    name = f"gpucloud_failover_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def leader_epoch(database: str) -> int:
    import psycopg

    with psycopg.connect(f"{PG} dbname={database}") as conn:
        row = conn.execute("SELECT leader_epoch FROM scheduler_state WHERE id = 1").fetchone()
        assert row is not None
        return int(row[0])


class Storm:
    """Clients submitting jobs to the replicas in turn; an unanswered submit is sent again, with the same
    idempotency key, to the other replica. ``acked``: job id → key of every acknowledged submit."""

    def __init__(self, replicas: list[ServerProcess], token: str, argv: list[str]) -> None:
        self.replicas = replicas
        self.headers = {"Authorization": f"Bearer {token}"}
        self.argv = argv
        self.acked: dict[int, str] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(4)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def _run(self, n: int) -> None:
        i = 0
        while not self.stop.is_set():
            key = f"storm-{n}-{i}"
            body = {"argv": self.argv, "num_gpus": 1, "walltime": 300, "org": "lab", "idempotency_key": key}
            for attempt in range(40):
                server = self.replicas[(n + i + attempt) % len(self.replicas)]
                try:
                    r = httpx.post(f"{server.url}/api/v1/jobs", json=body, headers=self.headers, timeout=5)
                except httpx.HTTPError:
                    time.sleep(0.1)
                    continue
                if r.status_code in (200, 201):
                    with self.lock:
                        self.acked[int(r.json()["id"])] = key
                    break
                time.sleep(0.1)
            i += 1
            time.sleep(0.05)


def test_the_other_replica_takes_over_without_losing_or_repeating_anything(
        ray_nodes: RayNodes, database: str, tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
    extra = ("--database-url", url, "--executor", "ray", "--ray-address", ray_nodes.address,
             "--ray-agent-dir", ray_nodes.agent_dir)
    a = ServerProcess(tmp_path / "a", "4x4:H100", tick=0.1, extra=extra)
    b = ServerProcess(tmp_path / "b", "4x4:H100", tick=0.1, extra=extra)
    a.start()  # migrates, creates the operator, and leads
    assert a.token is not None
    b.token = a.token
    b.start()
    try:
        with httpx.Client(base_url=a.url, headers={"Authorization": f"Bearer {a.token}"}) as client:
            assert client.post("/api/v1/orgs", json={"name": "lab"}).status_code == 201
        marks = ray_nodes.mountpoint / "marks"  # on each node's own disk
        script = f"mkdir -p {marks}; echo $$ >> {marks}/$GPUCLOUD_JOB_ID; sleep 1"
        storm = Storm([a, b], a.token, ["sh", "-c", script])
        epoch = leader_epoch(database)
        storm.start()
        time.sleep(6)  # jobs come and go on the Ray nodes
        a.kill9()
        killed = time.monotonic()
        wait_for("the other replica to lead", lambda: leader_epoch(database) > epoch, 10, 0.05)
        took_over = time.monotonic() - killed
        time.sleep(5)  # the storm goes on against the survivor
        storm.finish()
        acked = dict(storm.acked)
        assert len(acked) > 20

        with httpx.Client(base_url=b.url, headers={"Authorization": f"Bearer {b.token}"}, timeout=30) as client:
            def all_done() -> bool:
                page = client.get("/api/v1/jobs", params={"limit": 1000}).json()["items"]
                return len(page) >= len(acked) and all(j["state"] in TERMINAL for j in page)

            wait_for("every job to end", all_done, 120, 0.5)
            jobs = client.get("/api/v1/jobs", params={"limit": 1000}).json()["items"]
            details = {j["id"]: client.get(f"/api/v1/jobs/{j['id']}").json() for j in jobs}
        print(f"failover: the survivor led {took_over:.1f}s after the kill; {len(acked)} jobs acknowledged")

        # every acknowledged job exists, once: no idempotency key made two jobs
        assert set(acked) <= set(details)
        import psycopg

        with psycopg.connect(f"{PG} dbname={database}") as conn:
            keys = Counter(str(k) for (k,) in conn.execute("SELECT idempotency_key FROM jobs"))
        assert max(keys.values()) == 1 and set(keys) >= set(acked.values())
        assert {j["state"] for j in jobs} == {"succeeded"}, Counter(j["state"] for j in jobs)
        # none ran twice: one mark per job on the node it ran on, one run
        for jid, job in details.items():
            node = job["placement"][0]["node"]
            runs = (ray_nodes.node_dir(node) / "marks" / str(jid)).read_text().split()
            assert (len(runs), job["run_count"]) == (1, 1), (jid, runs, job["events"])
        # no GPU held by two jobs at once
        held: defaultdict[tuple[str, int], list[tuple[float, float, int]]] = defaultdict(list)
        for jid, job in details.items():
            for p in job["placement"]:
                for gpu in p["gpus"]:
                    held[(p["node"], gpu)].append((job["started_at"], job["ended_at"], jid))
        for gpu, spans in held.items():
            spans.sort()
            for (_, end, first), (start, _, second) in itertools.pairwise(spans):
                assert end <= start, f"{gpu} held by jobs {first} and {second} at once"
    finally:
        for server in (a, b):
            server.stop()
        kill_recorded(ray_nodes.base / "nodes")
