"""The discrete-event loop: a heap of timed events and a ``step()`` (after SimPy's core).

Events at the same time are taken together, in kind order (ends before arrivals), and then the
handler's ``after_step`` runs once — the simulator runs one scheduling cycle there. Events known in advance
and already in time order (a trace's arrivals) are streamed beside the heap instead of pushed into it.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from enum import IntEnum
from itertools import pairwise
from typing import Generic, TypeVar

P = TypeVar("P")


class Kind(IntEnum):
    END = 0  # a run's processes are gone: it finished, or was stopped (walltime, preemption) and its grace ended
    ARRIVAL = 1
    WAKE = 2
    BUDGET = 3  # the simulator's budget gating: cycle again, or a new tariff version starts


class EventLoop(Generic[P]):
    """A heap of events, plus an optional stream of events known in advance (the arrivals of a trace, already
    in time order), merged with it without going through the heap."""

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, int, P]] = []
        self._seq = 0
        self._stream: list[tuple[float, int, P]] = []
        self._next = 0

    def __len__(self) -> int:
        return len(self._heap) + len(self._stream) - self._next

    def push(self, time: float, kind: Kind, payload: P) -> None:
        if time < self.now:
            raise ValueError(f"event at {time} is in the past (now {self.now})")
        self._seq += 1
        heapq.heappush(self._heap, (time, int(kind), self._seq, payload))

    def stream(self, events: list[tuple[float, Kind, P]]) -> None:
        """Events known in advance, in time order, all of one kind (taken, at equal times, after the heap's
        events of lower kinds and before those of higher kinds)."""
        if any(b[0] < a[0] for a, b in pairwise(events)):
            raise ValueError("streamed events must be in time order")
        if self._next < len(self._stream):
            raise ValueError("a stream is still running")
        if events and events[0][0] < self.now:
            raise ValueError(f"event at {events[0][0]} is in the past (now {self.now})")
        self._stream = [(t, int(k), p) for t, k, p in events]
        self._next = 0

    def step(self, handle: Callable[[int, P], None], after_step: Callable[[float], None]) -> bool:
        """Advance to the next event time, handle every event due then, and call ``after_step``."""
        heap, stream = self._heap, self._stream
        i, n = self._next, len(stream)
        if not heap and i >= n:
            return False
        t = heap[0][0] if heap else stream[i][0]
        if i < n and stream[i][0] < t:
            t = stream[i][0]
        self.now = t
        while True:
            h = heap[0] if heap and heap[0][0] == t else None
            s = stream[i] if i < n and stream[i][0] == t else None
            if s is not None and (h is None or s[1] <= h[1]):
                i += 1
                self._next = i
                handle(s[1], s[2])
            elif h is not None:
                heapq.heappop(heap)
                handle(h[1], h[3])
            else:
                break
        after_step(t)
        return True
