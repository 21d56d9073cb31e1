"""Where the real GPU-cluster traces are (``../shared/traces``; read in place, never copied into the project),
and the rule for the tests that read them (:func:`require`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

TRACES = Path(__file__).resolve().parents[1].parent / "shared" / "traces"
PHILLY = TRACES / "philly.csv"
PODS = TRACES / "alibaba2023_pods.csv"
NODES = TRACES / "alibaba2023_gpu_nodes.csv"
#: set by .ci/run: in CI the real-trace tests must run
REQUIRE = "GPUCLOUD_REQUIRE_TRACES"


def require(paths: Sequence[Path], environ: Mapping[str, str]) -> None:
    """Skip the calling test if a file is missing — or fail it when ``GPUCLOUD_REQUIRE_TRACES=1``."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        why = f"real traces not found: {', '.join(missing)}"
        if environ.get(REQUIRE) == "1":
            pytest.fail(f"{why} ({REQUIRE}=1: they must be there)", pytrace=False)
        pytest.skip(why)
