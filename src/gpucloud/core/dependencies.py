"""When a job that depends on others may run: the rules of ``after``, ``afterany``, ``afterok``, ``afternotok``,
``aftercorr`` and ``singleton`` (Slurm's), given what is known of the jobs depended on.

Pure: the live service (:mod:`gpucloud.service.job_holds`) and the simulator (:mod:`gpucloud.sim.gating`) tell it
the states of the jobs a condition names, and it says whether the condition is met, may still be met (and what it
waits for), or can never be met (and why) — such a job is ended by its caller instead of waiting for ever.

A condition's references are resolved once, at submission: a :class:`Target` names one job or every task of an
array (``afterok:12`` where 12 is an array's id waits for all its tasks, as in Slurm). Over an array:

* ``after`` — every task has started (or ended without starting);
* ``afterany`` — every task has ended;
* ``afterok`` — every task succeeded; never once one ended otherwise;
* ``afternotok`` — every task ended and not all succeeded; never once all succeeded;
* ``aftercorr`` — the task of the same index of the named array succeeded (met when there is no such task).

Conditions joined by ``,`` must all hold (never once one can never hold); joined by ``?`` one suffices (never once
none can). ``singleton`` holds while no other job of the same user and name holds GPUs or waits ahead of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gpucloud.model.job import JobState

#: The prefix of every wait reason of a job held by its dependency (and of the never-met reason's).
WAITING_PREFIX = "dependency: "
NEVER_PREFIX = "dependency can never be met: "

_SUCCESS = JobState.SUCCEEDED.value
_ENDED = frozenset(s.value for s in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.TIMED_OUT))
_WORDS = {JobState.FAILED.value: "failed", JobState.CANCELLED.value: "was cancelled",
          JobState.TIMED_OUT.value: "timed out", _SUCCESS: "succeeded"}
#: What each kind waits for, as in "waiting for job 12 to ...".
_AWAITS = {"after": "start", "afterany": "end", "afterok": "succeed", "afternotok": "end unsuccessfully",
           "aftercorr": "succeed"}


class Verdict(StrEnum):
    MET = "met"
    WAITING = "waiting"
    NEVER = "never"


@dataclass(frozen=True, slots=True)
class Target:
    """One reference of a condition, resolved: ``kind`` on job ``job``, or on every task of array ``array``."""

    kind: str
    job: int | None = None
    array: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in _AWAITS:
            raise ValueError(f"unknown dependency kind {self.kind!r}")
        if (self.job is None) == (self.array is None):
            raise ValueError("a dependency target names a job or an array, not both")

    @property
    def text(self) -> str:
        return f"{self.kind}:{self.job if self.job is not None else self.array}"


@dataclass(frozen=True, slots=True)
class Condition:
    """What a job waits for: ``targets`` (all of them, or with ``any_of`` one of them) and ``singleton``."""

    targets: tuple[Target, ...] = ()
    any_of: bool = False
    singleton: bool = False

    @property
    def text(self) -> str:
        parts = [t.text for t in self.targets] + (["singleton"] if self.singleton else [])
        return ("?" if self.any_of else ",").join(parts)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for the ``jobs.dependency`` column."""
        return {"any": self.any_of, "singleton": self.singleton,
                "targets": [{"kind": t.kind, "job": t.job} if t.job is not None else {"kind": t.kind, "array": t.array}
                            for t in self.targets]}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Condition:
        return cls(tuple(Target(t["kind"], t.get("job"), t.get("array")) for t in doc.get("targets", ())),
                   bool(doc.get("any")), bool(doc.get("singleton")))


@dataclass(frozen=True, slots=True)
class Progress:
    """What is known of the jobs a target names: how many, how many have begun (started at least once, or ended
    without starting), ended, and succeeded; ``unsuccessful``: the state of one that ended otherwise."""

    total: int
    begun: int = 0
    ended: int = 0
    succeeded: int = 0
    unsuccessful: str | None = None


def progress(jobs: Iterable[tuple[str, bool]]) -> Progress:
    """The :class:`Progress` of jobs given as ``(state, has started at least once)``."""
    total = begun = ended = succeeded = 0
    unsuccessful: str | None = None
    for state, started in jobs:
        total += 1
        done = state in _ENDED
        begun += started or done
        ended += done
        if state == _SUCCESS:
            succeeded += 1
        elif done and unsuccessful is None:
            unsuccessful = state
    return Progress(total, begun, ended, succeeded, unsuccessful)


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    #: why it waits or can never run ("" when met)
    reason: str = ""


MET = Judgement(Verdict.MET)


def _label(t: Target, p: Progress) -> str:
    if t.job is not None:
        return f"job {t.job}"
    if t.kind == "aftercorr":
        return f"the corresponding task of array {t.array}"
    return f"array {t.array}'s {p.total} task{'s' if p.total != 1 else ''}"


def judge_target(t: Target, p: Progress | None) -> Judgement:
    """The verdict on one target, given what is known of it (None: nothing, i.e. no such job; for
    ``aftercorr``: the named array has no task of the same index, so nothing to wait for)."""
    if p is None or p.total == 0:
        if t.kind == "aftercorr":
            return MET
        return Judgement(Verdict.NEVER, f"{NEVER_PREFIX}job {t.job if t.job is not None else t.array} does not "
                                         f"exist ({t.text})")
    label = _label(t, p)
    waiting = Judgement(Verdict.WAITING, f"{WAITING_PREFIX}waiting for {label} to {_AWAITS[t.kind]} ({t.text})")
    kind = t.kind
    if kind == "after":
        return MET if p.begun == p.total else waiting
    if kind == "afterany":
        return MET if p.ended == p.total else waiting
    if kind in ("afterok", "aftercorr"):
        if p.ended > p.succeeded:
            what = (f"{label} {_WORDS.get(p.unsuccessful or '', 'did not succeed')}" if p.total == 1 else
                    f"{p.ended - p.succeeded} of {label} did not succeed")
            return Judgement(Verdict.NEVER, f"{NEVER_PREFIX}{what} ({t.text})")
        return MET if p.succeeded == p.total else waiting
    # afternotok
    if p.ended < p.total:
        return waiting
    if p.succeeded == p.total:
        return Judgement(Verdict.NEVER, f"{NEVER_PREFIX}{'all of ' if p.total > 1 else ''}{label} succeeded "
                                        f"({t.text})")
    return MET


def judge(cond: Condition, progress_of: Callable[[Target], Progress | None],
          singleton_blocker: int | None = None) -> Judgement:
    """The verdict on a whole condition. ``progress_of`` tells what is known of each target;
    ``singleton_blocker`` is a job of the same user and name that holds GPUs or waits ahead (None: none)."""
    waiting: Judgement | None = None
    never: Judgement | None = None
    for target in cond.targets:
        j = judge_target(target, progress_of(target))
        if j.verdict is Verdict.MET:
            if cond.any_of:
                return MET
        elif j.verdict is Verdict.NEVER:
            if not cond.any_of:
                return j
            never = never or j
        else:
            waiting = waiting or j
    if waiting is None and never is not None:  # any_of, and none of them can ever be met
        return never
    if waiting is None and cond.singleton and singleton_blocker is not None:
        waiting = Judgement(Verdict.WAITING, f"{WAITING_PREFIX}singleton: job {singleton_blocker} of the same name "
                                             "and user has not ended")
    return waiting or MET


def singleton_blockers(holding: Iterable[tuple[int, str, str]], pending: Iterable[tuple[int, str, str]],
                       singletons: Iterable[int]) -> dict[int, int]:
    """For each job of ``singletons`` (pending jobs with ``singleton``), a job that keeps it waiting: another job
    of the same user and name that holds GPUs, else one of them pending with a smaller id (submitted before it).
    Jobs are given as ``(id, user, name)``."""
    held: dict[tuple[str, str], int] = {}
    for jid, user, name in holding:
        held.setdefault((user, name), jid)
    first: dict[tuple[str, str], int] = {}
    key_of: dict[int, tuple[str, str]] = {}
    for jid, user, name in pending:
        key = (user, name)
        key_of[jid] = key
        if jid < first.get(key, jid + 1):
            first[key] = jid
    out: dict[int, int] = {}
    for jid in singletons:
        mine = key_of.get(jid)
        if mine is None:
            continue
        blocker = held.get(mine)
        if blocker is None and first[mine] < jid:
            blocker = first[mine]
        if blocker is not None:
            out[jid] = blocker
    return out
