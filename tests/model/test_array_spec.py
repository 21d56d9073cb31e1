"""Job array specifications (``--array``): ranges, steps, lists, the throttle, their canonical text, and every
mistake named with the field ``array``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpucloud.errors import InputError
from gpucloud.model.array_spec import MAX_TASK_INDEX, compress, parse_array


@pytest.mark.parametrize(("text", "indices", "throttle"), [
    ("0-3", (0, 1, 2, 3), None),
    ("1,3,5", (1, 3, 5), None),
    ("1-9:4", (1, 5, 9), None),
    ("0-15%4", tuple(range(16)), 4),
    ("7", (7,), None),
    (" 3-4, 1 ", (1, 3, 4), None),
    ("1-5,3-7", (1, 2, 3, 4, 5, 6, 7), None),  # overlaps count once, as in Slurm
    ("0-8:3,20%1", (0, 3, 6, 20), 1),
])
def test_specs_read_as_slurm_reads_them(text: str, indices: tuple[int, ...], throttle: int | None) -> None:
    spec = parse_array(text)
    assert spec.indices == indices and spec.throttle == throttle and spec.count == len(indices)


def test_canonical_text_and_step() -> None:
    assert parse_array("1,2,3,5,7,9,20%3").text == "1-3,5-9:2,20%3"
    assert parse_array("0-99:3").step == 3 and parse_array("1,2,4").step == 1 and parse_array("5").step == 1
    assert compress([4, 5]) == "4-5" and compress([]) == ""


@given(st.sets(st.integers(0, 300), min_size=1, max_size=60), st.none() | st.integers(1, 50))
def test_canonical_text_reads_back_to_the_same_tasks(indices: set[int], throttle: int | None) -> None:
    text = ",".join(map(str, sorted(indices))) + ("" if throttle is None else f"%{throttle}")
    spec = parse_array(text)
    assert spec.indices == tuple(sorted(indices))
    assert parse_array(spec.text) == spec


@pytest.mark.parametrize(("text", "words"), [
    ("", "must list task indices"),
    ("a-3", "'a' is not a task index"),
    ("5-2", "ends before it starts"),
    ("1-9:0", "step must be a whole number of at least 1"),
    ("3:2", "a step needs a range"),
    ("0-9%0", "throttle must be a whole number of at least 1"),
    ("0-9%x", "throttle"),
    (f"0-{MAX_TASK_INDEX + 1}", "beyond the largest"),
    ("-1", "is not a task index"),
    ("0-10000", "at most 10,000 tasks"),
    ("0-4000000", "at most 10,000 tasks"),
])
def test_mistakes_name_the_field(text: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        parse_array(text)
    assert info.value.field == "array" and words in str(info.value)


def test_the_task_limit_is_the_callers() -> None:
    assert parse_array("0-9999").count == 10_000
    assert parse_array("0-19", max_tasks=20).count == 20
    with pytest.raises(InputError, match="at most 20 tasks"):
        parse_array("0-20", max_tasks=20)
