"""Price preview of a job before it is submitted: what its project would hold for its full walltime at the tariff
in force now, on each GPU type it could get, split with the subsidy programme that would pay part of it — the
same rules the service applies at admission (:func:`gpucloud.service.budgets.on_job_changes`), nothing stored.

The GPU type is known only at admission for a job that names none, so each type it fits is priced. A standard
job that fits in part of one node is priced at the tariff's ``shared`` class (when it has one), as a run on one
node of that type's largest size would be."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gpucloud.errors import InputError
from gpucloud.model.cluster import Cluster
from gpucloud.money.ledger import BudgetError, JobRun
from gpucloud.money.points import ZERO
from gpucloud.money.subsidy import split
from gpucloud.money.tariff import priced_class
from gpucloud.service import budgets, programmes
from gpucloud.service.auth import Principal
from gpucloud.service.jobs import SubmitRequest, check_in_session, check_request
from gpucloud.service.reservations import job_terms
from gpucloud.service.store.models import OrgRow


@dataclass(frozen=True)
class Option:
    """The price on one GPU type; ``error`` says why it cannot be priced (the tariff lacks the type or class)."""

    gpu_type: str
    service_class: str
    rate: Decimal | None = None
    hold: Decimal | None = None
    subsidy: Decimal = ZERO
    project_pays: Decimal | None = None
    programme: str = ""
    #: the project can cover its part now; else ``why`` says what stops it (expired, over the cap, too little)
    enough: bool = True
    why: str = ""
    error: str = ""


@dataclass(frozen=True)
class JobQuote:
    project: str
    available: Decimal
    #: the tariff in force (None: charging is off, the job is free)
    tariff: str | None
    #: the job runs in a reservation, which has paid for it
    reserved: bool
    options: list[Option]


def quote_job(session: Session, who: Principal, req: SubmitRequest, cluster: Cluster, now: float) -> JobQuote:
    """The price preview of ``req`` (InputError naming the field when it could not be submitted as it is)."""
    checked = check_in_session(session, who, req, cluster, now)
    org, project, gpu_type = checked.org, checked.project, checked.gpu_type
    terms = job_terms(session, org.id, req, gpu_type, cluster, now)
    key = budgets.project_key(org.name, project.name)
    state = budgets.load_state(session, {project.id: key}, lock=False)
    available = state.ledger.available(key)
    tariff = budgets.tariff_in_force(session, now)
    types = [terms.gpu_type] if terms.gpu_type else _fitting_types(req, who, org.name, project.name, cluster, now)
    if tariff is None or terms.reservation_id is not None:
        return JobQuote(key, available, None if tariff is None else tariff.name, terms.reservation_id is not None,
                        [Option(t, terms.service_class) for t in types])
    offers = [programmes.offer_of(r) for r in programmes.list_rows(session)]
    ledger = state.ledger
    if offers:
        ledger = programmes.with_commitments(ledger, programmes.commitments(
            session, [o.programme.name for o in offers]))
    kind = session.scalar(select(OrgRow.kind).where(OrgRow.id == org.id)) or ""
    programme = programmes.choose(offers, ledger, org.name, kind, now)
    options = []
    for t in types:
        klass = priced_class(tariff, terms.service_class,
                             (req.nodes or 1) == 1 and req.num_gpus < cluster.max_node_gpus.get(t, 0))
        try:
            run = JobRun("quote#1", org.name, key, t, req.num_gpus, req.walltime_s, now, tariff, service_class=klass,
                         priority_class=req.priority_class, user=who.name, org_kind=kind)
            exact = tariff.rate(t, klass, req.priority_class)
            rate = Decimal(exact.numerator) / Decimal(exact.denominator)
            hold = run.cost(req.walltime_s)
        except InputError as exc:
            options.append(Option(t, klass, error=exc.reason))
            continue
        subsidy, pays, paid_by = ZERO, hold, ""
        if programme is not None and programme.eligible(org.name, kind):
            subsidy, pays = split(hold, programme, ledger.programme_spent.get(programme.name, ZERO),
                                  ledger.programme_org_spent.get((programme.name, org.name), ZERO))
            paid_by = programme.name if subsidy else ""
        option = Option(t, klass, rate, hold, subsidy, pays, paid_by)
        try:
            ledger.hold(run, programme=programme)
        except BudgetError as exc:
            option = dataclasses.replace(option, enough=False, why=str(exc))
        options.append(option)
    return JobQuote(key, available, tariff.name, False, options)


def _fitting_types(req: SubmitRequest, who: Principal, org: str, project: str, cluster: Cluster,
                   now: float) -> list[str]:
    """The GPU types a job naming none could be placed on."""
    out = []
    for t in sorted(cluster.gpu_types):
        try:
            check_request(dataclasses.replace(req, gpu_type=t), who, org, project, cluster, now)
        except InputError:
            continue
        out.append(t)
    return out
