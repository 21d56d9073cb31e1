"""The CLI's speed, side by side in one run:

* one command at a time: ``gpucloud jobs`` / ``queue`` / ``submit`` against a bare Python process that makes the
  same HTTP request with the standard library's http.client (target: within 3× of it), with ``squeue`` /
  ``sbatch`` of the Slurm peer for reference (median of ``--runs`` runs each, interleaved);
* submissions from 8 shells: ``--jobs`` ``gpucloud submit`` spread over ``--shells`` concurrent shells
  (``xargs -P``) against the same number of ``sbatch --wrap=true`` (target: at least as fast), and the bare
  process for reference; ``--reps`` interleaved rounds, each after the last round's jobs have ended.

The gpucloud server is started here (a 16 × 8 cluster like the Slurm peer's, the local executor running the jobs,
a member submitting); Slurm is used when ``scontrol ping`` answers (start the peer with
../shared/peers/slurm/start-slurm.sh). Both run the same one-GPU ``true`` jobs. Python's bytecode caches go to a
temporary ``PYTHONPYCACHEPREFIX``, as an installed package has them.

    .venv/bin/python benchmarks/bench_cli.py [--jobs 200] [--shells 8] [--reps 3] [--runs 30]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
from bench_submit import gpucloud_command, member_token, server

#: The bare process: what anyone would write to make the CLI's request with the standard library.
BARE = r'''
import http.client, json, os, sys
from urllib.parse import urlsplit
u = urlsplit(os.environ["GPUCLOUD_URL"])
c = http.client.HTTPConnection(u.hostname, u.port)
h = {"Authorization": "Bearer " + os.environ["GPUCLOUD_TOKEN"], "Content-Type": "application/json"}
what = sys.argv[1]
if what == "submit":
    body = json.dumps({"argv": ["true"], "cwd": os.getcwd(), "idempotency_key": "bare-" + os.urandom(16).hex()})
    c.request("POST", "/api/v1/jobs", body=body, headers=h)
    print(json.loads(c.getresponse().read())["id"])
else:
    c.request("GET", {"jobs": "/api/v1/jobs?limit=50", "queue": "/api/v1/queue"}[what], headers=h)
    print(len(json.loads(c.getresponse().read())["items"]))
'''


def slurm_up() -> bool:
    if shutil.which("scontrol") is None:
        return False
    out = subprocess.run(["scontrol", "ping"], capture_output=True, text=True)
    return "UP" in out.stdout


def run_quiet(cmd: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one run; a failure stops the benchmark."""
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {out.stderr.strip()}")
    return elapsed


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its live children."""
    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


class Round:
    """One round of submissions from the shells: its rate, and the CPU the submitting processes took each."""

    def __init__(self, cmd: list[str], n: int, shells: int, env: dict[str, str], server_pid: int | None) -> None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        server_before = tree_cpu(server_pid) if server_pid else 0.0
        t0 = time.perf_counter()
        out = subprocess.run(["xargs", f"-P{shells}", "-I{}", *cmd], input="\n".join(map(str, range(n))) + "\n",
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        elapsed = time.perf_counter() - t0
        if out.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} from {shells} shells failed: {out.stderr.strip()[:500]}")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.rate = n / elapsed
        self.client_ms = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) / n * 1000
        self.server_ms = (tree_cpu(server_pid) - server_before) / n * 1000 if server_pid else None


IDLE_TIMEOUT_S = 300.0


def wait_idle(what: str, busy: Callable[[], bool]) -> None:
    """Wait until ``busy()`` is false (the jobs of the last round have ended)."""
    deadline = time.monotonic() + IDLE_TIMEOUT_S
    while busy():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} still has jobs after {IDLE_TIMEOUT_S:.0f} s")
        time.sleep(0.2)


def gpucloud_idle(url: str, token: str) -> None:
    """Wait until every job of the member has been started (a ``true`` ends as it starts)."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30.0) as c:
        wait_idle("gpucloud", lambda: bool(c.get("/api/v1/jobs", params={
            "state": ["pending", "admitted"], "limit": 1}).json()["items"]))


def slurm_busy() -> bool:
    return bool(subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).stdout.strip())


def slurm_idle() -> None:
    wait_idle("Slurm", slurm_busy)


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=200, help="submissions per round from the shells (default 200)")
    ap.add_argument("--shells", type=int, default=8, help="concurrent shells (default 8)")
    ap.add_argument("--reps", type=int, default=3, help="interleaved rounds of the shell submissions (default 3)")
    ap.add_argument("--runs", type=int, default=30, help="runs of each single command (default 30)")
    ap.add_argument("--executor", default="local", help="the server's: local (default; runs the jobs) or noop")
    args = ap.parse_args()
    slurm = slurm_up()
    if not slurm:
        print("Slurm peer not answering (../shared/peers/slurm/start-slurm.sh): gpucloud figures only")
    elif slurm_busy():
        raise SystemExit("the Slurm peer's queue is not empty (squeue): it must be for the rounds to be timed")
    cache = tempfile.mkdtemp(prefix="gpucloud-pycache-")
    bare = Path(cache) / "bare_request.py"
    bare.write_text(BARE)
    gpucloud = gpucloud_command()
    sbatch = ["sbatch", "--parsable", "--wrap=true", "-n1", "--gres=gpu:1", "-o", "/dev/null"]
    try:
        with server("16x8:H100", executor=args.executor, tick=0.2) as srv:
            token = member_token(srv.url, srv.admin_token)
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            env.update(GPUCLOUD_URL=srv.url, GPUCLOUD_TOKEN=token, PYTHONPYCACHEPREFIX=cache)
            py = [sys.executable, str(bare)]
            singles = {
                "jobs": ([*gpucloud, "jobs"], [*py, "jobs"], ["squeue"]),
                "queue": ([*gpucloud, "queue"], [*py, "queue"], ["squeue", "-t", "PD"]),
                "submit": ([*gpucloud, "submit", "--", "true"], [*py, "submit"], sbatch),
            }
            for cmds in singles.values():  # warm up: bytecode caches, the server's first requests
                for cmd in cmds[: 3 if slurm else 2]:
                    run_quiet(cmd, env)
            times: dict[tuple[str, int], list[float]] = {}
            for _ in range(args.runs):
                for name, cmds in singles.items():
                    for i, cmd in enumerate(cmds[: 3 if slurm else 2]):
                        times.setdefault((name, i), []).append(run_quiet(cmd, env))
            print(f"\none command at a time (median of {args.runs} runs, ms)")
            print(f"{'command':<8} {'gpucloud':>9} {'bare Python':>12} {'ratio':>6} {'Slurm':>7}  (target: ratio <= 3)")
            for name in singles:
                g, b = median_ms(times[(name, 0)]), median_ms(times[(name, 1)])
                s = f"{median_ms(times[(name, 2)]):7.1f}" if slurm else "      -"
                print(f"{name:<8} {g:9.1f} {b:12.1f} {g / b:6.2f} {s}")
            gpucloud_idle(srv.url, token)
            if slurm:
                slurm_idle()

            rounds: dict[str, list[Round]] = {"gpucloud submit": [], "bare Python": [], "sbatch": []}
            for _ in range(args.reps):
                rounds["gpucloud submit"].append(Round([*gpucloud, "submit", "--", "true"], args.jobs, args.shells,
                                                       env, srv.proc.pid))
                gpucloud_idle(srv.url, token)
                rounds["bare Python"].append(Round([*py, "submit"], args.jobs, args.shells, env, srv.proc.pid))
                gpucloud_idle(srv.url, token)
                if slurm:
                    rounds["sbatch"].append(Round(sbatch, args.jobs, args.shells, env, None))
                    slurm_idle()
            print(f"\n{args.jobs} submissions from {args.shells} shells ({args.reps} rounds: median, min-max)")
            print(f"{'':<16} {'jobs/s':>7} {'':<13} {'CPU ms per submission: client':>30} {'server':>7}")
            for name, done in rounds.items():
                if done:
                    rates = [r.rate for r in done]
                    served = [r.server_ms for r in done if r.server_ms is not None]
                    print(f"{name:<16} {statistics.median(rates):7.1f} ({min(rates):5.1f}-{max(rates):5.1f}) "
                          f"{statistics.median(r.client_ms for r in done):30.1f} "
                          f"{f'{statistics.median(served):.1f}' if served else '-':>7}")
            if slurm:
                ratio = (statistics.median(r.rate for r in rounds["gpucloud submit"])
                         / statistics.median(r.rate for r in rounds["sbatch"]))
                print(f"gpucloud / sbatch: {ratio:.2f} (target: >= 1)")
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
