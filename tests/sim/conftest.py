"""The tests that read the real traces use the ``real_traces`` fixture: skipped where the files are missing, a
failure instead when ``GPUCLOUD_REQUIRE_TRACES=1`` (set by ``.ci/run``, as for PostgreSQL and the browser tests),
so that CI never passes without running them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from real_traces import NODES, PHILLY, PODS, TRACES, require


@pytest.fixture
def real_traces() -> Path:
    require((PHILLY, PODS, NODES), os.environ)
    return TRACES
