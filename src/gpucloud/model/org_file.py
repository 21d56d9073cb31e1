"""Org files (YAML): tenants with quotas, borrowing limits and weights, validated with clear errors.

Format::

    orgs:
      - name: univ-tokyo
        weight: 2
        quota: {H100-80GB: 64}          # guaranteed GPUs per type
        borrow_limit: {H100-80GB: 32}   # extra idle GPUs it may borrow; no entry = unlimited

Orgs that a trace or a job names but this file does not get :func:`gpucloud.model.org.default_org`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gpucloud.errors import InputError, UnknownNameError
from gpucloud.model.cluster import Cluster
from gpucloud.model.org import Org
from gpucloud.model.validation import read_yaml, validate_document


class OrgSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=100)
    weight: float = Field(default=1.0, gt=0)
    quota: dict[str, int] = Field(default_factory=dict)
    borrow_limit: dict[str, int] = Field(default_factory=dict)


class OrgFileSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    orgs: list[OrgSpec]


def orgs_from_dict(data: Any, cluster: Cluster | None = None, where: str = "orgs") -> dict[str, Org]:
    spec = validate_document(OrgFileSpec, data, "orgs", "a mapping with a list of orgs", where)
    out: dict[str, Org] = {}
    for i, o in enumerate(spec.orgs):
        if o.name in out:
            raise InputError(f"orgs[{i}].name", "duplicate org name", o.name, where=where)
        for kind in ("quota", "borrow_limit"):
            for t, v in getattr(o, kind).items():
                if v < 0:
                    raise InputError(f"orgs[{i}].{kind}.{t}", "must not be negative", v, where=where)
                if cluster is not None and t not in cluster.gpu_types:
                    msg = UnknownNameError("GPU type", t, list(cluster.gpu_types)).message
                    msg = msg.replace(" (known:", " (this cluster has:", 1)
                    raise InputError(f"orgs[{i}].{kind}", msg, where=where)
        out[o.name] = Org(o.name, o.weight, dict(o.quota), dict(o.borrow_limit))
    return out


def load_orgs(path: str | Path, cluster: Cluster | None = None) -> dict[str, Org]:
    data = read_yaml(path, "orgs")
    return orgs_from_dict(data, cluster, where=str(path))
