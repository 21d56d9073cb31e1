"""Services: long-running workloads whose wanted replica count follows a demand (:mod:`gpucloud.model.demand`).

A service has a replica shape (``gpus`` GPUs of ``gpu_type`` on one node), the nodes it may use (its *sites*:
blocks, racks or nodes of the cluster, resolved to node indices by :func:`resolve_sites`), a class, and a
ramp-up ``lead``: each replica is started ``lead`` seconds before the demand needs it.

Classes: ``ran`` (a radio access network: never preempted, served first) and ``inference`` (served after the
RAN, before batch jobs; preemptible only by ``ran``). Pure data, validated here; the core schedules it
(:mod:`gpucloud.core.services`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from gpucloud.errors import InputError
from gpucloud.model.cluster import Cluster
from gpucloud.model.demand import Demand

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
#: the longest ramp-up lead time and replica stop grace (seconds)
MAX_LEAD = 86_400.0
MAX_SITES = 10_000


class ServiceClass(StrEnum):
    RAN = "ran"
    INFERENCE = "inference"

    @property
    def rank(self) -> int:
        """Order of service: the RAN first."""
        return 0 if self is ServiceClass.RAN else 1


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """A service as the core sees it: ``nodes`` are the node indices of its sites (ascending)."""

    name: str
    cls: ServiceClass
    gpus: int
    gpu_type: str
    nodes: tuple[int, ...]
    demand: Demand
    lead: float = 0.0
    org: str = ""

    def __post_init__(self) -> None:
        check_name(self.name)
        if isinstance(self.gpus, bool) or not isinstance(self.gpus, int) or self.gpus < 1:
            raise InputError("gpus", "GPUs per replica must be a whole number of at least 1", self.gpus)
        if not self.nodes:
            raise InputError("sites", "a service needs at least one node to run on", self.name)
        if not (math.isfinite(self.lead) and 0 <= self.lead <= MAX_LEAD):
            raise InputError("lead", f"must be from 0 to {MAX_LEAD:g} seconds", self.lead)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise InputError("name", "a service name is 1-63 lower-case letters, digits, '-', '_' or '.', "
                         "starting with a letter or digit", name)
    return name


def resolve_sites(cluster: Cluster, sites: Iterable[str], gpu_type: str, gpus: int) -> tuple[int, ...]:
    """The nodes of ``sites`` (block, rack or node names) that can hold a replica: of ``gpu_type`` with at least
    ``gpus`` GPUs. Raises :class:`InputError` naming the site that matches nothing, or when no node fits."""
    names = list(sites)
    if not names:
        raise InputError("sites", "give at least one block, rack or node")
    if len(names) > MAX_SITES:
        raise InputError("sites", f"at most {MAX_SITES:,} sites", len(names))
    if gpu_type not in cluster.gpu_types:
        known = ", ".join(sorted(cluster.gpu_types))
        raise InputError("gpu_type", f"the cluster has no such GPU type (it has {known})", gpu_type)
    blocks = {b.name: b.index for b in cluster.blocks}
    racks = {r.name: r.index for r in cluster.racks}
    chosen: set[int] = set()
    for i, site in enumerate(names):
        if site in blocks:
            chosen.update(n for r in cluster.racks_by_block[blocks[site]] for n in cluster.nodes_by_rack[r])
        elif site in racks:
            chosen.update(cluster.nodes_by_rack[racks[site]])
        elif (node := cluster.index_of(site)) is not None:
            chosen.add(node)
        else:
            raise InputError(f"sites[{i}]", "no block, rack or node of the cluster has this name", site)
    fit = tuple(sorted(n for n in chosen if cluster.nodes[n].gpu_type == gpu_type and cluster.nodes[n].gpus >= gpus))
    if not fit:
        raise InputError("sites", f"no node of these sites has {gpus} GPUs of type {gpu_type}", names)
    return fit
