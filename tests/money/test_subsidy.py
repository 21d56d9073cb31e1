"""Subsidy programmes: the split, its caps hit exactly, and both parts recorded on each charge."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from money_world import simple_tariff

from gpucloud.errors import InputError
from gpucloud.money.ledger import EntryKind, JobRun, Ledger
from gpucloud.money.subsidy import Programme, split

D = Decimal
HOUR = 3600.0
UNIV = Programme("academic", Fraction(1, 2), total=D("1000"), org_cap=D("10"), org_kinds={"university"})


def test_split_share_and_caps() -> None:
    # half of 14 is 7 and there is room: 7 / 7
    assert split(D("14"), UNIV, D("0"), D("0")) == (D("7.0000"), D("7"))
    # the org has 5 left under its cap of 10: the programme pays exactly 5
    assert split(D("14"), UNIV, D("25"), D("5")) == (D("5"), D("9"))
    # the programme total has 2 left: exactly 2
    assert split(D("14"), UNIV, D("998"), D("0")) == (D("2"), D("12"))
    # nothing left: the project pays everything
    assert split(D("14"), UNIV, D("1000"), D("0")) == (D("0"), D("14"))
    # a third, rounded half-even to 0.0001; the parts add up exactly
    companies = Programme("industry", Fraction(1, 3), total=D("100"))
    sub, proj = split(D("10"), companies, D("0"), D("0"))
    assert (sub, proj) == (D("3.3333"), D("6.6667")) and sub + proj == D("10")


def test_programme_validation() -> None:
    with pytest.raises(InputError) as e:
        Programme("x", Fraction(3, 2), total=D("1"))
    assert e.value.field == "share"
    with pytest.raises(InputError) as e:
        Programme("x", Fraction(1, 2), total=D("-1"))
    assert e.value.field == "total"
    assert Programme("x", D("0.5"), total=D(1)).share == Fraction(1, 2)  # type: ignore[arg-type]
    assert UNIV.eligible("any-uni", "university") and not UNIV.eligible("acme", "company")


def _run(ref: str, gpus: int, walltime: float, org: str = "uni-a") -> JobRun:
    return JobRun(ref, org, "p", "H100-80GB", gpus, walltime, 0.0, simple_tariff(), org_kind="university")


def test_subsidy_split_hitting_its_cap_in_the_ledger() -> None:
    led = Ledger().top_up("p", D("100"), at=0)
    # job 1: 4 GPUs × 2 points × 2 h = 16; half is 8, under the org cap of 10: project holds 8, programme 8
    led = led.hold(_run("j1#1", 4, 2 * HOUR), programme=UNIV)
    assert led.budget("p").held == D("8.0000") and led.programme_spent["academic"] == D("8.0000")
    led = led.settle("j1#1", 2 * HOUR, at=2 * HOUR)
    charge = led.entries[-2]
    assert (charge.kind, charge.amount, charge.subsidy, charge.programme) == (
        EntryKind.CHARGE, D("8.0000"), D("8.0000"), "academic")
    assert (led.entries[-1].kind, led.entries[-1].amount) == (EntryKind.SUBSIDY, D("8.0000"))
    # job 2: 16 again; half would be 8 but only 2 are left under the org cap: programme 2, project 14
    led = led.hold(_run("j2#1", 4, 2 * HOUR), programme=UNIV)
    assert led.budget("p").held == D("14.0000")
    assert led.programme_org_spent[("academic", "uni-a")] == D("10.0000")  # the cap, exactly
    led = led.settle("j2#1", 2 * HOUR, at=4 * HOUR)
    assert (led.entries[-2].amount, led.entries[-2].subsidy) == (D("14.0000"), D("2.0000"))
    assert led.balance("p") == D("78.0000")  # 100 − 8 − 14
    # job 3: the cap is reached, the project pays all 16
    led = led.hold(_run("j3#1", 4, 2 * HOUR), programme=UNIV).settle("j3#1", 2 * HOUR, at=6 * HOUR)
    assert (led.entries[-1].amount, led.entries[-1].subsidy) == (D("16.0000"), D("0"))
    assert led.balance("p") == D("62.0000")
    rec = led.usage_records()
    assert [(r.points, r.subsidy) for r in rec] == [(D(16), D(8)), (D(16), D(2)), (D(16), D(0))]
    led.verify()


def test_early_end_gives_back_programme_room() -> None:
    led = Ledger().top_up("p", D("100"), at=0)
    led = led.hold(_run("j1#1", 4, 2 * HOUR), programme=UNIV)  # programme 8, project 8
    led = led.hold(_run("j2#1", 4, 2 * HOUR), programme=UNIV)  # programme 2 (cap), project 14
    # j1 ends after 1 h: 8 gross, half = 4: the programme's commitment drops from 8 to 4
    led = led.settle("j1#1", HOUR, at=HOUR)
    assert (led.entries[-2].amount, led.entries[-2].subsidy) == (D("4.0000"), D("4.0000"))
    assert led.programme_org_spent[("academic", "uni-a")] == D("6.0000")
    # j2 ends after 1 h: 8 gross, half is 4 but it holds only 2 of subsidy: programme 2, project 6
    led = led.settle("j2#1", HOUR, at=HOUR)
    assert (led.entries[-2].amount, led.entries[-2].subsidy) == (D("6.0000"), D("2.0000"))
    assert led.balance("p") == D("90.0000")  # 100 − 4 − 6
    led.verify()


def test_ineligible_org_pays_all() -> None:
    led = Ledger().top_up("p", D("100"), at=0)
    r = JobRun("c#1", "acme", "p", "H100-80GB", 1, HOUR, 0.0, simple_tariff(), org_kind="company")
    led = led.hold(r, programme=UNIV).settle("c#1", HOUR, at=HOUR)
    assert (led.entries[-1].amount, led.entries[-1].subsidy, led.entries[-1].programme) == (D("2"), D("0"), "")
    led.verify()
