"""The ledger: holds, settlements, refunds, preemption, tariff changes, expiry, caps, and verify().

Tariff (money_world.simple_tariff): H100-80GB 2 points per GPU-hour; preemptible 0.5×, high 1.5×; 60 s minimum.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from money_world import simple_tariff

from gpucloud.errors import InputError
from gpucloud.model.job import JobSpec
from gpucloud.money.ledger import BudgetError, EntryKind, JobRun, Ledger, LedgerError
from gpucloud.money.tariff import Tariff, TariffBook

D = Decimal
T = simple_tariff()
HOUR = 3600.0


def run(ref: str, gpus: int, walltime: float, started_at: float = 0.0, tariff: Tariff = T,
        project: str = "p", **kw: str) -> JobRun:
    return JobRun(ref, kw.pop("org", "org-a"), project, "H100-80GB", gpus, walltime, started_at, tariff, **kw)


def kinds(ledger: Ledger) -> list[tuple[str, Decimal]]:
    return [(e.kind.value, e.amount) for e in ledger.entries]


def test_charge_with_refund() -> None:
    led = Ledger().top_up("p", D("100.0000"), at=0)
    # 4 GPUs × 2 points × 2 h walltime = 16 held
    led = led.hold(run("j1#1", 4, 2 * HOUR))
    assert led.budget("p").balance == D("100") and led.budget("p").held == D("16") and led.available("p") == D("84")
    # it ran 1.5 h: charged 4 × 2 × 1.5 = 12, the other 4 of the hold come back
    led = led.settle("j1#1", 1.5 * HOUR, at=5400)
    assert kinds(led) == [("top_up", D("100")), ("hold", D("16")), ("release", D("16")), ("charge", D("12"))]
    assert led.balance("p") == D("88.0000")
    assert led.available("p") == D("88.0000")
    assert led.budget("p").held == D("0")
    rec = led.usage_records()[0]
    assert (rec.points, rec.subsidy, rec.start, rec.end) == (D("12.0000"), D("0"), 0.0, 5400.0)
    led.verify()


def test_preempted_job_charged_only_for_time_run() -> None:
    led = Ledger().top_up("p", D("500"), at=0)
    # 8 GPUs, preemptible 0.5× and high priority 1.5×: 8 × 2 × 0.5 × 1.5 = 12 points per hour; 10 h held = 120
    r1 = run("j2#1", 8, 10 * HOUR, service_class="preemptible", priority_class="high")
    led = led.hold(r1)
    assert led.budget("p").held == D("120.0000")
    # preempted after 20 minutes: 12 × 1/3 = 4
    led = led.settle("j2#1", 1200, at=1200)
    assert led.balance("p") == D("496.0000") and led.budget("p").held == 0
    # requeued and restarted later as a new run: a fresh hold of the full walltime
    led = led.hold(dataclasses.replace(r1, ref="j2#2", started_at=5000))
    assert led.available("p") == D("376.0000")  # 496 − 120
    led = led.settle("j2#2", 2 * HOUR, at=5000 + 2 * HOUR)  # 2 h × 12 = 24
    assert led.balance("p") == D("472.0000")
    led.verify()


def test_minimum_and_overrun_are_bounded() -> None:
    led = Ledger().top_up("p", D("10"), at=0).hold(run("a#1", 4, HOUR))  # 8 held
    led = led.settle("a#1", 30, at=30)  # 30 s billed as 60 s: 4 × 2 × 60 / 3600 = 0.1333
    assert led.balance("p") == D("9.8667")
    # a run past its walltime (a late kill) is never charged more than it held
    led = led.hold(run("b#1", 1, HOUR)).settle("b#1", HOUR + 300, at=4000)
    assert led.balance("p") == D("7.8667")
    # a run that never started is released without a charge
    led = led.hold(run("c#1", 1, HOUR))
    assert led.available("p") == D("5.8667")
    led = led.release("c#1", at=10)
    assert led.available("p") == D("7.8667") and led.entries[-1].kind is EntryKind.RELEASE
    led.verify()


def test_tariff_change_between_two_jobs() -> None:
    change = 10 * HOUR
    book = TariffBook([simple_tariff("v1", 0.0, "2"), simple_tariff("v2", change, "3")])
    led = Ledger().top_up("p", D("100"), at=0)
    # job A starts 1 h before the change on 1 GPU and runs 2 h, across the change: all of it at v1, 2 × 2 = 4
    a = run("A#1", 1, 3 * HOUR, started_at=change - HOUR, tariff=book.in_force(change - HOUR))
    led = led.hold(a)
    # job B starts 10 s after the change on 1 GPU and runs 1 h: v2, 3 × 1 = 3
    b = run("B#1", 1, 3 * HOUR, started_at=change + 10, tariff=book.in_force(change + 10))
    led = led.hold(b)
    assert led.budget("p").held == D("15.0000")  # 3 h × 2 + 3 h × 3
    led = led.settle("A#1", 2 * HOUR, at=change + HOUR)
    led = led.settle("B#1", HOUR, at=change + 10 + HOUR)
    charges = [e.amount for e in led.entries if e.kind is EntryKind.CHARGE]
    assert charges == [D("4.0000"), D("3.0000")]
    assert led.balance("p") == D("93.0000")
    led.verify()


def test_hold_refused_for_budget_then_accepted_after_top_up() -> None:
    led = Ledger().top_up("p", D("10"), at=0)
    r = run("j#1", 4, 2 * HOUR)  # needs 16
    with pytest.raises(BudgetError) as e:
        led.hold(r)
    assert e.value.reason == "budget"
    assert (e.value.needed, e.value.available) == (D("16.0000"), D("10"))
    assert "project 'p'" in str(e.value)
    led = led.top_up("p", D("10"), at=100)
    led = led.hold(dataclasses.replace(r, started_at=100))
    assert led.available("p") == D("4.0000")
    # available = balance − active holds: a second 8-point job does not fit in the 4 left
    with pytest.raises(BudgetError):
        led.hold(run("k#1", 2, 2 * HOUR, started_at=100))
    led.verify()


def test_unknown_project_has_nothing() -> None:
    with pytest.raises(BudgetError):
        Ledger().hold(run("j#1", 1, HOUR, project="nobody"))


def test_cap_limits_spending_in_the_period() -> None:
    led = Ledger().top_up("p", D("100"), at=0).set_budget("p", cap=D("20"), expires_at=None)
    led = led.hold(run("a#1", 4, 2 * HOUR))  # 16 of the cap of 20
    with pytest.raises(BudgetError, match="cap"):
        led.hold(run("b#1", 4, 2 * HOUR))
    led = led.settle("a#1", HOUR, at=HOUR)  # 8 spent: 12 left under the cap
    assert led.budget("p").headroom == D("12.0000")
    led = led.hold(run("b#1", 3, 2 * HOUR, started_at=HOUR))  # 12: exactly the cap
    assert led.budget("p").headroom == D("0")
    led.verify()


def test_expiry() -> None:
    end = 100 * HOUR
    led = Ledger().top_up("p", D("50"), at=0, expires_at=end)
    # 1 GPU, 5 h walltime: 10 held; still running at the expiry
    led = led.hold(run("j#1", 1, 5 * HOUR, started_at=end - HOUR))
    assert led.expire("p", end - 1) is led  # nothing expires before the date
    led = led.expire("p", end)
    assert led.entries[-1].kind is EntryKind.EXPIRY and led.entries[-1].amount == D("40")  # 50 − 10 held
    assert (led.balance("p"), led.available("p")) == (D("10"), D("0"))
    # the run ends after 2 h: charged 4; the 6 given back expire at the next call
    led = led.settle("j#1", 2 * HOUR, at=end + HOUR)
    assert led.balance("p") == D("6.0000")
    led = led.expire("p", end + HOUR)
    assert led.entries[-1].amount == D("6.0000") and led.balance("p") == 0
    assert led.expire("p", end + 2 * HOUR) is led  # nothing left: no entry
    # an expired budget takes no new holds until a top-up with a new expiry
    with pytest.raises(BudgetError, match="expired"):
        led.top_up("p", D("20"), at=end + 2 * HOUR).hold(run("k#1", 1, HOUR, started_at=end + 2 * HOUR))
    led = led.top_up("p", D("20"), at=end + 2 * HOUR, expires_at=end * 2)
    led = led.hold(run("k#1", 1, HOUR, started_at=end + 2 * HOUR))
    assert led.available("p") == D("18.0000")
    totals = {k: sum((e.amount for e in led.entries if e.kind is k), D(0)) for k in EntryKind}
    assert totals[EntryKind.TOP_UP] == D("70") and totals[EntryKind.EXPIRY] == D("46")
    led.verify()


def test_refunds_never_exceed_charges() -> None:
    led = Ledger().top_up("p", D("10"), at=0).charge("p", "res:1", D("4"), at=0)
    led = led.refund("p", "res:1", D("3"), at=1)
    with pytest.raises(LedgerError, match="exceeds"):
        led.refund("p", "res:1", D("1.0001"), at=2)
    led = led.refund("p", "res:1", D("1"), at=2)
    assert led.balance("p") == D("10")
    led.verify()


def test_bad_inputs_are_input_errors() -> None:
    with pytest.raises(InputError) as e:
        Ledger().top_up("p", D("-1"), at=0)
    assert e.value.field == "amount"
    with pytest.raises(InputError):
        Ledger().top_up("p", D("0.00001"), at=0)  # finer than a quantum
    with pytest.raises(InputError):
        Ledger().top_up("p", 5.0, at=0)  # type: ignore[arg-type]  # floats are not money
    led = Ledger().top_up("p", D("10"), at=0).hold(run("j#1", 1, HOUR))
    with pytest.raises(InputError) as e:
        led.settle("j#1", -1, at=0)
    assert e.value.field == "used_seconds"
    with pytest.raises(LedgerError, match="already holds"):
        led.hold(run("j#1", 1, HOUR))
    with pytest.raises(LedgerError, match="holds no points"):
        led.settle("nope", 1, at=0)


def test_run_from_job_spec() -> None:
    spec = JobSpec(id="job-7", org="org-a", num_gpus=16, submit_time=0, walltime=HOUR, project="p", user="ana")
    r = JobRun.of(spec, attempt=2, gpu_type="H100-80GB", started_at=50.0, tariff=T)
    assert (r.ref, r.gpus, r.user, r.cost(HOUR)) == ("job-7#2", 16, "ana", D("32.0000"))


def test_verify_catches_tampering() -> None:
    led = Ledger().top_up("p", D("100"), at=0).hold(run("j#1", 4, 2 * HOUR)).settle("j#1", HOUR, at=HOUR)
    led.verify()
    entries = list(led.entries)
    # a charge larger than its hold
    forged = dataclasses.replace(entries[3], amount=D("17"))
    bad = dataclasses.replace(led, entries=(*entries[:3], forged))
    with pytest.raises(LedgerError, match="more than was held"):
        bad.verify()
    # an entry removed: the kept balance no longer matches the entries
    with pytest.raises(LedgerError):
        dataclasses.replace(led, entries=tuple(entries[:3])).verify()
    # a float amount
    with pytest.raises(LedgerError, match="not a non-negative Decimal"):
        floaty = dataclasses.replace(entries[0], amount=100.0)  # type: ignore[arg-type]
        dataclasses.replace(led, entries=(floaty, *entries[1:])).verify()
    # a charge that takes the balance below zero
    over = dataclasses.replace(entries[3], seq=5, ref="x", amount=D("200"))
    with pytest.raises(LedgerError, match="below zero"):
        dataclasses.replace(led, entries=(*entries, over)).verify()
