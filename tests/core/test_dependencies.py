"""The dependency rules (Slurm's after, afterany, afterok, afternotok, aftercorr, singleton) on jobs and whole
arrays, combined with ',' and '?', and the singleton blockers."""

from __future__ import annotations

import pytest

from gpucloud.core.dependencies import (
    Condition,
    Progress,
    Target,
    Verdict,
    judge,
    judge_target,
    progress,
    singleton_blockers,
)

PENDING, RUNNING, OK, FAILED = ("pending", False), ("running", True), ("succeeded", True), ("failed", True)
CANCELLED_EARLY, TIMED_OUT = ("cancelled", False), ("timed_out", True)


def one(state: tuple[str, bool]) -> Progress:
    return progress([state])


@pytest.mark.parametrize(("kind", "state", "verdict"), [
    ("after", PENDING, Verdict.WAITING), ("after", RUNNING, Verdict.MET), ("after", CANCELLED_EARLY, Verdict.MET),
    ("afterany", RUNNING, Verdict.WAITING), ("afterany", FAILED, Verdict.MET), ("afterany", OK, Verdict.MET),
    ("afterok", RUNNING, Verdict.WAITING), ("afterok", OK, Verdict.MET), ("afterok", FAILED, Verdict.NEVER),
    ("afterok", TIMED_OUT, Verdict.NEVER), ("afterok", CANCELLED_EARLY, Verdict.NEVER),
    ("afternotok", RUNNING, Verdict.WAITING), ("afternotok", FAILED, Verdict.MET),
    ("afternotok", CANCELLED_EARLY, Verdict.MET), ("afternotok", OK, Verdict.NEVER),
])
def test_one_job(kind: str, state: tuple[str, bool], verdict: Verdict) -> None:
    assert judge_target(Target(kind, job=7), one(state)).verdict is verdict


def test_reasons_name_the_job_and_what_happened() -> None:
    assert judge_target(Target("afterok", job=7), one(RUNNING)).reason == \
        "dependency: waiting for job 7 to succeed (afterok:7)"
    assert judge_target(Target("afterok", job=7), one(FAILED)).reason == \
        "dependency can never be met: job 7 failed (afterok:7)"
    assert judge_target(Target("afterok", job=7), one(TIMED_OUT)).reason.endswith("job 7 timed out (afterok:7)")
    assert judge_target(Target("afternotok", job=7), one(OK)).reason == \
        "dependency can never be met: job 7 succeeded (afternotok:7)"
    assert judge_target(Target("afterany", job=9), None).reason == \
        "dependency can never be met: job 9 does not exist (afterany:9)"


def test_a_whole_array() -> None:
    array = Target("afterok", array=3)
    assert judge_target(array, progress([OK, OK, RUNNING])).verdict is Verdict.WAITING
    assert judge_target(array, progress([OK, OK, OK])).verdict is Verdict.MET
    never = judge_target(array, progress([OK, FAILED, RUNNING, FAILED]))
    assert never.verdict is Verdict.NEVER and "2 of array 3's 4 tasks did not succeed" in never.reason
    notok = Target("afternotok", array=3)
    assert judge_target(notok, progress([FAILED, RUNNING])).verdict is Verdict.WAITING  # all must end first
    assert judge_target(notok, progress([FAILED, OK])).verdict is Verdict.MET
    assert "all of array 3's 2 tasks succeeded" in judge_target(notok, progress([OK, OK])).reason
    assert judge_target(Target("after", array=3), progress([RUNNING, PENDING])).verdict is Verdict.WAITING
    assert judge_target(Target("afterany", array=3), progress([FAILED, OK])).verdict is Verdict.MET


def test_aftercorr_without_a_corresponding_task_is_met() -> None:
    corr = Target("aftercorr", array=3)
    assert judge_target(corr, None).verdict is Verdict.MET
    assert judge_target(corr, one(RUNNING)).verdict is Verdict.WAITING
    assert "the corresponding task of array 3 failed" in judge_target(corr, one(FAILED)).reason


def test_all_of_and_any_of() -> None:
    known = {1: one(OK), 2: one(RUNNING), 3: one(FAILED), 4: one(PENDING)}

    def of(t: Target) -> Progress | None:
        return known.get(t.job or 0)

    both = Condition((Target("afterok", job=2), Target("afterok", job=3)))
    assert judge(both, of).verdict is Verdict.NEVER  # one can never hold: never, though the other still waits
    assert judge(Condition((Target("afterok", job=1), Target("afterany", job=2))), of).reason.endswith("(afterany:2)")
    assert judge(Condition((Target("afterok", job=1), Target("after", job=2))), of).verdict is Verdict.MET
    either = Condition((Target("afterok", job=3), Target("afterok", job=2)), any_of=True)
    assert judge(either, of).verdict is Verdict.WAITING  # job 2 may still succeed
    assert judge(Condition((Target("afterok", job=3), Target("afterok", job=1)), any_of=True), of) \
        .verdict is Verdict.MET
    none = judge(Condition((Target("afterok", job=3), Target("afternotok", job=1)), any_of=True), of)
    assert none.verdict is Verdict.NEVER and "(afterok:3)" in none.reason
    assert judge(Condition(), of).verdict is Verdict.MET


def test_singleton_waits_but_is_never_hopeless() -> None:
    cond = Condition(singleton=True)
    assert judge(cond, lambda t: None).verdict is Verdict.MET
    waiting = judge(cond, lambda t: None, singleton_blocker=4)
    assert waiting.verdict is Verdict.WAITING and "singleton: job 4" in waiting.reason
    # a dependency still waiting speaks first
    dep = Condition((Target("afterany", job=1),), singleton=True)
    assert "(afterany:1)" in judge(dep, lambda t: one(RUNNING), singleton_blocker=4).reason


def test_singleton_blockers() -> None:
    holding = [(10, "ann", "train")]
    pending = [(11, "ann", "train"), (12, "ann", "train"), (13, "bob", "train"), (14, "bob", "train"),
               (15, "ann", "eval")]
    blockers = singleton_blockers(holding, pending, [11, 12, 13, 14, 15])
    # ann's train runs (10): both waiting ones wait for it; bob's 14 waits for 13 (earlier); 13 and 15 may go
    assert blockers == {11: 10, 12: 10, 14: 13}


def test_targets_are_checked_and_round_trip_json() -> None:
    with pytest.raises(ValueError, match="unknown dependency kind"):
        Target("before", job=1)
    with pytest.raises(ValueError, match="not both"):
        Target("afterok", job=1, array=2)
    cond = Condition((Target("afterok", job=1), Target("afterany", array=5)), any_of=True)
    assert Condition.from_json(cond.to_json()) == cond and cond.text == "afterok:1?afterany:5"
