"""Nodes the queue may not freely use: nodes that are down, and nodes booked by an org for a time window.

A :class:`Booking` is an approved advance reservation (the user-facing name is "reservation"; the core calls
it a booking so as not to confuse it with EASY backfill's reservation of the head job): ``nodes`` of one GPU
type kept for ``org`` during ``[start, end)``. The rules, applied every cycle by :class:`Fence`:

* A down node takes no new job (jobs already on it keep running until they end).
* A booked node whose window has not ended is hidden from the free index. Only two kinds of job may use it:
  a job that names the booking, while the window is open and if it ends by the window's end (it never
  competes with anything else: only the booking's nodes are searched); and any other job that ends before
  the window starts (backfill onto booked nodes), tried when it fits nowhere else. For the other jobs "ends"
  counts the grace period after the walltime (:func:`gpucloud.core.lifetime.span`): they may hold their GPUs
  until then. A job in its own booking must end by the window's end by its walltime (as the service checks at
  submission); its grace may run past it.
* Jobs on hidden nodes are never chosen as preemption victims, and EASY backfill does not plan the head job
  onto them.
* When a window is open, a job of anyone else still on its nodes is preempted (:meth:`Fence.trespassers`).
  Approval only books nodes whose jobs end before the window, so this happens only to a job admitted in a race
  with the approval (the loop decided on a snapshot read just before it); it keeps the booking's promise.

Hiding takes the free GPUs of those nodes out of the index for the cycle and gives them back at its end, so
an index that outlives the cycle (the simulator's) stays exact. :func:`choose_nodes` picks the nodes of a new
booking: nodes free of other bookings in the window whose running jobs all end (walltime or stop, plus grace)
before it opens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gpucloud.core.fit_memory import FitMemory
from gpucloud.core.free_index import FreeIndex
from gpucloud.core.lifetime import stop_time
from gpucloud.core.placement import find_placement
from gpucloud.core.types import PendingJob, Placement, RunningJob
from gpucloud.errors import InputError
from gpucloud.model.cluster import Cluster
from gpucloud.model.job import Shape


@dataclass(frozen=True, slots=True)
class Booking:
    """Nodes (indices into the cluster) kept for ``org`` during ``[start, end)``."""

    id: str
    org: str
    gpu_type: str
    nodes: tuple[int, ...]
    start: float
    end: float

    def __post_init__(self) -> None:
        if not self.nodes:
            raise InputError("nodes", "a booking needs at least one node", self.nodes)
        if not self.end > self.start:
            raise InputError("end", f"must be after start ({self.start})", self.end)

    def open_at(self, now: float) -> bool:
        return self.start <= now < self.end


def orphaned(pending: Iterable[PendingJob], bookings: Iterable[Booking], now: float) -> list[str]:
    """The pending jobs that name a booking whose window is over: they can never start (the live loop cancels
    them when the window closes — ``service/reservations.py``, ``cancel_orphans`` — and so does the simulator)."""
    over = {b.id for b in bookings if now >= b.end}
    return [j.id for j in pending if j.spec.reservation in over] if over else []


def busy_until(running: Iterable[RunningJob], grace: bool = True) -> dict[int, float]:
    """Per node, the latest time a job running there may still hold it: its walltime end or stop, plus the
    grace period before it is killed (:func:`gpucloud.core.lifetime.held_until`; without it if ``grace`` is
    False)."""
    out: dict[int, float] = {}
    for r in running:
        end = r.held_until if grace else stop_time(r)
        for n, _ in r.placement.nodes:
            if end > out.get(n, end - 1):
                out[n] = end
    return out


def _blocked(start: float, end: float, busy: Mapping[int, float], bookings: Iterable[Booking],
             down: Iterable[int]) -> set[int]:
    """Nodes that cannot be booked for ``[start, end)``: down, booked in an overlapping window, or running a
    job that may still run at ``start``."""
    blocked = set(down)
    for b in bookings:
        if b.start < end and start < b.end:
            blocked.update(b.nodes)
    blocked.update(n for n, t in busy.items() if t > start)
    return blocked


def bookable(cluster: Cluster, gpu_type: str, start: float, end: float, busy: Mapping[int, float],
             bookings: Iterable[Booking], down: Iterable[int] = ()) -> list[int]:
    """The nodes of ``gpu_type`` (of its largest size: bookings are priced per such node) that could be booked
    for the window now."""
    per_node = cluster.max_node_gpus.get(gpu_type, 0)
    if per_node < 1:
        raise InputError("gpu_type", "no node of the cluster has this GPU type", gpu_type)
    blocked = _blocked(start, end, busy, bookings, down)
    return [n.index for n in cluster.nodes if n.gpu_type == gpu_type and n.gpus == per_node
            and n.index not in blocked]


def choose_nodes(cluster: Cluster, gpu_type: str, count: int, start: float, end: float,
                 busy: Mapping[int, float], bookings: Iterable[Booking], down: Iterable[int] = ()
                 ) -> tuple[int, ...] | None:
    """``count`` :func:`bookable` nodes, as close together as placement puts a gang (one rack, else fewest
    racks of one block, ...); None when there are not enough."""
    if count < 1:
        raise InputError("nodes", "must be at least 1", count)
    ok = bookable(cluster, gpu_type, start, end, busy, bookings, down)
    if len(ok) < count:
        return None
    per_node = cluster.max_node_gpus[gpu_type]
    index = FreeIndex.only(cluster, {n: (1 << per_node) - 1 for n in ok})
    found = find_placement(index, gpu_type, Shape(count, per_node))
    return None if found is None else tuple(n for n, _ in found.nodes)


class Fence:
    """One cycle's view of down and booked nodes: hides them, lets through the jobs the rules allow."""

    def __init__(self, index: FreeIndex, bookings: Mapping[str, Booking], down: frozenset[int],
                 now: float) -> None:
        self.index = index
        self.now = now
        self.bookings = {bid: b for bid, b in bookings.items() if b.end > now}
        self.down = down
        #: node -> the free GPUs hidden from the index this cycle
        self.hidden: dict[int, int] = {}
        for node in sorted(down.union(*(b.nodes for b in self.bookings.values()))):
            mask = index.mask[node]
            if mask:
                index._set(node, 0)
            self.hidden[node] = mask
        #: bookings not yet open, latest start first: a job ending by ``start`` may use a prefix of this list
        self.upcoming = sorted((b for b in self.bookings.values() if b.start > now), key=lambda b: -b.start)
        self._early_failed: dict[int, FitMemory] = {}
        self._fenced_jobs: set[str] | None = None

    @property
    def early_until(self) -> float | None:
        """The latest time a job may end and still backfill onto some booked node (None: no such node)."""
        for b in self.upcoming:
            if any(self.hidden.get(n, 0) for n in b.nodes if n not in self.down):
                return b.start
        return None

    def touches(self, placement: Placement) -> bool:
        """Does a running job sit on a hidden node (then it is no victim and no part of backfill's plan)?"""
        hidden = self.hidden
        return any(n in hidden for n, _ in placement.nodes)

    def fenced_jobs(self, running: Mapping[str, RunningJob]) -> set[str]:
        """The running jobs on hidden nodes (found once per cycle; jobs started later in the cycle are fresh,
        never victims anyway)."""
        if self._fenced_jobs is None:
            self._fenced_jobs = {jid for jid, r in running.items() if self.touches(r.placement)}
        return self._fenced_jobs

    def trespassers(self, running: Mapping[str, RunningJob]) -> list[tuple[RunningJob, Booking]]:
        """Running jobs not in a booking whose window is open, on that booking's nodes (not yet preempting)."""
        open_now = [b for b in self.bookings.values() if b.open_at(self.now)]
        if not open_now:
            return []
        out = []
        for jid in sorted(self.fenced_jobs(running)):
            r = running[jid]
            if r.preempting:
                continue
            nodes = {n for n, _ in r.placement.nodes}
            for b in open_now:
                if r.spec.reservation != b.id and nodes.intersection(b.nodes):
                    out.append((r, b))
                    break
        return out

    def _with(self, nodes: Iterable[int]) -> list[int]:
        """Show the hidden free GPUs of ``nodes`` (not down ones); the nodes shown."""
        index, hidden, shown = self.index, self.hidden, []
        for n in nodes:
            mask = hidden.get(n, 0)
            if mask and n not in self.down:
                index._set(n, index.mask[n] | mask)
                shown.append(n)
        return shown

    def _hide_again(self, shown: list[int]) -> None:
        index, hidden = self.index, self.hidden
        for n in shown:
            index._set(n, index.mask[n] & ~hidden[n])

    def place_early(self, opts: list[tuple[str, Shape]], ends: float) -> Placement | None:
        """Place a job that ends at ``ends`` on the nodes of bookings that open at or after that — those
        first, so that the nodes anyone may use stay for the jobs that need them — else over those and the
        open nodes together. None means it fits nowhere (the open nodes alone included)."""
        usable = [b for b in self.upcoming if b.start >= ends]
        if not usable:
            return None
        memory = self._early_failed.setdefault(len(usable), FitMemory())
        opts = [(t, sh) for t, sh in opts if not memory.known(t, sh.nodes, sh.per_node)]
        if not opts:
            return None
        nodes = [n for b in usable for n in b.nodes]
        booked = FreeIndex.only(self.index.cluster, {n: self.hidden.get(n, 0) for n in nodes if n not in self.down})
        for gpu_type, shape in opts:
            found = find_placement(booked, gpu_type, shape)
            if found is not None:
                return found
        index = self.index
        saved = index.memory.save()
        index.caching = False
        shown = self._with(nodes)
        try:
            for gpu_type, shape in opts:
                found = find_placement(index, gpu_type, shape)
                if found is not None:
                    return found
                memory.remember(gpu_type, shape.nodes, shape.per_node)
            return None
        finally:
            self._hide_again(shown)
            index.caching = True
            index.memory.restore(saved)

    def early_hopeless(self, opts: list[tuple[str, Shape]], ends: float) -> bool:
        """Is a job ending at ``ends`` already known not to fit even with the booked nodes it may use (so
        the cycle may treat it like any job the free index refuses)?"""
        usable = sum(1 for b in self.upcoming if b.start >= ends)
        if not usable:
            return True
        memory = self._early_failed.get(usable)
        return memory is not None and all(memory.known(t, sh.nodes, sh.per_node) for t, sh in opts)

    def place_booked(self, booking: Booking, opts: list[tuple[str, Shape]]) -> Placement | None:
        """Place a job that names ``booking`` on the booking's free GPUs only."""
        sub = FreeIndex.only(self.index.cluster, {n: self.hidden.get(n, 0) for n in booking.nodes
                                                  if n not in self.down})
        for gpu_type, shape in opts:
            if gpu_type == booking.gpu_type:
                found = find_placement(sub, gpu_type, shape)
                if found is not None:
                    return found
        return None

    def unhide(self, placement: Placement) -> None:
        """Give back to the index the hidden GPUs an admitted job takes (the caller then takes them)."""
        index, hidden = self.index, self.hidden
        for n, mask in placement.masks:
            h = hidden.get(n)
            if h is not None and h & mask:
                hidden[n] = h & ~mask
                index._set(n, index.mask[n] | (h & mask))

    def restore(self) -> None:
        """End of cycle: give the hidden GPUs back to the index."""
        index = self.index
        for n, mask in self.hidden.items():
            if mask:
                index._set(n, index.mask[n] | mask)
        self.hidden = {}

    def wake_at(self) -> float | None:
        """The next time a window opens or closes (a cycle should run then)."""
        times = [t for b in self.bookings.values() for t in (b.start, b.end) if t > self.now]
        return min(times, default=None)
