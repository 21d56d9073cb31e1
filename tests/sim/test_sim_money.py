"""Costs and budgets in a replay, on tiny scenarios whose points were worked out by hand (in each docstring).

Every scenario runs on ``1x4`` (one node of 4 H100-80GB) under fifo with a tariff of 3.6 points per GPU-hour,
i.e. exactly 0.001 points per GPU-second, so a cost is GPUs × seconds / 1000. Trace time 0 is 2025-01-01
(the first tariff's ``valid_from``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gpucloud.errors import InputError
from gpucloud.model.cluster_file import parse_inline
from gpucloud.model.job import JobSpec
from gpucloud.money import Tariff, TariffBook
from gpucloud.sim.budget_file import budgets_from_dict, load_budgets
from gpucloud.sim.engine import SimConfig, SimResult, Simulation, simulate
from gpucloud.sim.metrics import summarize
from gpucloud.sim.money import MoneyConfig, priority_class
from gpucloud.sim.traces.base import TraceJob

T0 = 1735689600.0  # 2025-01-01T00:00:00Z
H100 = "H100-80GB"
D = Decimal


def tariff(name: str = "t1", at: float = T0, price: str = "3.6", **kw: Any) -> Tariff:
    return Tariff(name, at, {H100: D(price)}, **kw)


BOOK = TariffBook([tariff(minimum_seconds=60)])


def job(jid: str, org: str, gpus: int, submit: float, duration: float, walltime: float, **kw: Any) -> TraceJob:
    return TraceJob(JobSpec(jid, org, gpus, submit, walltime, **kw), duration)


def replay(jobs: list[TraceJob], money: MoneyConfig, *, checkpoint: float = 0.0) -> SimResult:
    return simulate(parse_inline("1x4"), jobs, "fifo", config=SimConfig(checkpoint_interval=checkpoint, money=money))


def rows(res: SimResult) -> list[tuple[str, str, int, str, str]]:
    assert res.money is not None
    return [(r.org, r.gpu_type, r.runs, str(r.gpu_hours), str(r.points)) for r in res.money.rows]


def test_three_jobs_priced_by_the_tariff_in_force_at_their_start() -> None:
    """Tariff t1 (3.6/GPU-h, 60-s minimum) from trace time 0; t2 (7.2/GPU-h, 0.002 per GPU-s) from 1200.

    * a (uni-a, 2 GPUs, 0, 1000 s) runs 0..1000 under t1:           2 × 1000 × 0.001 = 2.0000
    * b (lab-b, 4 GPUs, 10, 500 s) waits for a (fifo), 1000..1500; it starts before 1200, so t1 for all of it,
      even past 1200:                                               4 × 500 × 0.001  = 2.0000
    * c (uni-a, 1 GPU, 20, 30 s) waits behind b (fifo), 1500..1530 under t2; 30 s is billed as the 60-s
      minimum:                                                      1 × 60 × 0.002   = 0.1200
    uni-a 2.1200 (2,030 GPU-s = 0.5639 h), lab-b 2.0000 (2,000 GPU-s = 0.5556 h), total 4.1200.
    """
    book = TariffBook([tariff("t1", minimum_seconds=60), tariff("t2", T0 + 1200, "7.2", minimum_seconds=60)])
    jobs = [job("a", "uni-a", 2, 0, 1000, 2000), job("b", "lab-b", 4, 10, 500, 1000),
            job("c", "uni-a", 1, 20, 30, 600)]
    res = replay(jobs, MoneyConfig(book))
    assert [(s.job_id, s.start_time, s.end_time) for s in res.segments] == [
        ("a", 0, 1000), ("b", 1000, 1500), ("c", 1500, 1530)]
    assert rows(res) == [("lab-b", H100, 1, "0.5556", "2.0000"), ("uni-a", H100, 2, "0.5639", "2.1200")]
    assert res.money is not None
    assert res.money.points == D("4.1200")
    money = summarize(res).to_dict()["money"]
    assert money["points"] == "4.1200" and money["tariffs"] == ["t1", "t2"] and money["budgets"] is False
    assert money["trace_start_utc"] == "2025-01-01T00:00:00Z"
    assert money["orgs"]["uni-a"] == {"points": "2.1200", "gpu_hours": 0.5639,
                                      "by_gpu_type": {H100: {"gpu_hours": 0.5639, "points": "2.1200"}}}


def test_trace_start_picks_the_tariff_version() -> None:
    """The same a alone, with trace time 0 at T0 + 1200 (t2 in force from the start): 2 × 1000 × 0.002 = 4."""
    book = TariffBook([tariff("t1"), tariff("t2", T0 + 1200, "7.2")])
    res = replay([job("a", "uni-a", 2, 0, 1000, 2000)], MoneyConfig(book, trace_start=T0 + 1200))
    assert rows(res) == [("uni-a", H100, 1, "0.5556", "4.0000")]
    with pytest.raises(InputError, match="trace_start: is before the first tariff 't1'"):
        MoneyConfig(book, trace_start=T0 - 1)


def test_a_preempted_segment_pays_only_for_the_time_it_ran() -> None:
    """Priority multipliers low 0.5×, high 1.5×; checkpoints every 100 s.

    * lo (org a, priority -10 = low, 4 GPUs, 0, 1000 s, grace 50) runs 0..150: preempted at 100 for hi, it
      runs on through its grace until 150 and keeps 100 s of work:   4 × 150 × 0.001 × 0.5 = 0.3000
      It restarts at 250 with 900 s left, 250..1150 (a new run):     4 × 900 × 0.001 × 0.5 = 1.8000
    * hi (org b, priority 10 = high, 4 GPUs, 100, 100 s) runs 150..250: 4 × 100 × 0.001 × 1.5 = 0.6000
    a: 2 runs, 4,200 GPU-s = 1.1667 h, 2.1000 points; b: 400 GPU-s = 0.1111 h, 0.6000 points.
    The budgets (100 each) are held and settled run by run like the real Ledger, which verifies.
    """
    book = TariffBook([tariff(priority_multipliers={"low": D("0.5"), "high": D("1.5")})])
    jobs = [job("lo", "a", 4, 0, 1000, 2000, priority=-10, grace=50), job("hi", "b", 4, 100, 100, 100, priority=10)]
    res = replay(jobs, MoneyConfig(book, {"a": D(100), "b": D(100)}, keep_ledger=True), checkpoint=100)
    assert [(s.job_id, s.start_time, s.end_time) for s in res.segments] == [
        ("lo", 0, 150), ("hi", 150, 250), ("lo", 250, 1150)]
    assert rows(res) == [("a", H100, 2, "1.1667", "2.1000"), ("b", H100, 1, "0.1111", "0.6000")]
    assert res.money is not None
    assert res.money.orgs["a"].left == D("97.9000") and res.money.orgs["b"].left == D("99.4000")


def test_an_org_runs_dry_and_its_last_job_never_starts() -> None:
    """uni-a has 5 points; lab-b has no budget (not limited).

    * 0: a (uni-a, 2 GPUs, 1000 s, walltime 2000) starts, holding 2 × 2000 × 0.001 = 4 → 1 available.
    * 100: b (uni-a, 2 GPUs, 500 s, walltime 1000) needs a hold of 2 > 1: refused, uni-a ran dry at 100; b
      waits for budget, out of the queue.
    * 200: c (uni-a, 4 GPUs, 100 s, walltime 1000, hold 4) is queued but only 2 GPUs are free.
    * 300: d (lab-b, 1 GPU, 100 s) waits behind c (fifo).
    * 1000: a ends: charged 2 × 1000 × 0.001 = 2, its hold of 4 released → balance 3, all available. b (hold 2
      ≤ 3) is queued again; fifo starts b (submitted first) on 2 GPUs; c still needs 4.
    * 1500: b ends: charged 2 × 500 × 0.001 = 1 → balance 2. c is admitted but its hold of 4 > 2: refused
      again; the cycle that follows at once starts d on the GPUs c left, 1500..1600 (0.1 points, unlimited).
    uni-a: budget 5, spent 3, left 2, ran dry at 100, 2 jobs waited (b, c), 1 never ran (c).
    """
    jobs = [job("a", "uni-a", 2, 0, 1000, 2000), job("b", "uni-a", 2, 100, 500, 1000),
            job("c", "uni-a", 4, 200, 100, 1000), job("d", "lab-b", 1, 300, 100, 1000)]
    res = replay(jobs, MoneyConfig(TariffBook([tariff()]), {"uni-a": D(5)}, keep_ledger=True))
    assert [(s.job_id, s.start_time, s.end_time) for s in res.segments] == [
        ("a", 0, 1000), ("b", 1000, 1500), ("d", 1500, 1600)]
    c = next(r for r in res.jobs if r.job_id == "c")
    assert c.start_time is None and c.state == "pending"
    assert res.money is not None
    ua, lb = res.money.orgs["uni-a"], res.money.orgs["lab-b"]
    assert (ua.budget, ua.points, ua.left, ua.ran_dry_at) == (D(5), D(3), D(2), 100)
    assert (ua.jobs_waited, ua.jobs_never_ran, ua.jobs_unfinished) == (2, 1, 1)
    assert (lb.budget, lb.points, lb.left, lb.ran_dry_at, lb.jobs_waited) == (None, D("0.1"), None, None, 0)
    out = summarize(res).to_dict()["money"]["orgs"]["uni-a"]
    assert out["budget"] == "5.0000" and out["left"] == "2.0000" and out["ran_dry_at"] == 100
    assert out["ran_dry_at_utc"] == "2025-01-01T00:01:40Z"
    assert (out["jobs_waited_for_budget"], out["jobs_never_ran"], out["jobs_unfinished"]) == (2, 1, 1)


def test_the_accounts_agree_with_the_ledger() -> None:
    """The same scenario with ``keep_ledger``: the real Ledger took the same holds and settles (it would have
    raised BudgetError on a hold the accounts allowed), verifies, and ends with the same balance."""
    jobs = [job("a", "uni-a", 2, 0, 1000, 2000), job("b", "uni-a", 2, 100, 500, 1000),
            job("c", "uni-a", 4, 200, 100, 1000)]
    sim = Simulation(parse_inline("1x4"), jobs, "fifo",
                     config=SimConfig(money=MoneyConfig(TariffBook([tariff()]), {"uni-a": D(5)}, keep_ledger=True)))
    sim.run()
    assert sim.accounts is not None and sim.accounts.ledger is not None
    ledger = sim.accounts.ledger
    ledger.verify()
    assert ledger.balance("uni-a") == D("2.0000") and not ledger.holds
    assert [e.ref for e in ledger.entries if e.kind.value == "charge"] == ["a#1", "b#1"]


def test_points_given_back_go_to_the_smallest_holds_first() -> None:
    """uni-a has 3 points; all jobs 1 GPU, 500 s unless said.

    * 0: a (1000 s, walltime 3000) holds 3 → 0 available.
    * 10, 20, 30: b (walltime 2000, hold 2), c and d (walltime 1000, hold 1 each) are refused (dry at 10).
    * 1000: a is charged 1 → balance 2. The waiting jobs go back smallest hold first while the 2 points cover
      them together: c (1) and d (1); b (2) would pass them and stays out. c and d run 1000..1500, 0.5 each.
    * 1500: balance 1 < b's 2: b never runs. uni-a spent 2, 1 left, 3 jobs waited, 1 never ran.
    """
    jobs = [job("a", "uni-a", 1, 0, 1000, 3000), job("b", "uni-a", 1, 10, 500, 2000),
            job("c", "uni-a", 1, 20, 500, 1000), job("d", "uni-a", 1, 30, 500, 1000)]
    res = replay(jobs, MoneyConfig(TariffBook([tariff()]), {"uni-a": D(3)}))
    assert [(s.job_id, s.start_time, s.end_time) for s in res.segments] == [
        ("a", 0, 1000), ("c", 1000, 1500), ("d", 1000, 1500)]
    assert res.money is not None
    o = res.money.orgs["uni-a"]
    assert (o.points, o.left, o.ran_dry_at, o.jobs_waited, o.jobs_never_ran) == (D(2), D(1), 10, 3, 1)


def test_a_cheaper_tariff_lets_a_waiting_job_start() -> None:
    """uni-a has 1 point. a (1 GPU, 1000 s, walltime 2000) needs a hold of 1 × 2000 × 0.001 = 2 > 1 at t1:
    refused at 0. At trace time 5000 tariff t2 (0.36/GPU-h = 0.0001 per GPU-s) starts: the hold is 0.2 ≤ 1, so
    a starts at 5000 and pays 1 × 1000 × 0.0001 = 0.1 → 0.9 left."""
    book = TariffBook([tariff("t1"), tariff("t2", T0 + 5000, "0.36")])
    res = replay([job("a", "uni-a", 1, 0, 1000, 2000)], MoneyConfig(book, {"uni-a": D(1)}))
    assert [(s.job_id, s.start_time, s.end_time) for s in res.segments] == [("a", 5000, 6000)]
    assert res.money is not None
    o = res.money.orgs["uni-a"]
    assert (o.points, o.left, o.ran_dry_at, o.jobs_waited, o.jobs_never_ran) == (D("0.1"), D("0.9"), 0, 1, 0)


def test_no_tariff_means_no_money() -> None:
    res = simulate(parse_inline("1x4"), [job("a", "x", 1, 0, 10, 60)], "fifo")
    assert res.money is None
    assert "money" not in summarize(res).to_dict()


def test_an_unpriced_gpu_type_is_an_error() -> None:
    book = TariffBook([Tariff("t1", T0, {"B200-180GB": D(1)})])
    with pytest.raises(InputError, match=r"tariff 't1' has no price .* 'H100-80GB'"):
        replay([job("a", "x", 1, 0, 10, 60)], MoneyConfig(book))


@pytest.mark.parametrize(("priority", "name"), [(0, "normal"), (5, "normal"), (10, "high"), (15, "high"),
                                                 (20, "urgent"), (-3, "low"), (-10, "low"), (-50, "low")])
def test_priority_class_of_an_integer_priority(priority: int, name: str) -> None:
    assert priority_class(priority) == name


# --- budget files ------------------------------------------------------------------------------------------


def test_budget_file_yaml_and_csv(tmp_path: Path) -> None:
    y = tmp_path / "b.yaml"
    y.write_text("budgets:\n  uni-a: 1000\n  lab-b: 12.5\n  lab-c: '0.0001'\n")
    assert load_budgets(y, ["uni-a", "lab-b", "lab-c"]) == {"uni-a": D(1000), "lab-b": D("12.5"),
                                                            "lab-c": D("0.0001")}
    c = tmp_path / "b.csv"
    c.write_text("org,points\nuni-a,1000\n\nlab-b,12.5\n")
    assert load_budgets(c) == {"uni-a": D(1000), "lab-b": D("12.5")}


@pytest.mark.parametrize(("data", "expected"), [
    ({"budgets": {"uni-a": -5}}, "budgets.uni-a: must be a non-negative number of points with at most 4 "
                                 "decimals \\(got -5\\)"),
    ({"budgets": {"uni-a": "lots"}}, "budgets.uni-a: must be a non-negative number .* \\(got 'lots'\\)"),
    ({"budgets": {"uni-a": 0.00001}}, "budgets.uni-a: .*at most 4 decimals \\(got 1e-05\\)"),
    ({"budgets": {"uni-a": True}}, "budgets.uni-a: .*\\(got True\\)"),
    ({"budgets": {"uni-aa": 5}}, "budgets.uni-aa: unknown org 'uni-aa'; did you mean 'uni-a'"),
    ({"budgets": [1, 2]}, "budgets: must be a mapping of org to points"),
    ({"budget": {"uni-a": 5}}, "budget: unknown key"),
])
def test_bad_budgets_name_the_field(data: Any, expected: str) -> None:
    with pytest.raises(InputError, match=f"^b.yaml: {expected}"):
        budgets_from_dict(data, ["uni-a", "lab-b"], where="b.yaml")


def test_bad_budgets_csv_names_line_and_column(tmp_path: Path) -> None:
    p = tmp_path / "b.csv"
    p.write_text("org,points\nuni-a,10\nlab-b,ten\n")
    with pytest.raises(InputError, match=f"^{p}:3: points: .*\\(got 'ten'\\)"):
        load_budgets(p)
    p.write_text("org,points\nuni-a,10\nuni-a,5\n")
    with pytest.raises(InputError, match=f"^{p}:3: org: appears twice"):
        load_budgets(p)
    p.write_text("org,amount\nuni-a,10\n")
    with pytest.raises(InputError, match=f"^{p}:1: header: must be org,points"):
        load_budgets(p)


# --- the CLI -------------------------------------------------------------------------------------------------

TRACE = """job_id,submit_time,duration,num_gpus,org,walltime
a,0,1000,2,uni-a,2000
b,100,500,2,uni-a,1000
c,200,100,4,uni-a,1000
d,300,100,1,lab-b,1000
"""
TARIFF = """tariffs:
  - name: t1
    valid_from: 2025-01-01
    points_per_gpu_hour: {H100-80GB: 3.6}
"""


def cli(*args: str) -> tuple[int, str, str]:
    from typer.testing import CliRunner

    from gpucloud.cli.main import app

    result = CliRunner().invoke(app, ["simulate", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {"trace": tmp_path / "trace.csv", "tariff": tmp_path / "tariff.yaml", "budgets": tmp_path / "budgets.csv"}
    out["trace"].write_text(TRACE)
    out["tariff"].write_text(TARIFF)
    out["budgets"].write_text("org,points\nuni-a,5\n")
    return out


def test_cli_costs_and_budgets(files: dict[str, Path], tmp_path: Path) -> None:
    """The run-dry scenario above from files: a 2000 + b 1000 GPU-s for uni-a (0.8333 h, 3 points), d 100 GPU-s
    for lab-b (0.0278 h, 0.1 points); uni-a ran dry at 100 s and c never ran."""
    out = tmp_path / "out"
    code, stdout, stderr = cli("--cluster", "1x4", "--trace", str(files["trace"]), "--tariff", str(files["tariff"]),
                               "--budgets", str(files["budgets"]), "--out", str(out))
    assert code == 0, stderr
    assert "costs under fifo" in stdout
    assert "priced with tariff t1 (1 version); trace time 0 = 2025-01-01T00:00:00Z; budgets enforced" in stdout
    line = next(ln for ln in stdout.splitlines() if "uni-a" in ln)
    assert [c.strip() for c in line.strip("│ ").split("│")] == ["uni-a", "0.8", "3.0000", "5.0000", "2.0000",
                                                                 "100 s", "2", "1"]
    assert (out / "costs.csv").read_text() == (
        "org,project,gpu_type,runs,gpu_hours,points\n"
        "lab-b,,H100-80GB,1,0.0278,0.1000\n"
        "uni-a,,H100-80GB,2,0.8333,3.0000\n")
    money = json.loads((out / "summary.json").read_text())["money"]
    assert money["points"] == "3.1000" and money["budgets"] is True
    assert money["orgs"]["uni-a"] == {
        "points": "3.0000", "gpu_hours": 0.8333, "by_gpu_type": {H100: {"gpu_hours": 0.8333, "points": "3.0000"}},
        "budget": "5.0000", "left": "2.0000", "ran_dry_at": 100, "ran_dry_at_utc": "2025-01-01T00:01:40Z",
        "jobs_waited_for_budget": 2, "jobs_never_ran": 1, "jobs_unfinished": 1}
    assert money["orgs"]["lab-b"]["budget"] is None and money["orgs"]["lab-b"]["points"] == "0.1000"


def test_cli_tariff_only_and_trace_start(files: dict[str, Path], tmp_path: Path) -> None:
    """Without budgets c runs too (1500..1600, 4 × 100 × 0.001 = 0.4) and d after it (1600..1700): uni-a
    3.4000, lab-b 0.1000. The table has no budget columns."""
    out = tmp_path / "plain"
    code, stdout, stderr = cli("--cluster", "1x4", "--trace", str(files["trace"]), "--tariff", str(files["tariff"]),
                               "--trace-start", "2025-06-01", "--out", str(out))
    assert code == 0, stderr
    assert "trace time 0 = 2025-06-01T00:00:00Z" in stdout and "ran dry" not in stdout
    assert (out / "costs.csv").read_text().splitlines()[1:] == [
        "lab-b,,H100-80GB,1,0.0278,0.1000", "uni-a,,H100-80GB,3,0.9444,3.4000"]


@pytest.mark.parametrize(("args", "expected"), [
    (["--budgets", "BUDGETS"], "--budgets: needs --tariff"),
    (["--tariff", "TARIFF", "--trace-start", "2024-12-31"], "--trace-start: is before the first tariff 't1'"),
    (["--tariff", "TARIFF", "--trace-start", "soon"], "--trace-start: give a date"),
    (["--tariff", "TARIFF", "--budgets", "BAD"], "bad.yaml: budgets.uni-aa: unknown org 'uni-aa'"),
    (["--tariff", "WRONG"], "points_per_gpu_hour: unknown GPU type 'B200-180GB'"),
])
def test_cli_bad_money_input_is_one_line(files: dict[str, Path], tmp_path: Path, args: list[str],
                                         expected: str) -> None:
    (tmp_path / "bad.yaml").write_text("budgets:\n  uni-aa: 5\n")
    (tmp_path / "wrong.yaml").write_text(TARIFF.replace("H100-80GB", "B200-180GB"))
    subst = {"BUDGETS": str(files["budgets"]), "TARIFF": str(files["tariff"]), "BAD": str(tmp_path / "bad.yaml"),
             "WRONG": str(tmp_path / "wrong.yaml")}
    code, _, stderr = cli("--cluster", "1x4", "--trace", str(files["trace"]), *[subst.get(a, a) for a in args])
    assert code == 2 and "Traceback" not in stderr
    line = stderr.strip()
    assert "\n" not in line and expected in line


def test_the_philly_examples_load() -> None:
    """examples/tariffs/philly.yaml prices the Philly cluster (1.0, then 1.25 from 2017-11-01) and
    examples/budgets/philly.yaml names the 15 orgs of the Philly trace."""
    from gpucloud.model.cluster_file import load_cluster
    from gpucloud.money.tariff_file import load_tariffs

    root = Path(__file__).resolve().parents[2]
    book = load_tariffs(root / "examples/tariffs/philly.yaml", load_cluster(root / "examples/clusters/philly.yaml"))
    assert [t.name for t in book.tariffs] == ["autumn-2017", "winter-2017"]
    assert book.tariffs[0].valid_from == 1504483200.0  # 2017-09-04T00:00:00Z
    orgs = ["11cb48", "6214e9", "6c71a0", "ee9e8c", "103959", "0e4a51", "b436b2", "2869ce", "7f04ca", "e13805",
            "ed69ec", "51b7ef", "925e2b", "795a4c", "23dbec"]
    budgets = load_budgets(root / "examples/budgets/philly.yaml", orgs)
    assert sorted(budgets) == sorted(orgs) and budgets["6214e9"] == D(50000)


def test_part_of_a_node_pays_the_shared_class_where_the_tariff_has_one() -> None:
    """With ``shared`` ×1.5 in the tariff, a 2-GPU job on the 4-GPU node holds part of it: 2 × 1000 s ×
    0.001 × 1.5 = 3.0000; a 4-GPU job holds the whole node at standard: 4 × 1000 × 0.001 = 4.0000. Without the
    class, the 2-GPU job pays standard: 2.0000."""
    shared = TariffBook([tariff(service_multipliers={"standard": D(1), "shared": D("1.5")})])
    jobs = [job("part", "uni-a", 2, 0, 1000, 2000), job("whole", "lab-b", 4, 0, 1000, 2000)]
    assert rows(replay(jobs, MoneyConfig(shared))) == [("lab-b", H100, 1, "1.1111", "4.0000"),
                                                       ("uni-a", H100, 1, "0.5556", "3.0000")]
    plain = rows(replay(jobs, MoneyConfig(BOOK)))
    assert [r[4] for r in plain] == ["4.0000", "2.0000"]
