"""Service commands against a real server (2 × 4 GPUs, no control loop: replicas are wanted, not started)."""

from __future__ import annotations

from pathlib import Path

from cli_world import Cli


def test_create_list_scale_delete(world: Cli, tmp_path: Path) -> None:
    demand = tmp_path / "week.yaml"
    demand.write_text("weekly:\n  utc_offset: '+09:00'\n  daily: {'00:00': 1, '08:00': 2}\n")
    made = world.json("service", "create", "ran-a", "--class", "ran", "--gpus", "2", "--gpu-type", "H100-80GB",
                      "--site", "b0-r0-n0", "--demand", str(demand), "--lead", "300", "--", "sleep", "60",
                      user="amin")
    assert (made["name"], made["org"], made["sites"], made["lead_s"]) == ("ran-a", "alpha", ["b0-r0-n0"], 300.0)
    assert "weekly" in made["demand"] and made["wanted"] in (1, 2)
    table = world.ok("service", "list", user="alice").stdout
    assert "ran-a" in table and "weekly schedule" in table
    scaled = world.json("service", "scale", "ran-a", "3", user="amin")
    assert (scaled["demand"], scaled["wanted"]) == ({"replicas": 3}, 3)
    assert world.run("service", "scale", "ran-a", "1", user="alice").exit_code != 0
    assert world.ok("service", "delete", "ran-a", user="amin").stdout.strip() == "deleted service ran-a"
    assert world.json("service", "list", user="amin") == []


def test_bad_input_is_one_line_naming_the_field(world: Cli) -> None:
    out = world.run("service", "create", "x", "--class", "ran", "--gpus", "2", "--gpu-type", "H100-80GB",
                    "--site", "nowhere", "--replicas", "1", "--", "true", user="amin")
    assert out.exit_code != 0 and "sites" in out.output and "Traceback" not in out.output
    out = world.run("service", "create", "x", "--class", "ran", "--gpus", "2", "--gpu-type", "H100-80GB",
                    "--site", "b0", "--", "true", user="amin")
    assert out.exit_code != 0 and "--replicas" in out.output
