"""The discrete-event loop: a heap of timed events and a ``step()`` (after SimPy's core).

Events at the same time are taken together, in kind order (ends before arrivals), and then the
handler's ``after_step`` runs once — the simulator runs one scheduling cycle there.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from enum import IntEnum
from typing import Generic, TypeVar

P = TypeVar("P")


class Kind(IntEnum):
    END = 0  # a run's processes are gone: it finished, or was stopped (walltime, preemption) and its grace ended
    ARRIVAL = 1
    WAKE = 2
    BUDGET = 3  # the simulator's budget gating: cycle again, or a new tariff version starts


class EventLoop(Generic[P]):
    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, int, P]] = []
        self._seq = 0

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, time: float, kind: Kind, payload: P) -> None:
        if time < self.now:
            raise ValueError(f"event at {time} is in the past (now {self.now})")
        self._seq += 1
        heapq.heappush(self._heap, (time, int(kind), self._seq, payload))

    def step(self, handle: Callable[[int, P], None], after_step: Callable[[float], None]) -> bool:
        """Advance to the next event time, handle every event due then, and call ``after_step``."""
        if not self._heap:
            return False
        heap = self._heap
        self.now = t = heap[0][0]
        while heap and heap[0][0] == t:
            _, kind, _, payload = heapq.heappop(heap)
            handle(kind, payload)
        after_step(t)
        return True
