"""What a job may ask for: the cluster file's ``limits:`` (walltime per cluster, priority class and service class;
grace) and the checks of a job's command (NUL characters, environment names, sizes)."""

from __future__ import annotations

from typing import Any

import pytest

from gpucloud.errors import InputError
from gpucloud.model.cluster_file import cluster_from_dict, parse_inline
from gpucloud.model.limits import DEFAULT_MAX_GRACE_S, DEFAULT_MAX_WALLTIME_S, CommandLimits, check_command

BLOCKS = [{"racks": [{"nodes": [{"gpus": 8, "gpu_type": "H100-80GB"}]}]}]


def cluster(limits: Any) -> Any:
    return cluster_from_dict({"name": "c", "blocks": BLOCKS, "limits": limits})


def test_a_cluster_without_limits_has_the_defaults() -> None:
    for c in (cluster_from_dict({"name": "c", "blocks": BLOCKS}), parse_inline("2x8")):
        assert c.limits.max_walltime_s == DEFAULT_MAX_WALLTIME_S == 30 * 86400
        assert c.limits.max_grace_s == DEFAULT_MAX_GRACE_S == 300
        c.limits.check(DEFAULT_MAX_WALLTIME_S, DEFAULT_MAX_GRACE_S, "normal", "standard")
        with pytest.raises(InputError) as err:
            c.limits.check(100000 * 86400, 10, "normal", "standard")
        assert err.value.field == "walltime" and "30d" in err.value.reason and "max_walltime" in err.value.reason


def test_limits_per_cluster_priority_and_service_class() -> None:
    limits = cluster({"max_walltime": "7d", "max_grace": "1m", "max_walltime_by_priority": {"urgent": "1h"},
                      "max_walltime_by_service_class": {"preemptible": "30d", "interactive": 7200}}).limits
    assert limits.max_walltime("normal", "standard") == (7 * 86400, "max_walltime")
    assert limits.max_walltime("normal", "preemptible") == (30 * 86400, "max_walltime_by_service_class of preemptible")
    assert limits.max_walltime("urgent", "preemptible") == (3600, "max_walltime_by_priority of urgent")  # shorter
    limits.check(30 * 86400, 60, "low", "preemptible")
    cases = [(7 * 86400 + 1, 0, "normal", "standard", "walltime", "7d"),
             (3601, 0, "urgent", "standard", "walltime", "max_walltime_by_priority of urgent"),
             (7201, 0, "high", "interactive", "walltime", "2h"),
             (60, 61, "normal", "standard", "grace", "1m")]
    for walltime, grace, prio, service, fld, words in cases:
        with pytest.raises(InputError) as err:
            limits.check(walltime, grace, prio, service)
        assert err.value.field == fld and words in err.value.reason, err.value


@pytest.mark.parametrize(("limits", "field", "words"), [
    ({"max_walltime": "forever"}, "limits.max_walltime", "duration"),
    ({"max_walltime": "1e308"}, "limits.max_walltime", "less than or equal"),
    ({"max_walltime": float("nan")}, "limits.max_walltime", "finite"),  # YAML .nan
    ({"max_walltime": 0}, "limits.max_walltime", "greater than 0"),
    ({"max_grace": "2d"}, "limits.max_grace", "less than or equal"),
    ({"max_walltime_by_priority": {"urgnt": "1d"}}, "limits.max_walltime_by_priority", "did you mean 'urgent'"),
    ({"max_walltime_by_service_class": {"gold": "1d"}}, "limits.max_walltime_by_service_class", "service class"),
    ({"max_walltime_by_service_class": {"interactive": "-1h"}}, "limits.max_walltime_by_service_class.interactive",
     "duration"),
    ({"max_wall": "1d"}, "limits.max_wall", "Extra inputs"),
])
def test_bad_limits_name_their_field(limits: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InputError) as err:
        cluster(limits)
    assert err.value.field == field and words in err.value.reason, err.value


LIMITS = CommandLimits(argv_items=3, argv_bytes=20, arg_bytes=10, env_vars=2, env_key_bytes=5, env_value_bytes=8,
                       cwd_bytes=6)


@pytest.mark.parametrize(("argv", "env", "cwd", "field", "words"), [
    ([], {}, "", "argv", "program"),
    (["a", "b", "c", "d"], {}, "", "argv", "at most 3 items"),
    (["a", "b" * 11], {}, "", "argv[1]", "at most 10 bytes"),
    (["é" * 6], {}, "", "argv[0]", "at most 10 bytes"),  # 12 bytes in UTF-8
    (["a" * 10, "b" * 10, "c"], {}, "", "argv", "at most 20 bytes in all"),
    (["a", "b\x00"], {}, "", "argv[1]", "NUL"),
    (["a", "\ud800"], {}, "", "argv[1]", "surrogate"),
    (["a"], {"A": "1", "B": "2", "C": "3"}, "", "env", "at most 2 variables"),
    (["a"], {"": "1"}, "", "env", "name must not be empty"),
    (["a"], {"A=B": "1"}, "", "env", "must not contain '='"),
    (["a"], {"A\x00": "1"}, "", "env", "NUL"),
    (["a"], {"ABCDEF": "1"}, "", "env", "at most 5 bytes"),
    (["a"], {"A": "x\x00"}, "", "env.A", "NUL"),
    (["a"], {"A": "x" * 9}, "", "env.A", "at most 8 bytes"),
    (["a"], {}, "/tmp\x00", "cwd", "NUL"),
    (["a"], {}, "/tmp/xy", "cwd", "at most 6 bytes"),
])
def test_bad_commands_name_their_field(argv: list[str], env: dict[str, str], cwd: str, field: str,
                                       words: str) -> None:
    with pytest.raises(InputError) as err:
        check_command(argv, env, cwd, LIMITS)
    assert err.value.field == field and words in err.value.reason, err.value


def test_a_command_at_the_limits_passes() -> None:
    check_command(["a" * 10, "b" * 10], {"ABCDE": "x" * 8, "B": ""}, "/tmp/x", LIMITS)
