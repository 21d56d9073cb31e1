"""Jobs run as their owners' OS accounts (real accounts, created for the test): their uid, groups, HOME and USER;
log files only their owner reads; and a job can neither read the server's data directory and database nor
signal another user's job."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_rig import Rig, simple, spec, wait_for

from gpucloud.service.datadir import protect
from gpucloud.service.executors.base import LaunchError, NodeGpus
from os_users import Accounts


@pytest.fixture
def rig(accounts: Accounts) -> Iterator[Rig]:
    data = accounts.shared / f"data-{time.monotonic_ns()}"
    db = data / "gpucloud.db"
    data.mkdir()
    sqlite3.connect(db).execute("CREATE TABLE secrets (token TEXT)").connection.close()
    protect(data, f"sqlite:///{db}", jobs_as_owners=True)
    r = Rig(data)
    yield r
    r.close()


def as_user(name: str, *cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["setpriv", f"--reuid={name}", f"--regid={name}", "--init-groups", *cmd],
                          capture_output=True, text=True)


def test_a_job_runs_as_its_owner_with_their_groups_home_and_user(rig: Rig, accounts: Accounts) -> None:
    h = rig.launch(spec(Path("/"), "sh", "-c", 'id -un; id -Gn; echo "$HOME $USER $LOGNAME"; pwd',
                        cwd="", account=accounts.alice))
    assert rig.wait(h)[0].ok
    name, groups, env, cwd = rig.log("stdout.log").splitlines()
    assert name == accounts.alice and accounts.group in groups.split()
    home = str(accounts.home(accounts.alice))
    assert env == f"{home} {accounts.alice} {accounts.alice}" and cwd == home  # no working directory: HOME


def test_log_files_belong_to_the_owner_alone(rig: Rig, accounts: Accounts) -> None:
    h = rig.launch(spec(Path("/"), "sh", "-c", "echo secret-of-alice", cwd="", account=accounts.alice))
    assert rig.wait(h)[0].ok
    log = rig.job_dir() / "stdout.log"
    info = log.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (accounts.uid(accounts.alice), 0o600)
    assert as_user(accounts.alice, "cat", str(log)).stdout == "secret-of-alice\n"
    denied = as_user(accounts.bob, "cat", str(log))
    assert denied.returncode != 0 and "Permission denied" in denied.stderr
    exit_file = rig.job_dir() / "exit.1.0"  # the record of how it ended is not the owner's to forge
    assert exit_file.stat().st_uid == 0 and as_user(accounts.alice, "sh", "-c", f"echo 0 > {exit_file}").returncode


def test_a_job_cannot_read_the_data_directory_or_the_database(rig: Rig, accounts: Accounts) -> None:
    db = rig.root / "gpucloud.db"
    script = f"ls {rig.root}; echo ls=$?; cat {db} > /dev/null; echo cat=$?; ls {rig.root / 'jobs'}; echo jobs=$?"
    h = rig.launch(spec(Path("/"), "sh", "-c", script, cwd="", account=accounts.alice))
    assert rig.wait(h)[0].ok
    out = rig.log("stdout.log")
    assert "ls=2" in out and "cat=1" in out and "jobs=2" in out
    assert "Permission denied" in rig.log("stderr.log")


def test_a_job_cannot_signal_another_users_job(rig: Rig, accounts: Accounts) -> None:
    victim = rig.launch(spec(Path("/"), "sleep", "60", cwd="", account=accounts.bob, job_id="2"))
    pgid = int(victim.data["pgid.0"])
    h = rig.launch(spec(Path("/"), "sh", "-c", f"kill -TERM -{pgid}; echo kill=$?", cwd="", account=accounts.alice))
    assert rig.wait(h)[0].ok
    assert "kill=1" in rig.log("stdout.log")
    assert rig.poll(victim) is None  # bob's job runs on
    rig.ex.signal(victim, 9)  # the server's executor can
    assert rig.wait(victim)[0].exit_code == 137


def test_a_user_without_an_account_or_as_root_cannot_start(rig: Rig, accounts: Accounts) -> None:
    with pytest.raises(LaunchError, match=r"no OS account 'gpcu-nobody-here' on host"):
        rig.launch(spec(Path("/"), "true", cwd="", account="gpcu-nobody-here"))
    with pytest.raises(LaunchError, match=r"refusing to run a job as 'root' \(uid 0\)"):
        rig.launch(spec(Path("/"), "true", cwd="", account="root", job_id="2"))


def test_permission_checks_are_the_owners(rig: Rig, accounts: Accounts) -> None:
    private = accounts.shared / f"only-root-{time.monotonic_ns()}"
    private.mkdir(mode=0o700)
    tool = private / "tool"
    tool.write_text("#!/bin/sh\necho hi\n")
    tool.chmod(0o755)
    with pytest.raises(LaunchError, match="permission denied"):
        rig.launch(spec(Path("/"), str(tool), cwd="", account=accounts.alice))
    with pytest.raises(LaunchError, match=r"working directory .* permission denied"):
        rig.launch(spec(Path("/"), "true", cwd=str(private), account=accounts.alice, job_id="2"))
    h = rig.launch(spec(Path("/"), str(tool), cwd="", job_id="3"))  # the server's own account may
    assert simple(rig.wait(h)[0]) == (0, "exit code 0")
    wait_for(rig.job_dir("3") / "stdout.log", "hi")


def test_a_gang_of_one_owner_runs_as_them_on_every_rank(rig: Rig, accounts: Accounts) -> None:
    placement = (NodeGpus("a", 0, (0,)), NodeGpus("b", 1, (1,)))
    h = rig.launch(spec(Path("/"), "id", "-un", cwd="", account=accounts.alice, placement=placement))
    assert all(s.ok for s in rig.wait(h).values())
    assert rig.log("stdout.log") == rig.log("stdout.rank1.log") == f"{accounts.alice}\n"
    assert os.stat(rig.job_dir() / "stdout.rank1.log").st_uid == accounts.uid(accounts.alice)
