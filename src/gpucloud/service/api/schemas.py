"""Request and response bodies of the REST API (pydantic models)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from gpucloud.durations import parse_duration
from gpucloud.model.job import JobState
from gpucloud.model.limits import text_problem
from gpucloud.model.priority import DEFAULT_PRIORITY_CLASS
from gpucloud.service.api.forecast_schemas import StartForecastOut

Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")]
Duration = Annotated[float, BeforeValidator(parse_duration)]
Role = Literal["operator", "org-admin", "member"]


def _text(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


#: Text that can be stored and shown: no NUL character, no lone surrogate. Routes get this from the input guard
#: (:mod:`gpucloud.service.api.inputguard`); the fast submit path, which no route serves, from this type.
Text = Annotated[str, AfterValidator(_text)]


class _In(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


#: The base of the request bodies that routers define next to themselves.
RequestBody = _In


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- jobs ----------------------------------------------------------------------------------------------------


class JobSubmit(_In):
    """A job to run. Give ``num_gpus`` (spread over the fewest whole nodes) or ``nodes`` × GPUs per node via
    ``num_gpus`` = nodes × per node. ``walltime`` and ``grace`` accept seconds or ``"1h30m"``-style strings."""

    # argv, env and cwd are checked against the server's limits by gpucloud.model.limits.check_command
    argv: list[str] = Field(min_length=1, description="the program and its arguments")
    name: Text = Field(default="", max_length=200)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str = Field(default="", description="working directory; empty: the executor's default")
    num_gpus: int = Field(default=1, ge=1, le=1_000_000)
    nodes: int | None = Field(default=None, ge=1, le=100_000)
    gpu_type: Text | None = Field(default=None, min_length=1, max_length=100)
    walltime: Duration = Field(default=3600.0, description="seconds, or e.g. '90s', '30m', '1h30m', '2d'")
    priority: Text = Field(default=DEFAULT_PRIORITY_CLASS, max_length=20,
                           description="priority class: low, normal, high, urgent")
    preemptible: bool = True
    grace: Duration = Field(default=10.0, description="seconds between SIGTERM and SIGKILL")
    org: Text | None = Field(default=None, min_length=1, max_length=100)
    project: Text | None = Field(default=None, min_length=1, max_length=100)
    idempotency_key: Text | None = Field(default=None, min_length=1, max_length=200)
    service_class: Text = Field(default="standard", max_length=20,
                                description="how the job is priced: standard, interactive or preemptible")
    reservation: Text | None = Field(default=None, min_length=1, max_length=100,
                                     description="run inside this reservation of your org (its name or #id)")
    array: Text | None = Field(default=None, min_length=1, max_length=1000,
                               description="a job array: one job per task index, e.g. '0-99', '1,3,5', '0-999:2%10' "
                               "(%N: at most N tasks hold GPUs at once)")
    dependency: Text | None = Field(default=None, min_length=1, max_length=20_000,
                                    description="what it waits for, as Slurm writes it: 'afterok:12:13', "
                                    "'afterany:12_3', 'afternotok:12?afterok:14', 'singleton'")


class PlacedNodeOut(BaseModel):
    node: str
    gpus: list[int]


class JobOut(BaseModel):
    id: int
    name: str
    org: str
    project: str
    user: str
    argv: list[str]
    env: dict[str, str]
    cwd: str
    num_gpus: int
    nodes: int | None
    gpu_type: str | None
    walltime_s: float
    priority: str
    priority_value: int
    preemptible: bool
    grace_s: float
    state: JobState
    reason: str
    cancel_requested: bool
    submitted_at: float
    queued_at: float
    started_at: float | None
    ended_at: float | None
    exit_code: int | None
    placement: list[PlacedNodeOut] | None
    assigned_gpu_type: str | None
    run_count: int
    preemptions: int
    service_class: str = "standard"
    reservation_id: int | None = None
    array_job_id: int | None = Field(default=None, description="a task of a job array: the array's id (the id of "
                                     "its first task)")
    array_task_id: int | None = Field(default=None, description="a task of a job array: its index")
    array_throttle: int | None = Field(default=None, description="at most this many of the array's tasks hold GPUs "
                                       "at once")
    dependency: str | None = Field(default=None, description="what the job waits for (as Slurm writes it)")
    ran_s: float | None = Field(default=None, description="seconds run over all its runs (a running job up to "
                                "now; a requeued one its earlier runs only); null when it never started")
    estimated_cost: str | None = Field(default=None, description="points held for the current or last run "
                                       "(its full walltime); null when budgets are off")
    final_cost: str | None = Field(default=None, description="points charged over the job's ended runs")


class JobEventOut(_Out):
    at: float
    from_state: JobState | None
    to_state: JobState
    reason: str


class JobDetail(JobOut):
    events: list[JobEventOut]
    forecast: StartForecastOut | None = Field(default=None, description="a pending job's predicted start")


class SubmitOut(JobOut):
    created: bool = Field(description="false when an earlier submit with the same idempotency key is returned")


class JobPageOut(BaseModel):
    items: list[JobOut]
    next_cursor: int | None = Field(description="pass as ?cursor= for the next page; null on the last page")
    total: int | None = Field(default=None, description="every job that matches (when paging by ?offset=)")


class QueueEntryOut(BaseModel):
    position: int
    job: JobOut
    forecast: StartForecastOut | None = Field(default=None, description="predicted start (with ?start=true)")


class QueueOut(BaseModel):
    total_pending: int = Field(description="the whole queue's length")
    total: int = Field(default=0, description="the entries you may see that match the filters")
    items: list[QueueEntryOut]


class LogOut(BaseModel):
    stream: Literal["stdout", "stderr"]
    text: str
    offset: int
    next_offset: int
    size: int
    done: bool = Field(description="the job has ended and everything written has been read")


# --- cluster -------------------------------------------------------------------------------------------------


class GpuOut(BaseModel):
    index: int
    busy: bool
    job_id: int | None = Field(description="the holding job when you may see it")


class NodeReservationOut(BaseModel):
    id: int
    name: str
    org: str | None = Field(description="null when the caller may not see whose it is")
    start: float
    end: float
    active: bool = Field(description="the window has started")


class NodeOut(BaseModel):
    name: str
    gpu_type: str
    gpus: list[GpuOut]
    state: Literal["up", "down"] = "up"
    state_reason: str | None = None
    reservation: NodeReservationOut | None = Field(default=None, description="the current or next reservation")


class NodeStateIn(_In):
    state: Literal["up", "down"]
    reason: str = Field(default="", max_length=1000)
    stop_jobs: bool = Field(default=False, description="down: also cancel the jobs holding GPUs on it (default: "
                            "they run on, the node drains)")


class NodeStateOut(BaseModel):
    node: str
    state: Literal["up", "down"]
    reason: str
    stopped_jobs: list[int] = Field(default_factory=list, description="the jobs asked to stop (stop_jobs)")


class RackOut(BaseModel):
    name: str
    nodes: list[NodeOut]


class BlockOut(BaseModel):
    name: str
    racks: list[RackOut]


class GpuTypeOut(BaseModel):
    name: str
    memory_gb: float
    speed: float
    total: int
    busy: int


class ClusterOut(BaseModel):
    name: str
    description: str
    total_gpus: int
    busy_gpus: int
    gpu_types: list[GpuTypeOut]
    blocks: list[BlockOut]
    max_walltime_s: float | None = Field(default=None, description="the longest walltime a job may ask for (the "
                                         "cluster file's limits.max_walltime)")


class ReloadOut(BaseModel):
    name: str
    total_gpus: int
    nodes: int
    warnings: list[str] = Field(description="e.g. running jobs on nodes the new cluster no longer has")


# --- tenants -------------------------------------------------------------------------------------------------


#: An org's kind ("university", "institute", "company", ...; "" for none): subsidy programmes may be open to a kind.
OrgKind = Annotated[str, Field(max_length=40, pattern=r"^([a-z0-9][a-z0-9_-]*)?$")]


class OrgCreate(_In):
    name: Name
    weight: float = Field(default=1.0, gt=0, le=1e6)
    kind: OrgKind = ""


class OrgUpdate(_In):
    weight: float | None = Field(default=None, gt=0, le=1e6)
    kind: OrgKind | None = None


class OrgOut(_Out):
    id: int
    name: str
    weight: float
    kind: str = ""
    created_at: float


class ProjectCreate(_In):
    name: Name


class ProjectOut(BaseModel):
    id: int
    org: str
    name: str
    created_at: float


class UserCreate(_In):
    name: Name
    role: Role = "member"
    org: str | None = Field(default=None, max_length=100, description="required except for operators")


class UserUpdate(_In):
    """Only the fields given change."""

    role: Role | None = Field(default=None, description="member or org-admin")
    active: bool | None = Field(default=None, description="false: deactivate (their tokens are refused); true: "
                                "reactivate")


class UserOut(BaseModel):
    id: int
    name: str
    role: Role
    org: str | None
    created_at: float
    active: bool = True
    deactivated_at: float | None = None


class TokenCreate(_In):
    user: str | None = Field(default=None, max_length=100, description="whose token; default: yourself")
    description: str = Field(default="", max_length=200)


class TokenOut(BaseModel):
    id: int
    user: str
    prefix: str
    description: str
    created_at: float
    revoked_at: float | None


class TokenCreated(TokenOut):
    token: str = Field(description="the token itself; shown only this once")


class QuotaSet(_In):
    guaranteed: int = Field(ge=0, le=10_000_000)
    borrow_limit: int | None = Field(default=None, ge=0, le=10_000_000, description="null: unlimited")


class QuotaOut(BaseModel):
    org: str
    gpu_type: str
    guaranteed: int
    borrow_limit: int | None


class MeOut(BaseModel):
    id: int
    name: str
    role: Role
    org: str | None


class HealthOut(BaseModel):
    status: Literal["ok"]
    version: str
    schema_revision: str | None


class FieldError(BaseModel):
    field: str
    message: str
    value: object = None


class ValidationErrorOut(BaseModel):
    detail: list[FieldError]


class ErrorOut(BaseModel):
    detail: str
