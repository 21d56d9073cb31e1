"""Cluster files and inline specs: the examples load with the right totals; bad input names its field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gpucloud.errors import InputError
from gpucloud.model.cluster import Cluster
from gpucloud.model.cluster_file import (
    MAX_NODES,
    cluster_from_dict,
    load_cluster,
    parse_inline,
    resolve_gpu_type,
)

ROOT = Path(__file__).resolve().parents[2]
CLUSTERS = ROOT / "examples" / "clusters"

# file: (GPUs, nodes, racks, blocks, GPUs per type)
EXPECTED: dict[str, tuple[int, int, int, int, dict[str, int]]] = {
    "dgx-b200-superpod.yaml": (1024, 128, 32, 4, {"B200-180GB": 1024}),
    "gb200-nvl72.yaml": (1152, 288, 16, 2, {"GB200-186GB": 1152}),
    "ai-ran.yaml": (280, 62, 5, 3, {"GB200-186GB": 216, "B200-180GB": 64}),
    "national-h200.yaml": (6128, 766, 96, 6, {"H200-141GB": 6128}),
    "gpu-cloud-10k.yaml": (10240, 1280, 320, 10, {"B200-180GB": 6144, "H100-80GB": 4096}),
    "philly.yaml": (2490, 375, 34, 4, {"P100-16GB": 2490}),
    "tiny.yaml": (4, 1, 1, 1, {"H100-80GB": 4}),
}


def test_every_example_is_covered() -> None:
    assert sorted(p.name for p in CLUSTERS.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_totals(name: str) -> None:
    gpus, nodes, racks, blocks, by_type = EXPECTED[name]
    c = load_cluster(CLUSTERS / name)
    assert c.total_gpus == gpus
    assert len(c.nodes) == nodes
    assert len(c.racks) == racks
    assert len(c.blocks) == blocks
    assert c.gpus_by_type == by_type
    # Dense, consistent indices and unique names.
    assert [n.index for n in c.nodes] == list(range(nodes))
    assert [r.index for r in c.racks] == list(range(racks))
    assert [b.index for b in c.blocks] == list(range(blocks))
    assert all(c.racks[n.rack].block == n.block for n in c.nodes)
    assert len({n.name for n in c.nodes}) == nodes
    assert len({r.name for r in c.racks}) == racks
    assert sum(len(x) for x in c.nodes_by_rack) == nodes
    assert sum(len(x) for x in c.racks_by_block) == racks


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_starts_with_a_comment(name: str) -> None:
    first = (CLUSTERS / name).read_text().splitlines()[0]
    assert first.startswith("# ")


def test_dgx_superpod_layout() -> None:
    c = load_cluster(CLUSTERS / "dgx-b200-superpod.yaml")
    assert [b.name for b in c.blocks] == ["su0", "su1", "su2", "su3"]
    assert all(len(r) == 8 for r in c.racks_by_block)
    assert all(len(n) == 4 for n in c.nodes_by_rack)
    assert c.nodes[-1].name == "su3-r7-n3"
    assert c.max_node_gpus == {"B200-180GB": 8}


def test_gb200_racks_are_nvl72_domains() -> None:
    c = load_cluster(CLUSTERS / "gb200-nvl72.yaml")
    per_rack = [sum(c.nodes[i].gpus for i in nodes) for nodes in c.nodes_by_rack]
    assert per_rack == [72] * 16
    assert c.max_node_gpus == {"GB200-186GB": 4}
    assert c.gpu_types["GB200-186GB"].memory_gb == 186


def test_national_h200_last_rack() -> None:
    c = load_cluster(CLUSTERS / "national-h200.yaml")
    assert c.racks[-1].name == "g5-r15"
    assert len(c.nodes_by_rack[-1]) == 6
    assert c.nodes[-1].name == "g5-r15-n5"
    assert [len(r) for r in c.racks_by_block] == [16] * 6


def test_gpu_cloud_types_per_block() -> None:
    c = load_cluster(CLUSTERS / "gpu-cloud-10k.yaml")
    types_by_block = [
        {c.nodes[n].gpu_type for r in rs for n in c.nodes_by_rack[r]} for rs in c.racks_by_block
    ]
    assert types_by_block == [{"B200-180GB"}] * 6 + [{"H100-80GB"}] * 4
    assert c.node_by_name("h3-r31-n3").gpu_type == "H100-80GB"
    assert c.node_by_name("b0-r00-n0").gpu_type == "B200-180GB"


def test_philly_custom_gpu_type_and_sizes() -> None:
    c = load_cluster(CLUSTERS / "philly.yaml")
    t = c.gpu_types["P100-16GB"]
    assert (t.memory_gb, t.speed) == (16, 1.0)
    sizes = sorted(n.gpus for n in c.nodes)
    assert sizes.count(8) == 290
    assert sizes.count(2) == 85
    assert list(c.gpu_types) == ["P100-16GB"]


def test_tiny_node_name() -> None:
    c = load_cluster(CLUSTERS / "tiny.yaml")
    assert [n.name for n in c.nodes] == ["local-r0-host"]
    assert c.gpu_label(0, 3) == "local-r0-host/3"


# --- bad cluster files ------------------------------------------------------------------------------------

GOOD = """\
name: t
blocks:
  - name: b
    racks:
      - name: r
        count: 2
        nodes:
          - {name: n, count: 2, gpus: 8, gpu_type: H100-80GB}
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def _fails(tmp_path: Path, text: str) -> InputError:
    p = _write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_cluster(p)
    assert info.value.where == str(p)
    assert str(p) in str(info.value)
    return info.value


def test_good_minimal_file(tmp_path: Path) -> None:
    c = load_cluster(_write(tmp_path, GOOD))
    assert isinstance(c, Cluster)
    assert (c.total_gpus, len(c.nodes), len(c.racks)) == (32, 4, 2)
    assert [n.name for n in c.nodes] == ["b-r0-n0", "b-r0-n1", "b-r1-n0", "b-r1-n1"]


def test_missing_blocks(tmp_path: Path) -> None:
    err = _fails(tmp_path, "name: t\n")
    assert err.field == "blocks"
    assert "blocks: Field required" in str(err)


def test_negative_gpus(tmp_path: Path) -> None:
    err = _fails(tmp_path, GOOD.replace("gpus: 8", "gpus: -1"))
    assert err.field == "blocks[0].racks[0].nodes[0].gpus"
    assert err.value == -1
    assert "blocks[0].racks[0].nodes[0].gpus: Input should be greater than 0 (got -1)" in str(err)


def test_gpus_not_a_number(tmp_path: Path) -> None:
    err = _fails(tmp_path, GOOD.replace("gpus: 8", 'gpus: "eight"'))
    assert err.field == "blocks[0].racks[0].nodes[0].gpus"
    assert err.value == "eight"
    assert "valid integer" in str(err)
    assert "(got 'eight')" in str(err)


def test_unknown_gpu_type_did_you_mean(tmp_path: Path) -> None:
    err = _fails(tmp_path, GOOD.replace("H100-80GB", "H100-80G"))
    assert err.field == "blocks[0].racks[0].nodes[0].gpu_type"
    assert "'H100-80G'" in str(err)
    assert "did you mean 'H100-80GB'" in str(err)


def test_unknown_key(tmp_path: Path) -> None:
    err = _fails(tmp_path, GOOD.replace("    racks:", "    colour: red\n    racks:"))
    assert err.field == "blocks[0].colour"
    assert "Extra inputs are not permitted" in str(err)
    assert err.value == "red"


def test_unknown_top_level_key(tmp_path: Path) -> None:
    err = _fails(tmp_path, GOOD + "nodez: 3\n")
    assert err.field == "nodez"
    assert err.value == 3


def test_invalid_yaml_gives_line(tmp_path: Path) -> None:
    err = _fails(tmp_path, GOOD.replace("count: 2\n", "count: [2\n", 1))
    assert err.field == "cluster"
    # The "[" opened on line 6 is reported where the parser gave up: the next line's "{".
    assert "not valid YAML at line 7, column 14" in str(err)


def test_invalid_yaml_tab(tmp_path: Path) -> None:
    err = _fails(tmp_path, "name: t\nblocks:\n\t- name: b\n")
    assert "not valid YAML at line 3, column 1" in str(err)


def test_duplicate_node_names(tmp_path: Path) -> None:
    text = GOOD + "          - {name: n, count: 2, gpus: 4, gpu_type: H100-80GB}\n"
    err = _fails(tmp_path, text)
    assert err.field == "blocks[0].racks[0].nodes[1].name"
    assert err.value == "b-r0-n0"
    assert "unique" in str(err)


def test_duplicate_rack_names(tmp_path: Path) -> None:
    text = GOOD + "      - name: r1\n        nodes:\n          - {name: m, gpus: 8, gpu_type: H100-80GB}\n"
    err = _fails(tmp_path, text)
    assert err.field == "blocks[0].racks[1].name"
    assert err.value == "b-r1"


def test_duplicate_block_names(tmp_path: Path) -> None:
    text = GOOD + "  - name: b\n    racks:\n      - nodes: [{name: m, gpus: 8, gpu_type: H100-80GB}]\n"
    err = _fails(tmp_path, text)
    assert err.field == "blocks[1].name"
    assert err.value == "b"


def test_too_many_nodes(tmp_path: Path) -> None:
    text = GOOD.replace("count: 2\n", "count: 100000\n").replace("    racks:", "    count: 10000\n    racks:")
    err = _fails(tmp_path, text)
    assert err.field == "blocks"
    assert err.value == 10000 * 100000 * 2
    assert f"more than {MAX_NODES:,} nodes" in str(err)


def test_file_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(InputError) as info:
        load_cluster(missing)
    assert info.value.field == "cluster"
    assert info.value.value == str(missing)
    assert "cannot read file: No such file or directory" in str(info.value)


def test_empty_file(tmp_path: Path) -> None:
    err = _fails(tmp_path, "")
    assert err.field == "cluster"
    assert "the file is empty" in str(err)


def test_not_a_mapping(tmp_path: Path) -> None:
    err = _fails(tmp_path, "- 1\n- 2\n")
    assert err.field == "cluster"
    assert err.value == "list"


def test_bad_name_prefix(tmp_path: Path) -> None:
    err = _fails(tmp_path, GOOD.replace("name: r\n", "name: r-x\n"))
    assert err.field == "blocks[0].racks[0].name"
    assert err.value == "r-x"


def test_gpu_types_declared_override_and_unused_kept() -> None:
    c = cluster_from_dict(
        {
            "name": "x",
            "gpu_types": {"H100-80GB": {"memory_gb": 80, "speed": 2.0}, "X1-1GB": {"memory_gb": 1}},
            "blocks": [{"racks": [{"nodes": [{"gpus": 8, "gpu_type": "H100-80GB"}]}]}],
        }
    )
    assert c.gpu_types["H100-80GB"].speed == 2.0
    assert c.gpus_by_type == {"H100-80GB": 8, "X1-1GB": 0}
    assert c.max_node_gpus == {"H100-80GB": 8, "X1-1GB": 0}
    assert [n.name for n in c.nodes] == ["b-r-n"]


def test_bad_gpu_type_memory() -> None:
    with pytest.raises(InputError) as info:
        cluster_from_dict(
            {"name": "x", "gpu_types": {"X1": {"memory_gb": 0}},
             "blocks": [{"racks": [{"nodes": [{"gpus": 8, "gpu_type": "X1"}]}]}]}
        )
    assert info.value.field == "gpu_types.X1.memory_gb"
    assert info.value.value == 0


# --- inline specs -----------------------------------------------------------------------------------------


def test_inline_default_type() -> None:
    c = parse_inline("80x8")
    assert (c.total_gpus, len(c.nodes), len(c.racks), len(c.blocks)) == (640, 80, 20, 3)
    assert c.gpus_by_type == {"H100-80GB": 640}
    assert [len(r) for r in c.racks_by_block] == [8, 8, 4]
    assert len({n.name for n in c.nodes}) == 80


def test_inline_with_type_prefix() -> None:
    c = load_cluster("80x8:H100")
    assert c.gpus_by_type == {"H100-80GB": 640}
    assert c.name == "80x8:H100"


def test_inline_b200() -> None:
    c = load_cluster("4x2:B200")
    assert (c.total_gpus, len(c.nodes), len(c.racks), len(c.blocks)) == (8, 4, 1, 1)
    assert c.gpus_by_type == {"B200-180GB": 8}
    assert c.max_node_gpus == {"B200-180GB": 2}


def test_inline_full_type_name() -> None:
    assert parse_inline("2x4:GB200-186GB").gpus_by_type == {"GB200-186GB": 8}


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("80x", "must look like 80x8"),
        ("0x8", "at least 1"),
        ("8x0", "at least 1"),
        ("80x8:Z999", "unknown GPU type 'Z999'"),
        ("2000000x8", "at most"),
        ("1x2048", "at most"),
    ],
)
def test_inline_bad(spec: str, needle: str) -> None:
    with pytest.raises(InputError) as info:
        parse_inline(spec)
    assert info.value.field == "cluster"
    assert info.value.value == spec
    assert needle in str(info.value)


def test_inline_bad_through_load_cluster() -> None:
    with pytest.raises(InputError) as info:
        load_cluster("0x8")
    assert "at least 1" in str(info.value)
    # "80x" is not an inline spec, so it is taken as a file name that does not exist.
    with pytest.raises(InputError) as info:
        load_cluster("80x")
    assert "cannot read file" in str(info.value)
    assert info.value.value == "80x"


def test_resolve_gpu_type() -> None:
    assert resolve_gpu_type("h200") == "H200-141GB"
    assert resolve_gpu_type("B200-180GB") == "B200-180GB"
    with pytest.raises(KeyError, match="did you mean 'H100-80GB'"):
        resolve_gpu_type("H100-80G")
