"""JobSpec validation and gang shapes."""

from __future__ import annotations

import math
from typing import Any

import pytest

from gpucloud.errors import InputError
from gpucloud.model.job import TERMINAL_STATES, JobSpec, JobState, Shape


def job(num_gpus: int = 1, **kw: Any) -> JobSpec:
    args: dict[str, Any] = {"id": "j1", "org": "a", "submit_time": 0.0, "walltime": 3600.0, **kw}
    return JobSpec(num_gpus=num_gpus, **args)


def test_nine_gpus_on_eight_gpu_nodes_fails() -> None:
    with pytest.raises(InputError) as info:
        job(9).shape(8)
    assert info.value.field == "num_gpus"
    assert info.value.value == 9
    assert str(info.value).startswith("num_gpus: cannot be spread evenly over whole 8-GPU nodes")
    assert str(info.value).endswith("(got 9)")


@pytest.mark.parametrize(
    ("num_gpus", "node_gpus", "nodes", "per_node"),
    [
        (1, 8, 1, 1),
        (7, 8, 1, 7),
        (8, 8, 1, 8),
        (12, 8, 2, 6),
        (16, 8, 2, 8),
        (24, 8, 3, 8),
        (128, 8, 16, 8),
        (8, 4, 2, 4),  # GB200 compute trays
        (72, 4, 18, 4),
        (2, 2, 1, 2),
    ],
)
def test_auto_shape(num_gpus: int, node_gpus: int, nodes: int, per_node: int) -> None:
    s = job(num_gpus).shape(node_gpus)
    assert s == Shape(nodes, per_node)
    assert s.gpus == num_gpus


def test_sixteen_is_two_by_eight() -> None:
    assert job(16).shape(8) == Shape(2, 8)


def test_twelve_is_two_by_six() -> None:
    assert job(12).shape(8) == Shape(2, 6)


def test_explicit_nodes() -> None:
    s = job(8, nodes=4).shape(8)
    assert (s.nodes, s.per_node, s.gpus) == (4, 2, 8)


def test_explicit_nodes_too_many_per_node() -> None:
    with pytest.raises(InputError) as info:
        job(32, nodes=2).shape(8)
    assert info.value.field == "num_gpus"
    assert info.value.value == 32
    assert "16 GPUs per node exceed the largest node (8 GPUs)" in str(info.value)


@pytest.mark.parametrize("nodes", [0, 3, -1])
def test_nodes_must_divide(nodes: int) -> None:
    with pytest.raises(InputError) as info:
        job(8, nodes=nodes)
    assert info.value.field == "nodes"
    assert info.value.value == nodes


def test_no_nodes_of_the_type() -> None:
    with pytest.raises(InputError) as info:
        job(4, gpu_type="P100-16GB").shape(0)
    assert info.value.field == "gpu_type"
    assert info.value.value == "P100-16GB"


def test_negative_walltime() -> None:
    with pytest.raises(InputError) as info:
        job(1, walltime=-5)
    assert info.value.field == "walltime"
    assert info.value.value == -5
    assert str(info.value) == "walltime: must be a positive number of seconds (got -5)"


@pytest.mark.parametrize("walltime", [0.0, math.nan, math.inf])
def test_bad_walltime(walltime: float) -> None:
    with pytest.raises(InputError) as info:
        job(1, walltime=walltime)
    assert info.value.field == "walltime"


@pytest.mark.parametrize("num_gpus", [0, -2])
def test_zero_gpus(num_gpus: int) -> None:
    with pytest.raises(InputError) as info:
        job(num_gpus)
    assert info.value.field == "num_gpus"
    assert info.value.value == num_gpus
    assert "at least 1" in str(info.value)


@pytest.mark.parametrize("grace", [-1.0, math.nan, math.inf])
def test_bad_grace(grace: float) -> None:
    with pytest.raises(InputError) as info:
        job(1, grace=grace)
    assert info.value.field == "grace"


def test_bad_submit_time() -> None:
    with pytest.raises(InputError) as info:
        job(1, submit_time=math.nan)
    assert info.value.field == "submit_time"


def test_terminal_states() -> None:
    assert {s for s in JobState if s.terminal} == TERMINAL_STATES
    assert not JobState.PREEMPTING.terminal
    assert JobState.TIMED_OUT.terminal
