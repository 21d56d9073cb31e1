"""The executor registry: local (the default) and noop by name; an unknown name suggests the close ones."""

from __future__ import annotations

import pytest

from gpucloud.errors import UnknownNameError
from gpucloud.service.executors.local import LocalExecutor
from gpucloud.service.executors.noop import NoopExecutor
from gpucloud.service.executors.registry import DEFAULT_EXECUTOR, create_executor, executor_names


def test_local_and_noop_are_registered() -> None:
    assert {"local", "noop"} <= set(executor_names())
    assert DEFAULT_EXECUTOR == "local"
    assert isinstance(create_executor(), LocalExecutor)
    noop = create_executor("noop", delay_s=0.5)
    assert isinstance(noop, NoopExecutor) and noop.delay_s == 0.5
    assert create_executor("local").name == "local"


def test_unknown_name_suggests() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'local'"):
        create_executor("locl")
