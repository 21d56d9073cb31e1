"""``gpucloud sbatch``: submit a Slurm batch script as a gpucloud job (see docs/slurm.md).

The script's ``#SBATCH`` and ``#GPUCLOUD`` directives, the ``SBATCH_*`` variables and the options on the command
line (in that order of precedence, as in Slurm) are read by :mod:`.sbatch_script` and :mod:`.sbatch_options`,
turned into the job by :mod:`.sbatch_translate`, and sent with the SDK's client. Every problem points at its
source (``train.sh:4: --gres=gpu:x: ...``) — the server's refusals too, whose fields are traced back to the option
that set them.
"""

from __future__ import annotations

import json
import os
import sys
import time

from gpucloud.cli.command import JSON, Arg, Group, Namespace
from gpucloud.cli.output import echo, print_json
from gpucloud.cli.sbatch_options import Given, Options, from_environment, parse_words
from gpucloud.cli.sbatch_script import read_script
from gpucloud.cli.sbatch_translate import Translation, translate
from gpucloud.errors import InputError
from gpucloud.sdk.calls import MAX_PAGE, new_idempotency_key
from gpucloud.sdk.client import Client
from gpucloud.sdk.errors import ApiError

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from typing import Any

commands = Group()

ENDED = ("succeeded", "failed", "cancelled", "timed_out")


@commands.command(
    "sbatch",
    JSON,
    Arg("--test-only", action="store_true", help="Check the script and print the job it would be; submit nothing."),
    Arg("--parsable", action="store_true", help="Print only the job id."),
    Arg("--wait", "-W", action="store_true", help="Wait for the job to end; exit with its exit code."),
    raw=True,
    epilog="usage: gpucloud sbatch [SBATCH OPTIONS...] SCRIPT [ARGS...]\n"
           "example: gpucloud sbatch --time=2:00:00 --gres=gpu:h100:4 train.sh --epochs 3",
)
def sbatch(a: Namespace) -> None:
    """Submit a Slurm batch script as a gpucloud job.

    The script's #SBATCH directives, SBATCH_* variables and sbatch's options before the script's name set the
    job (the command line wins); #GPUCLOUD lines take gpucloud's own options (--service-class, --reservation,
    --preemptible, --priority, --grace, --gpu-type). Options gpucloud cannot honour stop the submission with the
    line that gave them; those it accepts without enforcing (--mem, --mail-type, ...) are noted on stderr. The
    script runs on every node of the job with the SLURM_* variables set; its output goes to the job's logs and to
    --output (default slurm-%j.out). See docs/slurm.md."""
    words = a.words[1:] if a.words[:1] == ["--"] else list(a.words)
    given, start = parse_words(words, "command line", stop_at_operand=True)
    opts = Options(given)
    as_json = opts.has("json")
    script = read_script(*_script_text(opts, words[start:start + 1]))
    opts = Options([*script.options, *from_environment(dict(os.environ)), *given])
    t = translate(script, opts, words[start + 1:], cwd=os.getcwd(), shell=dict(os.environ))
    t.notes[:0] = script.warnings
    with Client() as client:
        if t.partition is not None:
            _partition(client, t)
        if t.test_only:
            _notes(t)
            if as_json:
                print_json(t.body)
            else:
                echo(f"sbatch: would submit: {_summary(t.body)}", err=True)
            return
        t.body["idempotency_key"] = new_idempotency_key("sbatch")
        try:
            job = client.post("/jobs", t.body, retries=1)
        except ApiError as err:
            raise _pointed(err, t, script.name) from None
        _notes(t)
        if as_json:
            print_json(job)
        elif t.parsable:
            echo(str(job["id"]))
        else:
            echo(f"Submitted batch job {job['id']}")
        if t.wait:
            code = _wait(client, job)
            if code:
                raise SystemExit(code)


def _script_text(opts: Options, names: list[str]) -> tuple[str, str]:
    """The script (``--wrap``, the named file, or stdin) and its name."""
    wrap = opts.value("wrap")
    if wrap is not None:
        if names:
            raise InputError("--wrap", "give a command to wrap or a script, not both", names[0])
        return f"#!/bin/sh\n# This script was created by gpucloud sbatch --wrap.\n\n{wrap}\n", "wrap"
    if names:
        with open(names[0], encoding="utf-8", errors="surrogateescape") as f:
            return f.read(), names[0]
    if sys.stdin.isatty():
        raise InputError("SCRIPT", "give the batch script to submit, e.g. gpucloud sbatch train.sh")
    return sys.stdin.read(), "sbatch"


def _partition(client: Client, t: Translation) -> None:
    """``--partition`` names a GPU type of the cluster (``h100`` is ``H100-80GB``); any other name is noted and
    the job may run on any type (a GPU type given with ``--gres`` stays)."""
    g = t.partition
    assert g is not None
    names = [str(x["name"]) for x in client.get("/cluster/gpu-types")]
    wanted = (g.value or "").split(",")[0].strip()
    found = [n for n in names if n.lower() == wanted.lower() or n.split("-")[0].lower() == wanted.lower()]
    if len(found) == 1:
        given_type = t.body.get("gpu_type")
        if given_type is not None and found[0].split("-")[0].lower() != str(given_type).split("-")[0].lower():
            raise g.error(f"partition {found[0]} disagrees with the GPU type {given_type!r}")
        t.set("gpu_type", found[0], g)
    else:
        t.notes.append(f"{g.origin}: {g.written}: not a GPU type of this cluster ({', '.join(names)}): "
                       + ("the GPU type comes from --gres" if "gpu_type" in t.body else "the job may run on any of "
                          "them"))


def _notes(t: Translation) -> None:
    """What is accepted but not enforced, and lines that look like directives but are not read (on stderr)."""
    if not t.quiet:
        for line in t.notes:
            echo(f"sbatch: note: {line}", err=True)


def _summary(body: dict[str, Any]) -> str:
    shown = {k: v for k, v in body.items() if k not in ("argv", "env")}
    return json.dumps(shown, ensure_ascii=False)


def _pointed(err: ApiError, t: Translation, script: str) -> InputError | ApiError:
    """A 422 with the option that set the refused field: ``train.sh:4: --gres=gpu:x: gpu_type: ...``."""
    if err.status != 422 or not isinstance(err.detail, list) or not err.detail:
        return err
    first = err.detail[0]
    field = str(first.get("field", ""))
    origin: Given | None = t.origins.get(field.split(".")[0].split("[")[0])
    message = f"{field}: {first.get('message', '')}"
    if field.startswith("argv"):
        return InputError("script", f"too large for the server: {message}", where=script)
    if field.startswith("env"):
        hint = " (use --export=NONE, or --export=VAR1,VAR2 to carry only those)"
        where = origin.origin if origin is not None else "--export=ALL (the default)"
        return InputError("--export", message + hint, where=where)
    if origin is None:
        return err
    return InputError(origin.written, message, where=origin.origin)


def _wait(client: Client, job: dict[str, Any]) -> int:
    """Wait until the job (every task of an array) has ended; the exit code sbatch --wait gives: the largest."""
    while True:
        if job.get("array_job_id"):
            tasks = []
            for page in client.job_pages(array=job["array_job_id"], page_size=MAX_PAGE):
                tasks += page["items"]
        else:
            tasks = [client.get(f"/jobs/{job['id']}")]
        if all(j["state"] in ENDED for j in tasks):
            return max(0 if j["state"] == "succeeded" else (j.get("exit_code") or 1) for j in tasks)
        time.sleep(1.0)
