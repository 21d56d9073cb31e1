"""Prometheus metrics at ``/metrics``: jobs by state, GPUs in use and in total, the control loop's tick
duration, and submissions.

Job and GPU counts are read from the database when Prometheus scrapes (a custom collector), so every server
replica reports the same numbers. Each app gets its own :class:`CollectorRegistry` (no global state).
Submissions are counted by a small ASGI middleware around ``POST /api/v1/jobs`` (by response status), so the
API package needs no change.
"""

from __future__ import annotations

import os
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram, make_asgi_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.routing import Route

from gpucloud.model.cluster import Cluster
from gpucloud.model.job import JobState
from gpucloud.service.jobs import HOLDING_STATES
from gpucloud.service.store.models import JobRow
from gpucloud.service.store.placement import placement_from_json

SUBMIT_PATH = "/api/v1/jobs"
TICK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

ASGIApp = Callable[..., Any]


def multiprocess_dir() -> str | None:
    """The directory of shared metric files (``PROMETHEUS_MULTIPROC_DIR``), if this is one process of several."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class StateCollector(Collector):
    """``gpucloud_jobs{state}``, ``gpucloud_gpus_total{gpu_type}``, ``gpucloud_gpus_in_use{gpu_type}``."""

    def __init__(self, sessions: sessionmaker[Session], cluster: Callable[[], Cluster]) -> None:
        self.sessions = sessions
        self.cluster = cluster

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self.sessions() as session:
            by_state = dict(session.execute(select(JobRow.state, func.count()).group_by(JobRow.state)).all())
            held = session.execute(select(JobRow.assigned_gpu_type, JobRow.placement)
                                   .where(JobRow.state.in_([s.value for s in HOLDING_STATES]))).all()
        jobs = GaugeMetricFamily("gpucloud_jobs", "Jobs by state", labels=["state"])
        for state in JobState:
            jobs.add_metric([state.value], float(by_state.get(state.value, 0)))
        yield jobs
        total: Tally[str] = Tally()
        for node in self.cluster().nodes:
            total[node.gpu_type] += node.gpus
        in_use: Tally[str] = Tally()
        for gpu_type, placement in held:
            in_use[gpu_type or "unknown"] += sum(len(p.gpus) for p in placement_from_json(placement))
        gpus_total = GaugeMetricFamily("gpucloud_gpus_total", "GPUs in the cluster", labels=["gpu_type"])
        gpus_used = GaugeMetricFamily("gpucloud_gpus_in_use", "GPUs held by admitted, running or preempting jobs",
                                      labels=["gpu_type"])
        for gpu_type in sorted(set(total) | set(in_use)):
            gpus_total.add_metric([gpu_type], float(total[gpu_type]))
            gpus_used.add_metric([gpu_type], float(in_use[gpu_type]))
        yield gpus_total
        yield gpus_used


class Metrics:
    def __init__(self, sessions: sessionmaker[Session], cluster: Callable[[], Cluster]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(StateCollector(sessions, cluster))
        # ``gpucloud server --workers N`` sets PROMETHEUS_MULTIPROC_DIR for its processes: the counters and the
        # histogram then live in files there, and every API worker reports the sum over all processes (the
        # control loop's ticks included). Without it, they are ordinary in-process metrics.
        shared = multiprocess_dir() is not None
        if shared:
            MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]
        own = None if shared else self.registry
        self.tick_seconds = Histogram(
            "gpucloud_control_cycle_seconds", "Duration of control loop cycles; scheduled=yes when the core ran",
            ["scheduled"], buckets=TICK_BUCKETS, registry=own)
        self.submits = Counter("gpucloud_submits", "Job submissions by outcome (created, duplicate, rejected)",
                               ["outcome"], registry=own)

    def observe_tick(self, seconds: float, scheduled: bool) -> None:
        """The control loop's ``on_cycle`` hook."""
        self.tick_seconds.labels(scheduled="yes" if scheduled else "no").observe(seconds)

    def count_submit(self, status: int) -> None:
        outcome = "created" if status == 201 else "duplicate" if status == 200 else "rejected"
        self.submits.labels(outcome=outcome).inc()

    def install(self, app: FastAPI) -> None:
        """Serve ``/metrics`` (the path itself: a mount would redirect it to ``/metrics/``) and count
        submissions."""
        app.router.routes.append(Route("/metrics", _AsgiEndpoint(make_asgi_app(registry=self.registry)),
                                       methods=["GET"], include_in_schema=False))
        app.add_middleware(_SubmitCounter, metrics=self)  # what the fast path passes on to the route
        app.state.gpucloud.count_submit = self.count_submit  # what the fast path answers itself


class _AsgiEndpoint:
    """An ASGI app as a route's endpoint (Starlette takes a plain function for a request handler)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: ASGIApp, send: ASGIApp) -> None:
        await self.app(scope, receive, send)


class _SubmitCounter:
    """Pure ASGI middleware: counts ``POST /api/v1/jobs`` by the status of the response."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: ASGIApp, send: ASGIApp) -> None:
        if scope.get("type") != "http" or scope.get("method") != "POST" or scope.get("path") != SUBMIT_PATH:
            await self.app(scope, receive, send)
            return

        async def counting_send(message: dict[str, Any]) -> None:
            if message.get("type") == "http.response.start":
                self.metrics.count_submit(int(message.get("status", 0)))
            await send(message)

        await self.app(scope, receive, counting_send)
