"""Dependency specifications (``--dependency``): Slurm's kinds, several jobs per kind, array tasks, ``,`` and
``?``, singleton, the canonical text, and mistakes named with the field ``dependency``."""

from __future__ import annotations

import pytest

from gpucloud.errors import InputError
from gpucloud.model.dependency_spec import Dependency, Ref, parse_dependency


def test_kinds_jobs_and_tasks() -> None:
    dep = parse_dependency("afterok:12:13_4,afterany:9,singleton")
    assert dep == Dependency((Ref("afterok", 12), Ref("afterok", 13, 4), Ref("afterany", 9)), False, True)
    assert dep.text == "afterok:12:13_4,afterany:9,singleton"


def test_any_of_and_case() -> None:
    dep = parse_dependency("AfterNotOK:5?afterok:6")
    assert dep.any_of and dep.refs == (Ref("afternotok", 5), Ref("afterok", 6)) and not dep.singleton
    assert dep.text == "afternotok:5?afterok:6"
    assert parse_dependency("singleton").text == "singleton"
    assert parse_dependency("aftercorr:3").refs == (Ref("aftercorr", 3),)


@pytest.mark.parametrize(("text", "words"), [
    ("", "must name a condition"),
    ("afterok", "afterok needs job ids"),
    ("afterok:", "afterok needs job ids"),
    ("afterok:12::13", "afterok needs job ids"),
    ("aftrok:12", "did you mean 'afterok'?"),
    ("before:12", "unknown kind 'before'"),
    ("afterok:x", "'x' is not a job id"),
    ("afterok:0", "'0' is not a job id"),
    ("afterok:99999999999", "is not a job id"),
    ("afterok:12_x", "'x' is not an array task index"),
    ("after:12+30", "delay after the start"),
    ("afterok:1,afterany:2?afterok:3", "not both"),
    ("singleton:4", "singleton takes no job ids"),
    ("singleton?afterok:4", "singleton cannot be one of several"),
])
def test_mistakes_name_the_field(text: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        parse_dependency(text)
    assert info.value.field == "dependency" and words in str(info.value)


def test_at_most_a_thousand_jobs() -> None:
    assert len(parse_dependency("afterok:" + ":".join(map(str, range(1, 1001)))).refs) == 1000
    with pytest.raises(InputError, match="at most 1000 jobs"):
        parse_dependency("afterok:" + ":".join(map(str, range(1, 1002))))
