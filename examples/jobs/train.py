#!/usr/bin/env python3
"""A small training job to try gpucloud with: it fits a line by stochastic gradient descent, checkpoints as it goes,
and survives preemption. Standard library only, so any ``python3`` runs it.

    gpucloud submit --gpus 1 --walltime 10m -- python3 examples/jobs/train.py --steps 300

* Every ``--checkpoint-every`` steps, and when it gets SIGTERM, it writes its state to the checkpoint file
  (atomically: a crash never leaves half a file). The file is ``--checkpoint``, by default
  ``checkpoints/train-$GPUCLOUD_JOB_ID.json`` in the job's working directory.
* On SIGTERM (preemption, cancel or walltime: gpucloud then waits the job's grace period before SIGKILL) it finishes
  the current step, saves, and exits with 143 (128 + SIGTERM). Not 0: a job that exits 0 while being preempted
  has finished as far as gpucloud is concerned, and would not be requeued.
* When it starts and the checkpoint exists — the same job requeued after a preemption, or a run given the same
  ``--checkpoint`` — it resumes from the saved step instead of starting again. A finished run's checkpoint says so,
  and starting it again does nothing.

Prints one line per ``--print-every`` steps (step, loss, the fitted slope and intercept) to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import time
from typing import Any

#: What the data is drawn from: y = SLOPE * x + INTERCEPT + noise.
SLOPE, INTERCEPT, NOISE = 3.0, -1.0, 0.1
EXIT_TERMINATED = 128 + signal.SIGTERM


def save(path: str, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically (a temporary file in the same directory, then a rename)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as f:
            state: dict[str, Any] = json.load(f)
    except FileNotFoundError:
        return None
    return state


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=200, help="training steps in all (default 200)")
    ap.add_argument("--step-seconds", type=float, default=0.05, help="time one step takes (default 0.05)")
    ap.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    ap.add_argument("--checkpoint", help="checkpoint file (default checkpoints/train-$GPUCLOUD_JOB_ID.json)")
    ap.add_argument("--checkpoint-every", type=int, default=50, help="steps between checkpoints (default 50)")
    ap.add_argument("--print-every", type=int, default=10, help="steps between progress lines (default 10)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the data (default 0)")
    args = ap.parse_args(argv)
    path = args.checkpoint or os.path.join("checkpoints", f"train-{os.environ.get('GPUCLOUD_JOB_ID', 'local')}.json")

    stop = False

    def on_sigterm(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_sigterm)
    state = load(path)
    if state is not None and state.get("done"):
        print(f"already finished ({path}): slope {state['w']:.3f}, intercept {state['b']:.3f}", flush=True)
        return 0
    if state is None:
        state = {"step": 0, "w": 0.0, "b": 0.0, "runs": 0}
        print(f"starting: {args.steps} steps, GPUs {os.environ.get('CUDA_VISIBLE_DEVICES', 'none')}, "
              f"checkpoint {path}", flush=True)
    else:
        print(f"resumed from step {state['step']} of {args.steps} ({path})", flush=True)
    state["runs"] += 1
    step, w, b = int(state["step"]), float(state["w"]), float(state["b"])
    rng = random.Random(args.seed * 1_000_003 + step)
    loss = 0.0
    while step < args.steps:
        x = rng.uniform(-1.0, 1.0)
        y = SLOPE * x + INTERCEPT + rng.gauss(0.0, NOISE)
        err = w * x + b - y
        w -= args.lr * 2 * err * x
        b -= args.lr * 2 * err
        loss = err * err
        step += 1
        time.sleep(args.step_seconds)  # the work of a real step
        if step % args.print_every == 0:
            print(f"step {step}/{args.steps} loss {loss:.4f} slope {w:.3f} intercept {b:.3f}", flush=True)
        if stop or step % args.checkpoint_every == 0 or step == args.steps:
            state.update(step=step, w=w, b=b, done=step == args.steps)
            save(path, state)
        if stop and step < args.steps:
            print(f"SIGTERM: saved step {step} to {path}; exiting to be requeued", flush=True)
            return EXIT_TERMINATED
    print(f"done: {step} steps in {state['runs']} run(s), loss {loss:.4f}, slope {w:.3f} (true {SLOPE}), "
          f"intercept {b:.3f} (true {INTERCEPT})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
