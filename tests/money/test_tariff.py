"""Tariffs: cost by type, classes and minimum; versions in force; YAML loading with clear errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from money_world import simple_tariff

from gpucloud.errors import InputError
from gpucloud.model.cluster_file import load_cluster
from gpucloud.money.tariff import Tariff, TariffBook, cost, priced_class
from gpucloud.money.tariff_file import load_tariffs, tariffs_from_dict

D = Decimal


@pytest.fixture
def tariff() -> Tariff:
    return simple_tariff()


ROOT = Path(__file__).resolve().parents[2]


def test_cost_by_type_service_and_priority(tariff: Tariff) -> None:
    # 4 H100 × 2 points × 1.5 h = 12
    assert cost(tariff, "H100-80GB", 4, 5400) == D("12.0000")
    # preemptible 0.5× and high 1.5×: 8 × 2 × 0.5 × 1.5 × 2 h = 24
    assert cost(tariff, "H100-80GB", 8, 7200, "preemptible", "high") == D("24.0000")
    # a priority class the tariff does not name costs 1×
    assert cost(tariff, "H100-80GB", 1, 3600, "standard", "low") == D("2.0000")


def test_minimum_billed_time_and_rounding(tariff: Tariff) -> None:
    # 30 s is billed as 60 s: 4 × 2 × 60 / 3600 = 0.13333... → 0.1333
    assert cost(tariff, "H100-80GB", 4, 30) == D("0.1333")
    # a run that never ran costs nothing
    assert cost(tariff, "H100-80GB", 4, 0) == D("0.0000")
    # 1 s is billed as 60 s: 1 H200 × 0.9375 × 60 / 3600 = 0.015625, a tie → the even 0.0156
    assert cost(tariff, "H200-141GB", 1, 1) == D("0.0156")
    t = Tariff("q", 0.0, {"X": D("0.18")})
    assert cost(t, "X", 1, 1) == D("0.0000")  # 0.18 / 3600 = 0.00005: a tie, rounds to the even 0.0000
    assert cost(t, "X", 3, 1) == D("0.0002")  # 0.00015: a tie, rounds to the even 0.0002
    assert all(isinstance(cost(tariff, "H100-80GB", g, s), Decimal) for g in (1, 3) for s in (0.1, 61.7, 3600))


def test_increment_rounds_billed_time_up() -> None:
    t = Tariff("ps", 0.0, {"X": D("3.6")}, minimum_seconds=60, increment_seconds=1)
    assert cost(t, "X", 1, 10) == D("0.0600")  # 60 s × 0.001
    assert cost(t, "X", 1, 61.2) == D("0.0620")  # 62 s


def test_unpriced_type_or_class_names_the_field(tariff: Tariff) -> None:
    with pytest.raises(InputError) as e:
        cost(tariff, "B200-180GB", 1, 60)
    assert e.value.field == "gpu_type" and e.value.value == "B200-180GB"
    with pytest.raises(InputError) as e:
        cost(tariff, "H100-80GB", 1, 60, "spot")
    assert e.value.field == "service_class"


def test_book_in_force() -> None:
    book = TariffBook([simple_tariff("v2", 1000.0, "3"), simple_tariff("v1", 0.0)])
    assert book.in_force(0.0).name == "v1"
    assert book.in_force(999.9).name == "v1"
    assert book.in_force(1000.0).name == "v2"
    with pytest.raises(InputError) as e:
        book.in_force(-1.0)
    assert e.value.field == "at"
    with pytest.raises(InputError) as e:
        TariffBook([simple_tariff("a", 5.0), simple_tariff("b", 5.0)])
    assert e.value.field == "valid_from"


def test_example_files_load_against_their_clusters() -> None:
    nat = load_tariffs(ROOT / "examples/tariffs/national-ai-supercomputer.yaml",
                       load_cluster(ROOT / "examples/clusters/national-h200.yaml"))
    fy25 = nat.in_force(1743465600.0)  # 2025-04-01T00:00Z
    assert fy25.name == "fy2025"
    assert cost(fy25, "H200-141GB", 8, 3600) == D("7.5000")  # one whole node-hour
    assert cost(fy25, "H200-141GB", 1, 3600, "shared") == D("1.5000")  # one shared GPU-hour
    assert nat.in_force(1775001600.0).name == "fy2026"  # 2026-04-01T00:00Z
    cloud = load_tariffs(ROOT / "examples/tariffs/gpu-cloud-per-second.yaml",
                         load_cluster(ROOT / "examples/clusters/gpu-cloud-10k.yaml"))
    t = cloud.tariffs[0]
    assert cost(t, "B200-180GB", 1, 90) == D("0.1200")
    assert cost(t, "H100-80GB", 8, 3600, "preemptible") == D("9.6000")
    assert cost(t, "B200-180GB", 1, 10) == D("0.0800")  # minimum 60 s
    assert cost(t, "B200-180GB", 1, 61.2) == D("0.0827")  # 62 s × 4.8 / 3600 = 0.08266.. → 0.0827


def _one(**over: object) -> dict[str, object]:
    t: dict[str, object] = {"name": "a", "valid_from": "2025-04-01", "points_per_gpu_hour": {"H100-80GB": 2}}
    t.update(over)
    return {"tariffs": [t]}


def test_yaml_numbers_are_exact_decimals() -> None:
    book = tariffs_from_dict(_one(points_per_gpu_hour={"H100-80GB": 0.1}, service_classes={"standard": "1.1"}))
    t = book.tariffs[0]
    assert t.points_per_gpu_hour["H100-80GB"] == D("0.1")
    assert t.service_multipliers["standard"] == D("1.1")
    assert t.valid_from == 1743465600.0


@pytest.mark.parametrize(
    ("data", "field", "shown"),
    [
        (_one(points_per_gpu_hour={"H100-80GB": -1}), "tariffs[0].points_per_gpu_hour.H100-80GB", "-1"),
        (_one(service_classes={"standard": -0.5}), "tariffs[0].service_classes.standard", "-0.5"),
        (_one(minimum_seconds=-5), "tariffs[0].minimum_seconds", "-5"),
        (_one(valid_from="2025-04-01T00:00:00"), "tariffs[0].valid_from", "2025-04-01T00:00:00"),
        (_one(valid_from="soon"), "tariffs[0].valid_from", "soon"),
        (_one(points_per_gpu_hour={"H100-80GB": "cheap"}), "tariffs[0].points_per_gpu_hour.H100-80GB", "cheap"),
        (_one(priority_classes={"hihg": 1.5}), "tariffs[0].priority_classes", "'high'"),
        (_one(colour="blue"), "tariffs[0].colour", "blue"),
        ({"tariffs": []}, "tariffs", ""),
    ],
)
def test_yaml_errors_name_field_and_value(data: object, field: str, shown: str) -> None:
    with pytest.raises(InputError) as e:
        tariffs_from_dict(data, where="t.yaml")
    assert e.value.field == field
    assert shown in str(e.value)
    assert str(e.value).startswith("t.yaml: ")


def test_yaml_duplicate_valid_from_and_name() -> None:
    two = {"tariffs": [_one()["tariffs"][0], {**_one()["tariffs"][0], "name": "b"}]}  # type: ignore[index]
    with pytest.raises(InputError) as e:
        tariffs_from_dict(two)
    assert e.value.field == "tariffs[1].valid_from" and "'a' already starts then" in str(e.value)
    same = {"tariffs": [_one()["tariffs"][0], {**_one()["tariffs"][0], "valid_from": "2026-01-01"}]}  # type: ignore[index]
    with pytest.raises(InputError) as e:
        tariffs_from_dict(same)
    assert e.value.field == "tariffs[1].name"


def test_yaml_unknown_gpu_type_with_cluster() -> None:
    cluster = load_cluster("4x8:H200")
    with pytest.raises(InputError) as e:
        tariffs_from_dict(_one(points_per_gpu_hour={"H100-80GB": 2}), cluster)
    assert e.value.field == "tariffs[0].points_per_gpu_hour"
    assert "H100-80GB" in str(e.value) and "this cluster has: H200-141GB" in str(e.value)
    tariffs_from_dict(_one(points_per_gpu_hour={"H100-80GB": 2}))  # without a cluster any name is fine


def test_load_tariffs_bad_file(tmp_path: Path) -> None:
    p = tmp_path / "t.yaml"
    p.write_text("tariffs: [\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_tariffs(p)
    with pytest.raises(InputError, match="cannot read file"):
        load_tariffs(tmp_path / "missing.yaml")


def test_priced_class_shared_only_for_part_of_a_node_in_standard() -> None:
    with_shared = Tariff("t", 0.0, {"H100-80GB": Decimal(2)},
                         {"standard": Decimal(1), "shared": Decimal("1.6"), "preemptible": Decimal("0.5")})
    without = Tariff("u", 0.0, {"H100-80GB": Decimal(2)})
    assert priced_class(with_shared, "standard", True) == "shared"
    assert priced_class(with_shared, "standard", False) == "standard"
    assert priced_class(with_shared, "preemptible", True) == "preemptible"   # asked for: kept
    assert priced_class(without, "standard", True) == "standard"
