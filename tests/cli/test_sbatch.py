"""``gpucloud sbatch``'s rules, piece by piece: how a script's directives are read (sbatch's stop at the first
command, comments, quotes; the lines that look like directives but are not), how options are parsed and which
source wins, how a script becomes a job (shape, time, export, signal, output files), the batch wrapper's output
file names, and — against a real API server — partitions, ``--test-only``, the server's refusals traced back to
the script's line, and that it imports nothing heavy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_world import Cli

from gpucloud.cli.batch_wrapper import output_expression
from gpucloud.cli.sbatch_options import Options, from_environment, parse_words
from gpucloud.cli.sbatch_script import read_script
from gpucloud.cli.sbatch_translate import Translation, translate
from gpucloud.cli.slurm_time import format_slurm_time, parse_slurm_time
from gpucloud.errors import InputError

HEAD = "#!/bin/bash\n"


def job(script: str, *cli: str, env: dict[str, str] | None = None, shell: dict[str, str] | None = None,
        name: str = "s.sh") -> Translation:
    read = read_script(HEAD + script, name)
    given = parse_words(list(cli), "command line", stop_at_operand=True)[0]
    opts = Options([*read.options, *from_environment(env or {}), *given])
    return translate(read, opts, [], cwd="/home/ana/run", shell=shell or {})


def error(script: str, *cli: str) -> str:
    with pytest.raises(InputError) as info:
        job(script, *cli)
    return str(info.value)


@pytest.mark.parametrize(("text", "seconds"), [
    ("30", 1800), ("30:15", 1815), ("2:00:00", 7200), ("1-0", 86400), ("1-12", 129600), ("1-12:30", 131400),
    ("1-12:30:05", 131405), ("0:45", 45), ("00:05:00", 300),
])
def test_every_slurm_time_format(text: str, seconds: float) -> None:
    assert parse_slurm_time(text) == seconds


@pytest.mark.parametrize("text", ["", "1:2:3:4", "a", "1-", "0", "0:00", "UNLIMITED", "infinite", "1.5"])
def test_bad_times(text: str) -> None:
    with pytest.raises(InputError):
        parse_slurm_time(text)


def test_time_shown_as_slurm_shows_it() -> None:
    assert [format_slurm_time(s) for s in (5, 65, 3661, 90061)] == ["0:05", "1:05", "1:01:01", "1-01:01:01"]


def test_directives_stop_at_the_first_command_and_comments_are_dropped() -> None:
    script = read_script(HEAD + '#SBATCH -J "my job" # the name\n\n# a comment\n#SBATCH -N 2 --gres=gpu:4\n'
                         "set -e\n#SBATCH --time=5\n", "s.sh")
    assert [(g.name, g.value, g.origin) for g in script.options] == [
        ("job-name", "my job", "s.sh:2"), ("nodes", "2", "s.sh:5"), ("gres", "gpu:4", "s.sh:5")]
    assert script.warnings == ["s.sh:7: #SBATCH after the first command has no effect (sbatch reads directives "
                               "only up to the first command)"]


def test_near_directives_are_reported_but_switched_off_ones_are_not() -> None:
    script = read_script(HEAD + "#sbatch -N 2\n  #SBATCH -N 3\n# SBATCH -N 4\n##SBATCH -N 5\n#SBATCHED -N 6\n",
                         "s.sh")
    assert script.options == []
    assert [w.split(":")[1] for w in script.warnings] == ["2", "3", "4"]


@pytest.mark.parametrize(("text", "words"), [
    ("echo hi\n", "s.sh:1: script: this does not look like a batch script"),
    ("#!\n", "s.sh:1: script"),
    ('#!/bin/sh\n#SBATCH -J "x\n', "s.sh:2: #SBATCH: cannot split this line"),
    ("#!/bin/sh\n#SBATCH --frobnicate=1\n", "s.sh:2: --frobnicate=1: unrecognized option"),
    ("#!/bin/sh\n#SBATCH --gpu-per-node=1\n", "did you mean --gpus-per-node?"),
    ("#!/bin/sh\n#SBATCH --time\n", "s.sh:2: --time: needs a value"),
    ("#!/bin/sh\n#SBATCH --requeue=yes\n", "--requeue=yes: takes no value"),
    ("#!/bin/sh\n#SBATCH train.py\n", "expected an option"),
    ("#!/bin/sh\n#GPUCLOUD --gres=gpu:1\n", "s.sh:2: --gres=gpu:1: unrecognized option"),
    ("#!/bin/sh\n" + "#" * 30000 + "\n", "gpucloud takes batch scripts of at most 24 KiB"),
    ("#!/bin/sh\necho \x00\n", "NUL"),
])
def test_scripts_sbatch_refuses(text: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        read_script(text, "s.sh")
    assert words in str(info.value)


def test_command_line_beats_environment_beats_script() -> None:
    t = job("#SBATCH -A from-script\n#SBATCH -t 10\n#SBATCH -J script\n", "-J", "cli",
            env={"SBATCH_ACCOUNT": "from-env", "SBATCH_JOB_NAME": "env"})
    assert (t.body["project"], t.body["name"], t.body["walltime"]) == ("from-env", "cli", 600)
    assert t.origins["project"].origin == "$SBATCH_ACCOUNT" and t.origins["name"].origin == "command line"
    assert job("#SBATCH --no-requeue\n", "--requeue").body["preemptible"] is True  # the later of two opposites


def test_short_options_with_attached_values() -> None:
    words, start = parse_words(["-N2", "-J", "x", "-W", "--", "script.sh"], "command line", stop_at_operand=True)
    assert [(g.name, g.value) for g in words] == [("nodes", "2"), ("job-name", "x"), ("wait", None)]
    assert start == 5


@pytest.mark.parametrize(("script", "shape"), [
    ("#SBATCH --gres=gpu:4\n", (4, 1, None)),
    ("#SBATCH -N 2 --gres=gpu:h100:4\n", (8, 2, "h100")),
    ("#SBATCH --gres=gpu\n", (1, 1, None)),
    ("#SBATCH --gres=gpu:a100\n", (1, 1, "a100")),
    ("#SBATCH -N 3 --gpus-per-node=2\n", (6, 3, None)),
    ("#SBATCH --ntasks=8 --ntasks-per-node=4 --gpus-per-task=1\n", (8, 2, None)),
    ("#SBATCH -N 2 --ntasks-per-node=2 --gpus-per-task=h100:2\n", (8, 2, "h100")),
    ("#SBATCH --ntasks=3 --gpus-per-task=2\n", (6, None, None)),
    ("#SBATCH --gpus=6\n", (6, None, None)),
    ("#SBATCH -N 2 -G 8\n", (8, 2, None)),
    ("#SBATCH -N 2-2 --gres=gpu:1\n", (2, 2, None)),
    ("#SBATCH --gres=gpu:2,nvme:1\n", (2, 1, None)),
])
def test_shapes(script: str, shape: tuple[int, int | None, str | None]) -> None:
    body = job(script).body
    assert (body["num_gpus"], body.get("nodes"), body.get("gpu_type")) == shape


def test_no_gpus_asked_for_is_one_per_node_and_said() -> None:
    t = job("#SBATCH -N 3\n")
    assert (t.body["num_gpus"], t.body["nodes"]) == (3, 3)
    assert any("no GPUs asked for" in n for n in t.notes)


@pytest.mark.parametrize(("script", "words"), [
    ("#SBATCH -N 2-4 --gres=gpu:1\n", "s.sh:2: -N 2-4: gpucloud needs an exact node count"),
    ("#SBATCH --gres=gpu:2 --gpus-per-node=4\n", "--gpus-per-node=4: disagrees with --gres=gpu:2"),
    ("#SBATCH -N 2 --gres=gpu:2 --gpus=6\n", "--gpus=6: disagrees with --gres=gpu:2 on 2 node(s)"),
    ("#SBATCH --gres=gpu:h100:1 --gpus-per-node=a100:1\n", "GPU type 'a100' disagrees"),
    ("#SBATCH --gres=gpu:1:2:3\n", "expected gpu, gpu:N"),
    ("#SBATCH --array=5-1\n", "s.sh:2: --array=5-1: '5-1': the range ends before it starts"),
    ("#SBATCH --dependency=afterok\n", "--dependency=afterok: afterok needs job ids"),
    ("#SBATCH --begin=now+1hour\n", "not supported by gpucloud: jobs are eligible as soon as they are submitted"),
    ("#SBATCH -w node7\n", "-w node7: not supported by gpucloud: the scheduler chooses the nodes"),
    ("#SBATCH --signal=R:USR1@30\n", "R: (before a reservation ends) is not supported"),
    ("#SBATCH --signal=FOO\n", "unknown signal 'FOO'"),
    ("#SBATCH --output=x-%q.out\n", "unknown replacement %q"),
    ("#SBATCH --open-mode=rewrite\n", "must be append or truncate"),
    ("#SBATCH --export=ALL,=x\n", "is not a variable"),
    ("#GPUCLOUD --grace=soon\n", "--grace=soon: must be a duration"),
])
def test_what_cannot_be_done_points_at_its_line(script: str, words: str) -> None:
    assert words in error(script)


def test_accepted_but_not_enforced_is_noted_with_its_line() -> None:
    t = job("#SBATCH --mem=8G\n#SBATCH --mail-type=ALL --mail-user=a@b.c\n#SBATCH --exclusive\n"
            "#SBATCH --cpus-per-task=4\n#SBATCH -t 5\n#SBATCH --gres=gpu:1\n")
    assert t.notes == [
        "s.sh:2: --mem=8G: accepted but not enforced: memory is not scheduled or limited",
        "s.sh:3: --mail-type=ALL: accepted but not enforced: gpucloud sends no mail (gpucloud sbatch --wait, or "
        "gpucloud job ID, tells when it ends)",
        "s.sh:3: --mail-user=a@b.c: accepted but not enforced: gpucloud sends no mail (gpucloud sbatch --wait, or "
        "gpucloud job ID, tells when it ends)",
        "s.sh:4: --exclusive: accepted but not enforced: gpucloud does not schedule by it",
        "s.sh:5: --cpus-per-task=4: accepted but not enforced: CPUs are not scheduled (SLURM_CPUS_PER_TASK is set)"]


def test_the_job_fields_and_static_slurm_variables() -> None:
    t = job("#SBATCH -J train -A vision -q high -t 1-00:00 --gres=gpu:2 --chdir=out -a 0-9%3\n"
            "#SBATCH --dependency=afterok:12,singleton --reservation=course --requeue -c 8\n"
            "#GPUCLOUD --service-class=preemptible --grace=2m --org=lab\n")
    b = t.body
    assert (b["name"], b["project"], b["priority"], b["walltime"], b["cwd"]) == (
        "train", "vision", "high", 86400, "/home/ana/run/out")
    assert (b["array"], b["dependency"], b["reservation"], b["preemptible"]) == (
        "0-9%3", "afterok:12,singleton", "course", True)
    assert (b["service_class"], b["grace"], b["org"]) == ("preemptible", 120, "lab")
    env = b["env"]
    assert {k: env[k] for k in ("SLURM_JOB_NAME", "SLURM_SUBMIT_DIR", "SLURM_JOB_ACCOUNT", "SLURM_CPUS_PER_TASK",
                                "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX",
                                "SLURM_ARRAY_TASK_STEP", "SLURM_NTASKS_PER_NODE", "SLURM_JOB_QOS")} == {
        "SLURM_JOB_NAME": "train", "SLURM_SUBMIT_DIR": "/home/ana/run", "SLURM_JOB_ACCOUNT": "vision",
        "SLURM_CPUS_PER_TASK": "8", "SLURM_ARRAY_TASK_COUNT": "10", "SLURM_ARRAY_TASK_MIN": "0",
        "SLURM_ARRAY_TASK_MAX": "9", "SLURM_ARRAY_TASK_STEP": "1", "SLURM_NTASKS_PER_NODE": "1",
        "SLURM_JOB_QOS": "high"}
    assert b["argv"][:2] == ["/bin/sh", "-c"] and b["argv"][3] == "s.sh"
    assert job("", name="dir/run.sh").body["name"] == "run.sh"  # the script's file name, as sbatch names it


def test_export() -> None:
    shell = {"PATH": "/usr/bin", "HOME": "/home/ana", "GPUCLOUD_TOKEN": "gpc_secret", "SLURM_JOB_ID": "7",
             "PWD": "/x", "CONDA_PREFIX": "/opt/conda"}
    everything = job("", shell=shell).body["env"]
    assert everything["PATH"] == "/usr/bin" and everything["CONDA_PREFIX"] == "/opt/conda"
    assert "GPUCLOUD_TOKEN" not in everything and "PWD" not in everything
    assert everything.get("SLURM_JOB_ID") is None and everything["SLURM_EXPORT_ENV"] == "ALL"
    none = job("#SBATCH --export=NONE,A=1\n", shell=shell).body["env"]
    assert none["A"] == "1" and "PATH" not in none and none["SLURM_EXPORT_ENV"] == "NONE,A=1"
    named = job("#SBATCH --export=HOME,B=2\n", shell=shell).body["env"]
    assert named["HOME"] == "/home/ana" and named["B"] == "2" and "PATH" not in named


@pytest.mark.parametrize(("pattern", "expression", "per_rank"), [
    ("slurm-%j.out", '"slurm-$SLURM_JOB_ID.out"', False),
    ("%x_%A_%a.log",
     '"my \\"job\\"_${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}_${SLURM_ARRAY_TASK_ID:-4294967294}.log"', False),
    ("out-%N-%t-%%.txt", '"out-$SLURMD_NODENAME-$SLURM_PROCID-%.txt"', True),
    ("r%4a.out", '"r$(printf %04d "${SLURM_ARRAY_TASK_ID:-4294967294}").out"', False),
    ("$HOME/a\\%j", '"\\$HOME/a%j"', False),
])
def test_output_file_names(pattern: str, expression: str, per_rank: bool) -> None:
    assert output_expression(pattern, 'my "job"', "--output") == (expression, per_rank)


def test_the_wrapper_is_sh_and_its_variables_come_from_the_rank(tmp_path: Path) -> None:
    """The wrapper itself, run as a rank would run it (its own process group, the executor's variables): the
    Slurm variables the script sees, the output file, the script's arguments and its exit status."""
    t = job('#SBATCH --gres=gpu:2 --ntasks-per-node=2 -o "o-%j-%n.txt"\necho "$SLURM_JOB_ID $SLURM_PROCID '
            '$SLURM_NODEID $SLURM_NTASKS $SLURM_JOB_NODELIST $SLURM_GPUS_ON_NODE $*"\n'
            'srun sh -c \'echo "task $SLURM_PROCID/$SLURM_LOCALID"\' | sort\nexit 4\n')
    argv = t.body["argv"]
    env = {"PATH": os.environ["PATH"], "GPUCLOUD_JOB_ID": "77", "GPUCLOUD_NODE_RANK": "1", "GPUCLOUD_NODE": "n1",
           "GPUCLOUD_NODES": "n0,n1", "GPUCLOUD_WORLD_SIZE": "2", "CUDA_VISIBLE_DEVICES": "2,3",
           **t.body["env"], "TMPDIR": str(tmp_path)}
    out = subprocess.run(["setsid", "-w", *argv, "a", "b"], env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 4, out.stderr
    assert out.stdout.splitlines() == ["77 2 1 4 n0,n1 2 a b", "task 2/0", "task 3/1"]
    assert (tmp_path / "o-77-1.txt").read_text().splitlines() == out.stdout.splitlines()
    assert list(tmp_path.glob("gpucloud-batch.*")) == []  # its private directory is gone


# --- against a real API server ------------------------------------------------------------------------------


def sbatch(world: Cli, tmp_path: Path, script: str, *args: str) -> Any:
    path = tmp_path / "job.sh"
    path.write_text(script)
    return world.run("sbatch", *args, str(path), user="alice")


def test_partitions_resolve_to_gpu_types_or_are_noted(world: Cli, tmp_path: Path) -> None:
    known = sbatch(world, tmp_path, HEAD + "#SBATCH -p h100 -t 5 --gres=gpu:1\n", "--test-only", "--json")
    assert known.exit_code == 0 and json.loads(known.stdout)["gpu_type"] == "H100-80GB"
    other = sbatch(world, tmp_path, HEAD + "#SBATCH -p batch -t 5 --gres=gpu:1\n", "--test-only", "--json")
    assert "gpu_type" not in json.loads(other.stdout)
    assert "job.sh:2: -p batch: not a GPU type of this cluster (H100-80GB): the job may run on any of them" \
        in other.stderr
    assert world.json("jobs", user="alice")["items"] == []  # --test-only submits nothing


def test_the_servers_refusal_points_at_the_line(world: Cli, tmp_path: Path) -> None:
    out = sbatch(world, tmp_path, HEAD + "#SBATCH -t 5\n#SBATCH --qos=premium\n")
    assert out.exit_code == 2
    assert out.stderr.startswith(f"error: {tmp_path / 'job.sh'}:3: --qos=premium: priority: unknown priority class")
    many = {f"V{i}": "x" for i in range(200)}
    out = world.run("sbatch", "--wrap", "true", user="alice", env=many)
    assert out.exit_code == 2 and "--export=ALL (the default): --export: env: must have at most 128" in out.stderr


def test_submitted_as_sbatch_says_and_waits(world: Cli, tmp_path: Path) -> None:
    out = sbatch(world, tmp_path, HEAD + "#SBATCH -t 5 --array=1-3 --export=NONE\necho hi\n")
    assert out.exit_code == 0 and out.stdout.startswith("Submitted batch job ")
    first = int(out.stdout.split()[-1])
    jobs = world.json("jobs", user="alice")["items"]
    assert sorted(j["array_task_id"] for j in jobs) == [1, 2, 3] and {j["array_job_id"] for j in jobs} == {first}
    assert {j["name"] for j in jobs} == {"job.sh"}


def test_the_slurm_commands_import_nothing_heavy(world: Cli, tmp_path: Path) -> None:
    from test_cli_entry import HEAVY

    script = tmp_path / "job.sh"
    script.write_text(HEAD + "#SBATCH -t 5 --gres=gpu:1 -p h100 --export=NONE\necho hi\n")
    probe = ("import sys\nfrom gpucloud.cli.entry import main\ncode = main(sys.argv[1:])\n"
             "import json; print(json.dumps([code, sorted(sys.modules)]), file=sys.stderr)\n")
    env = {**os.environ, "GPUCLOUD_URL": world.server.url, "GPUCLOUD_TOKEN": world.tokens["alice"]}
    for args in (["sbatch", str(script)], ["squeue"], ["scancel", "--name", "x"], ["sacct"], ["sinfo"]):
        out = subprocess.run([sys.executable, "-c", probe, *args], env=env, capture_output=True, text=True,
                             timeout=30)
        code, modules = json.loads(out.stderr.strip().splitlines()[-1])
        assert code == 0, out.stderr
        assert [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)] == [], args
