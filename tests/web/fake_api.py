"""A stand-in for the gpucloud server inside the browser (Playwright ``page.route``): the dashboard's static files
from the package and canned ``/api/v1`` answers, e.g. the 10,240-GPU example cluster with every GPU held.
Used by test_dashboard_map10k.py and benchmarks/bench_dashboard.py."""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from gpucloud.model.cluster_file import load_cluster
from gpucloud.web import STATIC_DIR

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_10K = ROOT / "examples" / "clusters" / "gpu-cloud-10k.yaml"
BASE_URL = "http://gpucloud.test"
ORGS = ["tokyo-u", "kyoto-u", "osaka-u", "riken", "aist", "nii", "titech", "tohoku-u"]


def occupied_cluster(path: Path = CLUSTER_10K, orgs: list[str] = ORGS, down_every: int = 0,
                     reserved_every: int = 0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``GET /api/v1/cluster`` document of ``path`` with every GPU held (one job per node, orgs in turn),
    and those jobs as ``GET /api/v1/jobs`` items.

    With ``down_every`` = k, node n with n % k == 3 is down (no job); with ``reserved_every`` = k, node n with
    n % k == 5 is in an active reservation with its GPUs idle, n % k == 6 in one with its job running, and
    n % k == 7 has a reservation that has not started (its job runs; drawn as a plain busy node)."""
    cluster = load_cluster(path)
    jobs: list[dict[str, Any]] = []
    blocks = []
    busy_by_type = dict.fromkeys(cluster.gpu_types, 0)
    for block, rack_ids in zip(cluster.blocks, cluster.racks_by_block, strict=True):
        racks = []
        for r in rack_ids:
            nodes = []
            for n in cluster.nodes_by_rack[r]:
                node = cluster.nodes[n]
                doc: dict[str, Any] = {"name": node.name, "gpu_type": node.gpu_type, "state": "up",
                                       "state_reason": None, "reservation": None}
                down = bool(down_every) and n % down_every == 3
                slot = n % reserved_every if reserved_every and not down else -1
                if down:
                    doc.update(state="down", state_reason="PSU failure (ticket 4711)")
                if slot in (5, 6, 7):
                    doc["reservation"] = {"id": n, "name": f"workshop-{n}", "org": orgs[n % len(orgs)],
                                          "start": 1.7e9 + (86400 if slot == 7 else -3600), "end": 1.7e9 + 2 * 86400,
                                          "active": slot != 7}
                if down or slot == 5:
                    doc["gpus"] = [{"index": g, "busy": False, "job_id": None} for g in range(node.gpus)]
                else:
                    job_id = len(jobs) + 1
                    jobs.append(_job(job_id, orgs[n % len(orgs)], node.name, node.gpus, node.gpu_type))
                    doc["gpus"] = [{"index": g, "busy": True, "job_id": job_id} for g in range(node.gpus)]
                    busy_by_type[node.gpu_type] += node.gpus
                nodes.append(doc)
            racks.append({"name": cluster.racks[r].name, "nodes": nodes})
        blocks.append({"name": block.name, "racks": racks})
    types = [{"name": t.name, "memory_gb": t.memory_gb, "speed": t.speed, "total": cluster.gpus_by_type[t.name],
              "busy": busy_by_type[t.name]} for t in cluster.gpu_types.values()]
    doc_ = {"name": cluster.name, "description": cluster.description, "total_gpus": cluster.total_gpus,
            "busy_gpus": sum(busy_by_type.values()), "gpu_types": types, "blocks": blocks}
    return doc_, jobs


def _job(job_id: int, org: str, node: str, gpus: int, gpu_type: str) -> dict[str, Any]:
    return {"id": job_id, "name": f"train-{job_id}", "org": org, "project": "default", "user": f"{org}-user",
            "argv": ["python", "train.py"], "env": {}, "cwd": "", "num_gpus": gpus, "nodes": 1, "gpu_type": gpu_type,
            "walltime_s": 3600.0, "priority": "normal", "priority_value": 0, "preemptible": True, "grace_s": 10.0,
            "state": "running", "reason": "started", "cancel_requested": False, "submitted_at": 1.7e9,
            "queued_at": 1.7e9, "started_at": 1.7e9, "ended_at": None, "exit_code": None,
            "placement": [{"node": node, "gpus": list(range(gpus))}], "assigned_gpu_type": gpu_type, "run_count": 1,
            "preemptions": 0}


class FakeApi:
    """Route every request under :data:`BASE_URL` of a Playwright page: ``/`` and ``/static/`` from the package,
    ``/api/v1/{me,cluster,jobs,orgs}`` from the given documents. ``cluster_body`` is pre-serialised once."""

    def __init__(self, cluster: dict[str, Any], jobs: list[dict[str, Any]], role: str = "operator") -> None:
        self.cluster_body = json.dumps(cluster, separators=(",", ":"))
        self.jobs = jobs
        self.me = {"id": 1, "name": "admin", "role": role, "org": None}
        self.orgs = [{"id": i + 1, "name": o, "weight": 1.0, "created_at": 1.7e9}
                     for i, o in enumerate(sorted({j["org"] for j in jobs}))]

    def install(self, page: Any) -> None:
        page.route(f"{BASE_URL}/**", self._handle)

    def _handle(self, route: Any) -> None:
        url = urlsplit(route.request.url)
        path = url.path
        if path == "/" or path.startswith("/static/"):
            file = STATIC_DIR / ("index.html" if path == "/" else path.removeprefix("/static/"))
            ctype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            if file.suffix == ".js":
                ctype = "text/javascript"
            route.fulfill(status=200, body=file.read_bytes(), headers={"Content-Type": ctype})
            return
        q = parse_qs(url.query)
        if path == "/api/v1/cluster":
            return route.fulfill(status=200, body=self.cluster_body, content_type="application/json")
        if path == "/api/v1/me":
            return route.fulfill(status=200, json=self.me)
        if path == "/api/v1/orgs":
            return route.fulfill(status=200, json=self.orgs)
        if path == "/api/v1/jobs":
            state = q.get("state", [""])[0]
            items = [j for j in self.jobs if not state or j["state"] == state]
            limit, start = int(q.get("limit", ["100"])[0]), int(q.get("cursor", ["0"])[0])
            page_items = items[start:start + limit]
            nxt = start + limit if start + limit < len(items) else None
            return route.fulfill(status=200, json={"items": page_items, "next_cursor": nxt})
        route.fulfill(status=404, json={"detail": f"not in the fake API: {path}"})
