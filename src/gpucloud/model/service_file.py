"""Services as written by people: a services file (YAML) for the simulator, the same fields in the REST API.

.. code-block:: yaml

    services:
      - name: ran-tokyo
        class: ran                 # ran | inference
        gpus_per_replica: 4
        gpu_type: GB200-186GB
        sites: [tokyo]             # blocks, racks or nodes of the cluster
        lead_s: 300                # start each replica this long before the demand needs it
        demand:                    # one of: replicas (a fixed value), weekly, curve
          weekly:
            utc_offset: "+09:00"
            weekdays: [3, 2, 2, ...]          # 24 hourly values, or {"07:30": 12, "22:00": 4}
            weekend: [2, 2, 1, ...]
        # demand: {curve: {start: 2017-10-23, period_s: 86400, points: [[0, 2], [28800, 10]]}}

Validated with pydantic (limits on every field); :meth:`ServiceIn.to_spec` resolves the sites against a cluster.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gpucloud.errors import InputError
from gpucloud.model import demand as dm
from gpucloud.model.cluster import Cluster
from gpucloud.model.service import MAX_LEAD, MAX_SITES, ServiceClass, ServiceSpec, check_name, resolve_sites
from gpucloud.model.validation import read_yaml, validate_document
from gpucloud.times import time_input

Replicas = Annotated[int, Field(ge=0, le=dm.MAX_REPLICAS)]
#: a day's replicas: 24 hourly values, or ``"HH:MM"`` → replicas
Day = list[Replicas] | dict[str, Replicas]
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")
MAX_SERVICES = 1000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class WeeklyIn(_Strict):
    utc_offset: str = Field(default="+00:00", pattern=_OFFSET.pattern)
    daily: Day | None = None
    weekdays: Day | None = None
    weekend: Day | None = None
    mon: Day | None = None
    tue: Day | None = None
    wed: Day | None = None
    thu: Day | None = None
    fri: Day | None = None
    sat: Day | None = None
    sun: Day | None = None

    def to_demand(self) -> dm.Steps:
        days: dict[str, list[tuple[float, int]]] = {}
        for key in ("daily", "weekdays", "weekend", *dm.WEEKDAYS):
            value = getattr(self, key)
            if value is None:
                continue
            if isinstance(value, list):
                if len(value) != 24:
                    raise InputError(f"weekly.{key}", "give 24 hourly values (or a mapping HH:MM -> replicas)",
                                     len(value))
                days[key] = [(h * 3600.0, r) for h, r in enumerate(value)]
            else:
                steps = []
                for hhmm, r in value.items():
                    m = _HHMM.match(hhmm)
                    if m is None:
                        raise InputError(f"weekly.{key}", "times of day look like 07:30", hhmm)
                    steps.append((int(m.group(1)) * 3600.0 + int(m.group(2)) * 60.0, r))
                days[key] = steps
        m = _OFFSET.match(self.utc_offset)
        assert m is not None
        offset = (int(m.group(2)) * 3600 + int(m.group(3)) * 60) * (1 if m.group(1) == "+" else -1)
        return dm.weekly(days, offset)


class CurveIn(_Strict):
    start: float | str = Field(description="UTC epoch seconds or a date / date-time of the first point's time 0")
    period_s: float | None = Field(default=None, gt=0, le=366 * 86400)
    points: list[tuple[Annotated[float, Field(ge=0)], Replicas]] = Field(min_length=1, max_length=dm.MAX_POINTS)

    def to_demand(self) -> dm.Steps:
        return dm.curve(self.points, time_input("curve.start", self.start), self.period_s)


class DemandIn(_Strict):
    """Exactly one of: ``replicas`` (a fixed, pushed value), ``weekly``, ``curve``."""

    replicas: Replicas | None = None
    weekly: WeeklyIn | None = None
    curve: CurveIn | None = None

    @model_validator(mode="after")
    def _one(self) -> DemandIn:
        if sum(x is not None for x in (self.replicas, self.weekly, self.curve)) != 1:
            raise ValueError("give exactly one of replicas, weekly or curve")
        return self

    def to_demand(self) -> dm.Demand:
        if self.replicas is not None:
            return dm.Fixed(self.replicas)
        if self.weekly is not None:
            return self.weekly.to_demand()
        assert self.curve is not None
        return self.curve.to_demand()


class ServiceIn(_Strict):
    name: str = Field(min_length=1, max_length=63)
    cls: Literal["ran", "inference"] = Field(alias="class")
    gpus_per_replica: int = Field(ge=1, le=1024)
    gpu_type: str = Field(min_length=1, max_length=64)
    sites: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1, max_length=MAX_SITES)
    lead_s: float = Field(default=0.0, ge=0, le=MAX_LEAD)
    demand: DemandIn
    org: str = Field(default="", max_length=64)

    def to_spec(self, cluster: Cluster) -> ServiceSpec:
        """The service on ``cluster`` (its sites resolved); :class:`InputError` names the bad field."""
        check_name(self.name)
        nodes = resolve_sites(cluster, self.sites, self.gpu_type, self.gpus_per_replica)
        return ServiceSpec(self.name, ServiceClass(self.cls), self.gpus_per_replica, self.gpu_type, nodes,
                           self.demand.to_demand(), self.lead_s, self.org)


class ServicesFile(_Strict):
    services: list[ServiceIn] = Field(min_length=1, max_length=MAX_SERVICES)


def services_from_dict(data: Any, cluster: Cluster, where: str = "") -> list[ServiceSpec]:
    doc = validate_document(ServicesFile, data, "services", "a mapping with a 'services' list", where)
    out = []
    for i, s in enumerate(doc.services):
        try:
            out.append(s.to_spec(cluster))
        except InputError as exc:
            raise InputError(f"services[{i}].{exc.field}", exc.reason, exc.value, where=where) from None
    names = [s.name for s in out]
    for i, n in enumerate(names):
        if names.index(n) != i:
            raise InputError(f"services[{i}].name", "two services have this name", n, where=where)
    return out


def load_services(path: str | Path, cluster: Cluster) -> list[ServiceSpec]:
    """Load a services file; :class:`InputError` names the file, the field and the bad value."""
    return services_from_dict(read_yaml(path, "services"), cluster, where=str(path))


def demand_of(data: dict[str, Any]) -> dm.Demand:
    """A demand from its JSON form (as stored with a service)."""
    return DemandIn.model_validate(data).to_demand()
