"""The array throttle: at most N tasks of an array hold GPUs at once, lowest indices first."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gpucloud.core.arrays import throttle_reason, throttled


def test_room_goes_to_the_lowest_indices() -> None:
    pending = [(105, 100, 5, 2), (103, 100, 3, 2), (104, 100, 4, 2), (201, 200, 1, 1)]
    held = throttled(pending, {100: 1})
    assert held == {104: throttle_reason(100, 2), 105: throttle_reason(100, 2)}
    assert throttled(pending, {100: 2, 200: 1}).keys() == {103, 104, 105, 201}
    assert throttled(pending, {}).keys() == {105}
    assert throttle_reason(100, 2) == "array throttle: at most 2 tasks of array 100 at once (%2)"


@given(st.lists(st.integers(0, 50), unique=True, max_size=40), st.integers(1, 10), st.integers(0, 12))
def test_never_more_than_the_limit(tasks: list[int], limit: int, holding: int) -> None:
    pending = [(1000 + t, 7, t, limit) for t in tasks]
    free = [t for jid, _, t, _ in pending if jid not in throttled(pending, {7: holding})]
    assert len(free) == min(len(tasks), max(0, limit - holding))
    assert sorted(free) == sorted(tasks)[: len(free)]
