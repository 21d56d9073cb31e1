"""The Ray executor (``--executor ray``): each job's ranks run on the Ray nodes that hold the cluster nodes the core
chose, one rank per node, started by that node's agent (:mod:`.ray_agent`) pinned there with hard node affinity.

- **Node map.** A Ray node holds the gpucloud node named by its label ``gpucloud-node`` (``ray start --labels``) or
  by a custom resource ``gpucloud-node:<name>``. The map is refreshed every second in a background thread; a node
  that disappears from Ray (or whose agent dies) is *lost*: its ranks end as lost (a preemptible job is requeued)
  and the loop marks the node down with the reason; when Ray sees the node again, it comes back up.
- **Launch** runs in a thread pool (:mod:`.launches`): rank 0's agent picks the rendezvous port, then every rank is
  started by its agent (the same keeper as locally: as the job's OS account, fenced by the leader's epoch, recorded
  under (job, attempt)). A rank that cannot start (a missing program or directory on that host) fails the launch
  and the ranks already started are killed.
- **Watching** is one long poll per node in flight at a time (it returns as soon as a rank there ends, or after a
  second), so a slow or unreachable host delays only its own jobs; the same poll carries log reads.
- The agents are detached actors: a server restart (or a failover to another replica) finds them by name and
  re-attaches to their ranks.
"""

from __future__ import annotations

import logging
import signal as signals
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpucloud.service.executors.base import (
    ExitStatus,
    Found,
    Handle,
    LaunchError,
    LaunchSpec,
    LogCursor,
    LogPiece,
    RankExit,
    Report,
)
from gpucloud.service.executors.host import RankRef, RankRequest, handle_base
from gpucloud.service.executors.launches import LaunchQueue
from gpucloud.service.executors.rank_env import check_ranks, rank_env
from gpucloud.service.executors.ray_agent import NodeAgent, Poll

log = logging.getLogger("gpucloud.executor")

NAMESPACE = "gpucloud"
LABEL = "gpucloud-node"
RESOURCE_PREFIX = "gpucloud-node:"


@dataclass(frozen=True)
class RayNode:
    """A live Ray node holding a gpucloud node."""

    name: str
    node_id: str
    ip: str


def agent_name(installation: str, node: str) -> str:
    """The name of the agent actor of ``node`` for one installation (several may share a Ray cluster)."""
    return f"gpucloud-agent:{installation[:12] or 'default'}:{node}"


def node_map(nodes: list[dict[str, Any]]) -> dict[str, RayNode]:
    """gpucloud node name → the live Ray node holding it, from ``ray.nodes()``."""
    out: dict[str, RayNode] = {}
    for n in nodes:
        if not n.get("Alive"):
            continue
        names = {str(v) for k, v in (n.get("Labels") or {}).items() if k == LABEL}
        names |= {k[len(RESOURCE_PREFIX):] for k in (n.get("Resources") or {}) if k.startswith(RESOURCE_PREFIX)}
        for name in names:
            out[name] = RayNode(name, str(n["NodeID"]), str(n.get("NodeManagerAddress", "")))
    return out


@dataclass
class _Watch:
    """The ranks watched on one node, and its poll in flight."""

    refs: dict[tuple[str, int, int], RankRef] = field(default_factory=dict)
    poll: Any = None  # ObjectRef of the poll in flight
    asked: list[RankRef] = field(default_factory=list)


class RayExecutor:
    """Runs jobs on a Ray cluster; see the module docstring."""

    name: str = "ray"
    side_effects: bool = True

    def __init__(self, address: str = "auto", agent_dir: str = "/var/tmp/gpucloud-agent/{node}",
                 launch_timeout_s: float = 30.0, launch_threads: int = 32, poll_wait_s: float = 1.0,
                 monitor_s: float = 1.0) -> None:
        try:
            import ray
        except ImportError:
            raise LaunchError("the ray executor needs Ray: pip install 'gpucloud[ray]'") from None
        self._ray: Any = ray  # an optional dependency: used untyped
        if not ray.is_initialized():
            self._ray.init(address=address, namespace=NAMESPACE, log_to_driver=False, logging_level=logging.WARNING)
        self.agent_dir = agent_dir
        self.launch_timeout_s = launch_timeout_s
        self.poll_wait_s = poll_wait_s
        self.monitor_s = monitor_s
        self.launches = LaunchQueue(launch_threads, "ray")
        self._actor_class = self._ray.remote(num_cpus=0, max_concurrency=64, max_restarts=0)(NodeAgent)
        self._lock = threading.Lock()
        self._nodes: dict[str, RayNode] = {}
        self._agents: dict[str, Any] = {}
        self._watch: dict[str, _Watch] = {}
        self._lost: dict[str, str] = {}
        self._down: dict[str, str] = {}
        self._up: set[str] = set()
        self._reported: set[tuple[str, int, int]] = set()
        self._pending: list[RankExit] = []
        self._notify: Callable[[], None] | None = None
        self._epoch = 0
        self._installation = ""
        self._stop = threading.Event()
        self._refresh_nodes()
        self._monitor = threading.Thread(target=self._run_monitor, name="gpucloud-ray-monitor", daemon=True)
        self._monitor.start()

    # -- nodes and agents -----------------------------------------------------------------------------------

    def _refresh_nodes(self) -> bool:
        """Read the node map; note the nodes lost and back since the last read. True if anything changed."""
        current = node_map(self._ray.nodes())
        with self._lock:
            before = self._nodes
            self._nodes = current
            changed = False
            for name, old in before.items():
                new = current.get(name)
                if new is None or new.node_id != old.node_id:
                    self._node_lost(name, f"lost the host of {name}: Ray node {old.node_id[:12]} ({old.ip}) is gone")
                    changed = True
            for name in current.keys() - before.keys():
                self._up.add(name)
                self._down.pop(name, None)
                changed = True
            return changed

    def _node_lost(self, name: str, why: str) -> None:
        """(under the lock) The node's agent and ranks are gone: its watched ranks end as lost."""
        self._agents.pop(name, None)
        self._down[name] = why
        self._up.discard(name)
        watch = self._watch.pop(name, None)
        if watch is not None:
            for ref in watch.refs.values():
                if ref.key not in self._reported:
                    self._reported.add(ref.key)
                    self._pending.append(RankExit(ref.job_id, ref.rank, ExitStatus(None, why, time.time(), lost=True)))

    def _agent(self, name: str) -> Any:
        """The agent actor of gpucloud node ``name`` (created on its Ray node if there is none yet)."""
        with self._lock:
            agent = self._agents.get(name)
        return agent if agent is not None else self._start_agents([name])[name]

    def _start_agents(self, names: Sequence[str]) -> dict[str, Any]:
        """Find or create the agents of these nodes, all at once, check where they run and fence them with the
        current epoch. :class:`LaunchError` if a node has no Ray node or its agent does not answer."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        with self._lock:
            nodes = {name: self._nodes.get(name) for name in names}
        for name, node in nodes.items():
            if node is None:
                raise LaunchError(f"no Ray node holds the cluster node {name!r} (label {LABEL}={name} or resource "
                                  f"{RESOURCE_PREFIX}{name})")
        agents = {name: self._actor_class.options(
            name=agent_name(self._installation, name), namespace=NAMESPACE, lifetime="detached",
            get_if_exists=True, scheduling_strategy=NodeAffinitySchedulingStrategy(node.node_id, soft=False),
        ).remote(name, self.agent_root(name)) for name, node in nodes.items() if node is not None}
        calls = {name: agent.hello.remote() for name, agent in agents.items()}  # all at once, then each answer
        problems: list[str] = []
        for name, call in calls.items():
            node = nodes[name]
            try:
                hello = self._ray.get(call, timeout=self.launch_timeout_s)
            except Exception as exc:
                problems.append(f"the agent of {name!r} does not answer: {type(exc).__name__}")
                del agents[name]
                continue
            if node is not None and hello["ray_node"] != node.node_id:  # left on a node gone under that name
                self._ray.kill(agents.pop(name))
                problems.append(f"the agent of {name!r} ran on another Ray node; it was stopped, try again")
        self._ray.get([a.fence.remote(self._epoch) for a in agents.values()], timeout=self.launch_timeout_s)
        with self._lock:
            self._agents.update(agents)
        if problems:
            raise LaunchError("; ".join(problems))
        return agents

    def agent_root(self, node: str) -> str:
        """Where the agent of ``node`` keeps its files on its host: one directory per installation."""
        return str(Path(self.agent_dir.format(node=node)) / (self._installation or "default"))

    def _run_monitor(self) -> None:
        """Refresh the node map every ``monitor_s``; wake the loop when a poll answered or the map changed."""
        next_refresh = time.monotonic() + self.monitor_s
        while not self._stop.is_set():
            with self._lock:
                polls = [w.poll for w in self._watch.values() if w.poll is not None]
            ready = False
            if polls:
                try:
                    done, _ = self._ray.wait(polls, num_returns=1, timeout=0.1)
                    ready = bool(done)
                except Exception:
                    ready = True
            else:
                self._stop.wait(0.1)
            if time.monotonic() >= next_refresh:
                next_refresh = time.monotonic() + self.monitor_s
                try:
                    ready = self._refresh_nodes() or ready
                except Exception:
                    log.warning("cannot read Ray's node list", exc_info=True)
            notify = self._notify
            if ready and notify is not None:
                notify()
                if polls:
                    self._stop.wait(0.01)  # the loop collects it; do not spin on the same ready poll

    # -- the executor interface -----------------------------------------------------------------------------

    def bind(self, notify: Callable[[], None], epoch: int, installation: str = "") -> None:
        self._epoch = epoch
        self._installation = installation
        self.launches.notify = notify
        self._notify = notify
        with self._lock:
            self._agents.clear()
            self._watch.clear()
            self._reported.clear()
            self._pending.clear()
            self._up = set(self._nodes)
            self._down.clear()
        try:
            self._start_agents(list(self._nodes))  # fences every host before the loop recovers
        except Exception as exc:
            log.warning("cannot reach every node's agent (%s); the others are fenced at their first use", exc)

    def launch(self, spec: LaunchSpec) -> None:
        self.launches.submit(spec.job_id, lambda: self.launch_now(spec))

    def launch_now(self, spec: LaunchSpec) -> Handle:
        """Start every rank on its node (blocks); :class:`LaunchError` with the reason if any cannot start, and then
        the ranks that did are killed."""
        nodes = check_ranks(spec)
        agents = [self._agent(n.node) for n in nodes]
        ray = self._ray
        with self._lock:
            master = self._nodes[nodes[0].node].ip
        # a gang's ranks need rank 0's port before they start; a single rank gets one from its own agent
        port = ray.get(agents[0].free_port.remote(), timeout=self.launch_timeout_s) if len(nodes) > 1 else None
        calls = [agent.start.remote(self._epoch, RankRequest(
            spec.job_id, spec.attempt, n.rank, spec.argv, rank_env(spec, n, master, port), spec.cwd, spec.account))
            for agent, n in zip(agents, nodes, strict=True)]
        data = handle_base(len(nodes), spec.attempt)
        started: list[tuple[Any, RankRef]] = []
        problems: list[str] = []
        for agent, node, call in zip(agents, nodes, calls, strict=True):
            try:
                got = ray.get(call, timeout=self.launch_timeout_s)
            except Exception as exc:
                got = f"the node's agent did not answer: {exc}"
            if isinstance(got, str):
                problems.append(got if len(nodes) == 1 else f"rank {node.rank} ({node.node}): {got}")
            else:
                started.append((agent, got))
                with self._lock:
                    ip = self._nodes[node.node].ip if node.node in self._nodes else "?"
                data.update(got.to_handle(node.node, ip))
        if problems:
            for agent, ref in started:
                agent.signal.remote([ref], signals.SIGKILL)
            raise LaunchError("; ".join(problems))
        return Handle(self.name, spec.job_id, data)

    def collect(self, watched: Mapping[str, Handle], logs: Sequence[LogCursor] = ()) -> Report:
        report = Report()
        report.launched, report.launch_failed = self.launches.take()
        self._sync(watched)
        self._gather(report)
        cursors: dict[str, list[tuple[str, int, str, int, int]]] = {}
        for c in logs:
            node = self._node_of(watched.get(c.job_id), c.rank)
            if node is None or node not in self._nodes:  # its host is gone: nothing more can be read
                report.logs.append(LogPiece(c.job_id, c.rank, c.stream, c.offset, b"", final=True))
            else:
                cursors.setdefault(node, []).append((c.job_id, c.rank, c.stream, c.offset, c.limit))
        self._issue(cursors, report)
        with self._lock:
            report.exits += [e for e in self._pending if e.job_id in watched]
            self._pending.clear()
            report.nodes_down, self._down = dict(self._down), {}
            report.nodes_up, self._up = set(self._up), set()
        return report

    @staticmethod
    def _node_of(handle: Handle | None, rank: int) -> str | None:
        if handle is None or f"node.{rank}" not in handle.data:
            return None
        return handle.node(rank)

    def _sync(self, watched: Mapping[str, Handle]) -> None:
        """Watch the ranks of the watched jobs on their nodes; forget the others. A handle that cannot be read, or
        whose node is gone, ends at once."""
        wanted: dict[str, dict[tuple[str, int, int], RankRef]] = {}
        for job_id, handle in watched.items():
            for rank in range(handle.world):
                try:
                    ref = RankRef.of(handle, rank)
                except (ValueError, KeyError) as exc:
                    self._report_once(RankExit(job_id, rank, ExitStatus(None, f"cannot watch the job's ranks: {exc}")),
                                      (job_id, handle.attempt, rank))
                    continue
                node = handle.node(rank)
                if node not in self._nodes:
                    why = f"lost the host of {node}: no Ray node holds it any more"
                    self._report_once(RankExit(job_id, rank, ExitStatus(None, why, time.time(), lost=True)), ref.key)
                    continue
                wanted.setdefault(node, {})[ref.key] = ref
        with self._lock:
            for node in self._watch.keys() - wanted.keys():
                self._watch[node].refs.clear()
            for node, refs in wanted.items():
                self._watch.setdefault(node, _Watch()).refs = refs
            self._reported &= {k for refs in wanted.values() for k in refs}

    def _report_once(self, exit_: RankExit, key: tuple[str, int, int]) -> None:
        with self._lock:
            if key not in self._reported:
                self._reported.add(key)
                self._pending.append(exit_)

    def _gather(self, report: Report) -> None:
        """Take the answers of the polls that are done."""
        with self._lock:
            inflight = {node: w for node, w in self._watch.items() if w.poll is not None}
        if not inflight:
            return
        done, _ = self._ray.wait([w.poll for w in inflight.values()], num_returns=len(inflight), timeout=0)
        done_ids = {id(ref) for ref in done}
        for node, watch in inflight.items():
            if id(watch.poll) not in done_ids:
                continue
            ref, watch.poll = watch.poll, None
            try:
                answer: Poll = self._ray.get(ref)
            except Exception as exc:  # the agent (or its node) died
                with self._lock:
                    self._node_lost(node, f"lost the host of {node}: its agent died ({type(exc).__name__})")
                continue
            for key, status in answer.exits.items():
                if key in watch.refs:
                    self._report_once(RankExit(key[0], key[2], status), key)
            report.logs += answer.logs

    def _issue(self, cursors: dict[str, list[tuple[str, int, str, int, int]]], report: Report) -> None:
        """Start a poll on every node with ranks to watch or logs to read that has none in flight."""
        with self._lock:
            nodes = {n for n, w in self._watch.items() if w.refs and w.poll is None} | set(cursors)
        for node in nodes:
            watch = self._watch.setdefault(node, _Watch())
            if watch.poll is not None:  # its cursors wait for the next tick
                continue
            try:
                agent = self._agent(node)
            except Exception as exc:
                with self._lock:
                    self._node_lost(node, f"lost the host of {node}: {exc}")
                continue
            pending = [r for r in watch.refs.values() if r.key not in self._reported]
            mine = cursors.get(node, [])
            watch.poll = agent.poll.remote(pending, mine, 0.0 if mine else self.poll_wait_s)

    def signal(self, handle: Handle, sig: int) -> None:
        by_node: dict[str, list[RankRef]] = {}
        for rank in range(handle.world):
            if f"pid.{rank}" in handle.data:
                try:
                    by_node.setdefault(handle.node(rank), []).append(RankRef.of(handle, rank))
                except (ValueError, KeyError):
                    continue
        for node, refs in by_node.items():
            try:
                self._agent(node).signal.remote(refs, sig)
            except Exception as exc:
                log.warning("cannot signal the ranks of job %s on %s: %s", handle.job_id, node, exc)

    def find(self, job_id: str, attempt: int, nodes: Sequence[str]) -> Found:
        data = handle_base(len(nodes), attempt)
        started = 0
        for rank, node in enumerate(nodes):
            try:
                found = self._ray.get(self._agent(node).find.remote(job_id, attempt, [rank]),
                                      timeout=self.launch_timeout_s + 5)
            except Exception as exc:  # a node that is gone runs nothing of it
                log.warning("job %s: cannot ask node %s about rank %s: %s", job_id, node, rank, exc)
                continue
            ref = found.get(rank)
            if ref is not None:
                started += 1
                data.update(ref.to_handle(node, self._nodes[node].ip if node in self._nodes else "?"))
        if not started:
            return Found(None)
        handle = Handle(self.name, job_id, data)
        return Found(handle) if started == len(nodes) else Found(None, partial=handle)

    def close(self) -> None:
        """Finish the launches in flight and stop the monitor; the agents and their ranks keep running."""
        self.launches.close()
        self._stop.set()
        self._monitor.join(timeout=5)
