"""Where a service's next replica will go, and which runs must make room for it (see :mod:`gpucloud.core.services`).

For a replica that must start at ``S`` the :class:`Planner` looks at each node of the service and counts the GPUs
that will be free by then: free now, or held by runs that end by ``S`` (walltime or stop, plus grace). If they are
not enough, it adds victims in this order until they are: preemptible runs whose grace can end by ``S``, those that
lose the least work first (GPUs × run time at the moment they must be signalled, ``S - grace``: a gang's GPUs on
every node count, as the whole gang stops); for a ``ran`` replica then ``inference`` replicas on the node (they stop
at once); last, runs that would free their GPUs late (already being stopped, or a grace longer than the time left),
the least late first. Then it drops every victim the others make enough without, the latest and costliest first.
The node chosen is on time if any is, then has the fewest replica victims, is the least late, loses the least work,
has the fewest victims, and has the lowest index.

Its GPUs are *claimed*: free ones are taken out of the free index at once (the queue of this cycle, and services
later in order, do not get them; :meth:`Planner.hide` lists them to give back at the end of the cycle), and GPUs
that runs will free count for no other replica.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gpucloud.core.free_index import FreeIndex, low_bits
from gpucloud.core.lifetime import held_until, stopping
from gpucloud.core.types import RunningJob
from gpucloud.model.service import ServiceClass, ServiceSpec

if TYPE_CHECKING:
    from gpucloud.core.services import Replica, ServiceSet


@dataclass(frozen=True, slots=True)
class Need:
    """A replica of ``spec`` that must run from ``start``."""

    spec: ServiceSpec
    start: float


@dataclass(slots=True)
class Choice:
    """The node and GPUs planned for a need, the runs to preempt and the replicas to stop for it."""

    node: int
    mask: int
    victims: list[RunningJob] = field(default_factory=list)
    replicas: list[Replica] = field(default_factory=list)
    key: tuple[bool, int, float, float, int, int] = (False, 0, 0.0, 0.0, 0, 0)
    #: the free GPUs of the claim taken out of the index
    hidden: int = 0


class Planner:
    """Plans the needs of one cycle in turn (each sees the claims of those before)."""

    def __init__(self, services: ServiceSet, index: FreeIndex, running: Mapping[str, RunningJob],
                 now: float, floor: float = 0.0) -> None:
        self.services = services
        self.index = index
        self.now = now
        nodes = services.nodes
        #: per service node: the runs holding GPUs on it, with their GPUs there
        self.on_node: dict[int, list[tuple[RunningJob, int]]] = {}
        horizon = floor
        for r in running.values():
            for n, m in r.placement.masks:
                if n in nodes:
                    self.on_node.setdefault(n, []).append((r, m))
                    if r.spec.grace > horizon:
                        horizon = r.spec.grace
        #: needs starting within this many seconds are planned now: the longest grace a run may ask for
        #: (``floor``), or of a run on a service node if longer
        self.horizon = horizon
        self.claimed: dict[int, int] = {}
        self.hidden: list[tuple[int, int]] = []
        kinds = {s.name: s.cls for s in services.specs}
        #: per node: the inference replicas on it (a ``ran`` replica may stop them)
        self.soft: dict[int, list[Replica]] = {}
        for rep in services.all():
            if kinds.get(rep.service) is ServiceClass.INFERENCE:
                for n, _ in rep.placement.masks:
                    self.soft.setdefault(n, []).append(rep)

    def plan(self, need: Need) -> Choice | None:
        """The best node for ``need`` (None if no node can make room in time); its GPUs are claimed."""
        best: Choice | None = None
        for n in need.spec.nodes:
            option = self._option(n, need)
            if option is not None and (best is None or option.key < best.key):
                best = option
        if best is None:
            return None
        n = best.node
        self.claimed[n] = self.claimed.get(n, 0) | best.mask
        free = self.index.mask[n] & best.mask
        if free:
            self.index.take(n, free)
            self.hidden.append((n, free))
        best.hidden = free
        for rep in best.replicas:
            self.soft[n].remove(rep)
        return best

    def unhide(self, choice: Choice) -> None:
        """Give back a claim (its replica starts now, on whatever its service finds free)."""
        n = choice.node
        self.claimed[n] &= ~choice.mask
        if choice.hidden:
            self.index.give(n, choice.hidden)
            self.hidden.remove((n, choice.hidden))
            choice.hidden = 0

    def hide(self) -> list[tuple[int, int]]:
        """The free GPUs taken out of the index for the claims (the caller gives them back)."""
        return self.hidden

    def _option(self, n: int, need: Need) -> Choice | None:
        spec, start, now = need.spec, need.start, self.now
        g = spec.gpus
        claimed = self.claimed.get(n, 0)
        free = self.index.mask[n] & ~claimed
        gone = 0
        #: (seconds its GPUs would be late, work lost, seq, run, its GPUs here)
        candidates: list[tuple[float, float, int, RunningJob, int]] = []
        for r, m in self.on_node.get(n, ()):
            m &= ~claimed
            if not m:
                continue
            until = held_until(r)
            if until <= start:
                gone |= m
            elif stopping(r, now):  # being stopped already: free when its grace ends, late for this need
                candidates.append((until - start, 0.0, r.seq or 0, r, m))
            elif r.spec.preemptible:
                signal = max(now, start - r.spec.grace)
                lost = r.placement.gpus * max(0.0, signal - r.start)
                candidates.append((max(0.0, signal + r.spec.grace - start), lost, r.seq or 0, r, m))
        have = free | gone
        if have.bit_count() >= g:
            take = low_bits(free, min(g, free.bit_count()))
            take |= low_bits(gone, g - take.bit_count())
            return Choice(n, take, key=(False, 0, 0.0, 0.0, 0, n))
        items: list[_Item] = [_Item(late, 0, lost, seq, r, m) for late, lost, seq, r, m in candidates]
        if spec.cls is ServiceClass.RAN:  # inference replicas stop at once: never late, but tried after runs
            for rep in self.soft.get(n, ()):
                m = sum(mask for node, mask in rep.placement.masks if node == n) & ~claimed
                if m:
                    items.append(_Item(0.0, 1, 0.0, rep.slot, rep, m))
        items.sort(key=lambda c: (c.late > 0, c.kind, c.late, c.lost, c.seq))
        chosen: list[_Item] = []
        got = have
        for c in items:
            if got.bit_count() >= g:
                break
            chosen.append(c)
            got |= c.mask
        if got.bit_count() < g:
            return None
        for c in sorted(chosen, key=lambda c: (-c.late, -c.kind, -c.lost)):  # drop those the others make do without
            rest = have
            for o in chosen:
                if o is not c:
                    rest |= o.mask
            if rest.bit_count() >= g:
                chosen.remove(c)
                got = rest
        take = have | low_bits(got & ~have, g - have.bit_count())
        runs = [c.victim for c in chosen if isinstance(c.victim, RunningJob)]
        replicas = [c.victim for c in chosen if not isinstance(c.victim, RunningJob)]
        late = max((c.late for c in chosen), default=0.0)
        lost = sum(c.lost for c in chosen)
        return Choice(n, take, runs, replicas, (late > 0, len(replicas), late, lost, len(chosen), n))


@dataclass(slots=True)
class _Item:
    """A possible victim on a node: how late its GPUs would be, 0 for a run / 1 for a replica, the work lost."""

    late: float
    kind: int
    lost: float
    seq: int
    victim: RunningJob | Replica
    mask: int
