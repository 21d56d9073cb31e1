"""Real OS accounts for the run-as tests (the tests run as root: CI does). Created once per test session with
``useradd``, removed at its end; skipped when not root, a failure instead when ``GPUCLOUD_REQUIRE_ROOT`` is set."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Accounts:
    alice: str
    bob: str
    group: str
    #: a directory every account can traverse (0711), for data directories the jobs must reach
    shared: Path

    def uid(self, name: str) -> int:
        return pwd.getpwnam(name).pw_uid

    def home(self, name: str) -> Path:
        return Path(pwd.getpwnam(name).pw_dir)


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


@pytest.fixture(scope="session")
def accounts() -> Iterator[Accounts]:
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        if os.environ.get("GPUCLOUD_REQUIRE_ROOT"):
            raise RuntimeError("GPUCLOUD_REQUIRE_ROOT is set but the tests do not run as root with useradd")
        pytest.skip("run-as tests create OS accounts: they need root and useradd")
    tag = secrets.token_hex(3)
    shared = Path(tempfile.mkdtemp(prefix="gpcu-", dir="/tmp"))
    os.chmod(shared, 0o711)
    made = Accounts(f"gpcu-a{tag}", f"gpcu-b{tag}", f"gpcu-g{tag}", shared)
    _run("groupadd", made.group)
    try:
        for name in (made.alice, made.bob):
            _run("useradd", "--create-home", "--home-dir", str(shared / name), "--shell", "/bin/sh", name)
        _run("usermod", "--append", "--groups", made.group, made.alice)
        yield made
    finally:
        for name in (made.alice, made.bob):
            subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
            subprocess.run(["userdel", "--remove", name], capture_output=True)
        subprocess.run(["groupdel", made.group], capture_output=True)
        shutil.rmtree(shared, ignore_errors=True)
