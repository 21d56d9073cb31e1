"""Job state transitions: one small rule class per transition, and :func:`apply_transition`.

Each rule names the states it applies from and what it changes on the job besides the state. Applying one
validates it, updates the job, writes a ``job_events`` row and bumps ``scheduler_state.version``. See
``docs/job-states.md`` for the diagram and who triggers what.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from gpucloud.errors import GpucloudError
from gpucloud.model.job import JobState
from gpucloud.service.store.engine import bump_version
from gpucloud.service.store.models import JobEventRow, JobRow
from gpucloud.service.store.placement import PlacedNode, placement_from_json, placement_to_json

S = JobState


class IllegalTransition(GpucloudError):
    """A state change that the state machine does not allow (e.g. ``succeeded → running``)."""

    def __init__(self, job_id: int, from_state: str, to_state: str, detail: str = "") -> None:
        self.job_id = job_id
        self.from_state = from_state
        self.to_state = to_state
        allowed = RULES[JobState(to_state)].from_states if to_state in JobState.__members__.values() else ()
        hint = f"; allowed from: {', '.join(sorted(allowed))}" if allowed else ""
        super().__init__(
            f"job {job_id}: cannot go from {from_state} to {to_state}{hint}" + (f" ({detail})" if detail else "")
        )


@dataclass(frozen=True, slots=True)
class TransitionInput:
    """What a transition may need besides the target state."""

    placement: Sequence[PlacedNode] | None = None
    gpu_type: str | None = None
    handle: dict[str, Any] | None = None
    exit_code: int | None = None
    #: the pending job a preempted victim makes room for
    preempted_for: int | None = None
    #: the attained service (GPU-seconds) an admitted run starts from (0 when LAS promoted the job)
    attained: float | None = None


class Transition:
    """A rule: ``from_states`` → ``to_state``, triggered by ``trigger``; :meth:`effects` updates the job."""

    name: ClassVar[str]
    to_state: ClassVar[JobState]
    from_states: ClassVar[frozenset[JobState]]
    trigger: ClassVar[str]

    def check(self, job: JobRow, data: TransitionInput) -> None:
        """Raise :class:`IllegalTransition` if the data needed for this transition is missing."""

    def effects(self, job: JobRow, now: float, data: TransitionInput) -> None:
        """Change the job's fields other than ``state``/``reason``."""


class Admit(Transition):
    name = "admit"
    to_state = S.ADMITTED
    from_states = frozenset({S.PENDING})
    trigger = "control loop: the core admitted the job with a placement"

    def check(self, job: JobRow, data: TransitionInput) -> None:
        if not data.placement or not data.gpu_type:
            raise IllegalTransition(job.id, job.state, self.to_state, "admission needs a placement and GPU type")

    def effects(self, job: JobRow, now: float, data: TransitionInput) -> None:
        job.placement = placement_to_json(data.placement or ())
        job.assigned_gpu_type = data.gpu_type
        job.queue_rank = None
        job.stop_at = None
        if data.attained is not None:
            job.attained_gpu_s = data.attained


class Start(Transition):
    name = "start"
    to_state = S.RUNNING
    from_states = frozenset({S.ADMITTED})
    trigger = "control loop: the executor launched the job's processes"

    def effects(self, job: JobRow, now: float, data: TransitionInput) -> None:
        job.started_at = now
        job.run_count += 1
        if data.handle is not None:
            job.handle = data.handle


class _Ended(Transition):
    def effects(self, job: JobRow, now: float, data: TransitionInput) -> None:
        job.ended_at = now
        job.queue_rank = None
        job.preempted_for = None
        if data.exit_code is not None:
            job.exit_code = data.exit_code


class Succeed(_Ended):
    name = "succeed"
    to_state = S.SUCCEEDED
    from_states = frozenset({S.RUNNING, S.PREEMPTING})
    trigger = "control loop: all processes exited with code 0"


class Fail(_Ended):
    name = "fail"
    to_state = S.FAILED
    from_states = frozenset({S.ADMITTED, S.RUNNING, S.PREEMPTING})
    trigger = "control loop: non-zero exit, launch error, or processes lost while the server was down"


class Cancel(_Ended):
    name = "cancel"
    to_state = S.CANCELLED
    from_states = frozenset({S.PENDING, S.ADMITTED, S.RUNNING, S.PREEMPTING})
    trigger = "user (pending: at once) or control loop (after stopping a job whose cancel was requested)"


class TimeOut(_Ended):
    name = "time out"
    to_state = S.TIMED_OUT
    from_states = frozenset({S.RUNNING, S.PREEMPTING})
    trigger = "control loop: the walltime ran out and the processes were stopped"


class Preempt(Transition):
    name = "preempt"
    to_state = S.PREEMPTING
    from_states = frozenset({S.RUNNING})
    trigger = "control loop: the core preempted the job; SIGTERM sent, grace period running"

    def effects(self, job: JobRow, now: float, data: TransitionInput) -> None:
        job.preemptions += 1
        job.preempted_for = data.preempted_for
        if job.stop_at is None:
            job.stop_at = now


class Requeue(Transition):
    name = "requeue"
    to_state = S.PENDING
    from_states = frozenset({S.PREEMPTING, S.ADMITTED, S.RUNNING})
    trigger = ("control loop: a preempted job stopped, an admitted job could not be launched yet, or a preemptible "
               "job's host was lost")

    def effects(self, job: JobRow, now: float, data: TransitionInput) -> None:
        if job.state in (S.PREEMPTING, S.RUNNING) and job.started_at is not None:
            gpus = sum(len(p.gpus) for p in placement_from_json(job.placement))
            job.attained_gpu_s += gpus * max(0.0, now - job.started_at)
        job.placement = None  # the GPU type of the run stays: fair share and the usage series count that run
        job.handle = None
        job.preempted_for = None
        job.stop_at = None
        job.queued_at = now


#: The rule for each target state (each state is reached by exactly one rule).
RULES: dict[JobState, Transition] = {
    t.to_state: t for t in (Admit(), Start(), Succeed(), Fail(), Cancel(), TimeOut(), Preempt(), Requeue())
}


def rule_for(from_state: str, to_state: JobState | str) -> Transition | None:
    """The rule that moves a job from ``from_state`` to ``to_state``, or ``None`` if there is none."""
    try:
        rule = RULES[JobState(to_state)]
    except ValueError:
        return None
    return rule if from_state in rule.from_states else None


def transition(
    job: Any,
    to_state: JobState | str,
    reason: str,
    now: float,
    *,
    placement: Sequence[PlacedNode] | None = None,
    gpu_type: str | None = None,
    handle: dict[str, Any] | None = None,
    exit_code: int | None = None,
    preempted_for: int | None = None,
    attained: float | None = None,
) -> dict[str, Any]:
    """Validate and apply one transition to ``job`` in memory (a :class:`JobRow` or any object with the same
    attributes, like the control loop's :class:`gpucloud.service.control.txn.JobValues`); the values of its
    ``job_events`` row. Raises :class:`IllegalTransition` when the state machine forbids it."""
    rule = rule_for(job.state, to_state)
    if rule is None:
        raise IllegalTransition(job.id, job.state, str(to_state))
    data = TransitionInput(placement=placement, gpu_type=gpu_type, handle=handle, exit_code=exit_code,
                           preempted_for=preempted_for, attained=attained)
    rule.check(job, data)
    from_state = job.state
    rule.effects(job, now, data)
    job.state = rule.to_state.value
    job.reason = reason
    return {"job_id": job.id, "at": now, "from_state": from_state, "to_state": rule.to_state.value, "reason": reason}


def apply_transition(
    session: Session,
    job: JobRow,
    to_state: JobState | str,
    reason: str,
    now: float,
    *,
    placement: Sequence[PlacedNode] | None = None,
    gpu_type: str | None = None,
    handle: dict[str, Any] | None = None,
    exit_code: int | None = None,
    bump: bool = True,
) -> JobEventRow:
    """Move ``job`` to ``to_state`` in ``session``'s transaction: validate, update, record the event, and bump
    the scheduler version. Raises :class:`IllegalTransition` when the state machine forbids it. The caller
    commits; a concurrent change of the same job makes the commit raise ``StaleDataError``. ``bump=False`` is
    for callers that bump the version once for a whole batch of transitions themselves (the control loop)."""
    values = transition(job, to_state, reason, now, placement=placement, gpu_type=gpu_type, handle=handle,
                        exit_code=exit_code)
    event = JobEventRow(**values)
    session.add(event)
    if bump:
        bump_version(session)
    return event
