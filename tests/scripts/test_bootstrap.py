"""scripts/bootstrap, what ./scripts/start, ./scripts/test and CI install with: requirements.lock pins every
package that pyproject.toml asks for, and a failure stops it with a message naming the step — never hidden, and
never leaving a stamp that would skip the install next time."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_the_lock_pins_every_dependency_of_every_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    wanted |= {_name(r) for extra in project["optional-dependencies"].values() for r in extra}
    pinned = {m.group(1).lower().replace("_", "-")
              for m in re.finditer(r"^([A-Za-z0-9._-]+)==", (ROOT / "requirements.lock").read_text(), re.M)}
    missing = sorted(wanted - pinned)
    assert not missing, f"requirements.lock lacks {missing}: run scripts/lock after changing pyproject.toml"


def project_copy(tmp_path: Path) -> Path:
    """The files bootstrap reads, in a directory of their own."""
    for name in ("pyproject.toml", "requirements.lock", "README.md", "scripts/bootstrap"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    return tmp_path


def test_no_python_is_a_clear_error(tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    out = subprocess.run(["scripts/bootstrap"], cwd=root, env={"PATH": "/usr/bin:/bin", "PYTHON": "python9.9"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert out.stderr.strip() == ("bootstrap: error: no python9.9 on PATH: install Python 3.11 or newer, or set "
                                  "PYTHON=/path/to/python3")


def test_a_failed_install_stops_and_leaves_no_stamp(tmp_path: Path) -> None:
    uv = Path(sys.executable).with_name("uv")
    if not uv.exists():
        pytest.skip("uv comes with scripts/bootstrap; this environment was made without it")
    root = project_copy(tmp_path)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / ".venv")], check=True, timeout=60)
    (root / ".venv" / "bin" / "uv").symlink_to(uv)
    # offline, with an empty cache: uv cannot find a single package
    env = {"PATH": "/usr/bin:/bin", "UV_OFFLINE": "1", "UV_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    out = subprocess.run(["scripts/bootstrap", "postgres"], cwd=root, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 1, out.stderr
    lines = out.stderr.strip().splitlines()
    assert lines[0] == "bootstrap: [3/3] installing gpucloud[postgres] with the versions of requirements.lock"
    assert lines[-1] == "bootstrap: error: installing gpucloud[postgres] failed (see uv's message above)"
    assert not list((root / ".venv").glob(".gpucloud-installed-*"))
