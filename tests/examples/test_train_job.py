"""examples/jobs/train.py as a real process: it runs to the end, saves its checkpoint on SIGTERM and exits 143,
resumes from the checkpoint when started again, and does nothing once finished."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

TRAIN = Path(__file__).resolve().parents[2] / "examples" / "jobs" / "train.py"


def train(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TRAIN), *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "GPUCLOUD_JOB_ID": "7"})


def test_runs_to_the_end_and_then_does_nothing(tmp_path: Path) -> None:
    out = train(tmp_path, "--steps", "40", "--step-seconds", "0", "--print-every", "20")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("starting: 40 steps") and "checkpoints/train-7.json" in lines[0]
    assert [line.split()[1] for line in lines if line.startswith("step ")] == ["20/40", "40/40"]
    assert lines[-1].startswith("done: 40 steps in 1 run(s)")
    state = json.loads((tmp_path / "checkpoints" / "train-7.json").read_text())
    assert (state["step"], state["done"], state["runs"]) == (40, True, 1)
    again = train(tmp_path, "--steps", "40")
    assert again.returncode == 0 and again.stdout.startswith("already finished")


def test_sigterm_saves_and_a_second_run_resumes(tmp_path: Path) -> None:
    ckpt = tmp_path / "ck.json"
    proc = subprocess.Popen([sys.executable, str(TRAIN), "--steps", "100000", "--step-seconds", "0.001",
                             "--print-every", "5", "--checkpoint", str(ckpt)], cwd=tmp_path, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("starting:")
    assert proc.stdout.readline().startswith("step 5/")  # in the training loop now
    proc.send_signal(signal.SIGTERM)
    rest = proc.stdout.read()
    assert proc.wait(30) == 128 + signal.SIGTERM
    saved = json.loads(ckpt.read_text())
    assert 5 <= saved["step"] < 100000 and saved["done"] is False
    assert f"SIGTERM: saved step {saved['step']}" in rest
    assert not list(tmp_path.glob("ck.json.tmp-*"))  # written atomically

    out = train(tmp_path, "--steps", str(saved["step"] + 10), "--step-seconds", "0", "--checkpoint", str(ckpt))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == f"resumed from step {saved['step']} of {saved['step'] + 10} ({ckpt})"
    assert f"done: {saved['step'] + 10} steps in 2 run(s)" in out.stdout
