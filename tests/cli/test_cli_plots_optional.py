"""matplotlib is the optional ``plots`` extra: without it ``simulate --out`` says so before the replay and writes
the CSVs and summaries without charts, drawing alone raises an error saying how to install it, and neither the
server nor the CLI imports it at all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_world import run_gpucloud

from gpucloud.errors import GpucloudError

TRACE = "job_id,submit_time,duration,num_gpus,org\nj1,0,600,4,a\nj2,10,300,2,b\nj3,20,60,1,a\n"


@pytest.fixture
def no_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import matplotlib`` fail in this process, as on an install without the plots extra."""
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def test_simulate_without_matplotlib_writes_everything_but_the_charts(tmp_path: Path, no_matplotlib: None) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text(TRACE)
    out = tmp_path / "out"
    result = run_gpucloud(["simulate", "--cluster", "2x4", "--trace", str(trace), "--policy", "fifo,backfill",
                           "--out", str(out)], {})
    assert result.exit_code == 0, result.stderr
    assert "matplotlib, which is not installed: pip install 'gpucloud[plots]'" in result.stderr
    for policy in ("fifo", "backfill"):
        assert {p.name for p in (out / policy).iterdir()} == {"jobs.csv", "allocations.csv", "summary.json"}
        assert json.loads((out / policy / "summary.json").read_text())["jobs"] == 3
    assert not list(out.glob("*.png"))


def test_drawing_without_matplotlib_says_how_to_install_it(no_matplotlib: None, tmp_path: Path) -> None:
    from gpucloud.sim import plots

    assert not plots.available()
    with pytest.raises(GpucloudError, match=r"pip install 'gpucloud\[plots\]'"):
        plots.plot_cdf({"fifo": [1.0, 2.0]}, "wait time", tmp_path / "cdf.png")


def test_the_server_and_the_cli_do_not_import_matplotlib(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "sys.modules['matplotlib'] = None\n"  # any import of it would fail
        "from gpucloud.service.api import create_app\n"
        "from gpucloud.service.settings import Settings\n"
        "from gpucloud.service.server import serve\n"
        "from gpucloud.cli.entry import main\n"
        f"app = create_app(Settings(data_dir={str(tmp_path)!r}, cluster_file='1x4'))\n"
        "app.state.gpucloud.engine.dispose()\n"
        "for args in (['--help'], ['server', '--help'], ['jobs', '--help']):\n"
        "    try:\n"
        "        code = main(args)\n"
        "    except SystemExit as exc:\n"
        "        code = exc.code\n"
        "    assert code == 0, args\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
