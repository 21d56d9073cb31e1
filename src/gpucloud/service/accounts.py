"""Which OS account a job runs as: the mapping from gpucloud users to accounts on the hosts (``--run-as``).

- ``server`` (the default, for one person's machine): jobs run as the server's own account.
- ``same-name``: a job of gpucloud user ``alice`` runs as the OS account ``alice``.
- ``table``: an explicit table (``--run-as-table FILE``, YAML or JSON: ``{gpucloud user: OS account}``); a user
  missing from it cannot start jobs.

The host that starts a rank looks the account up (its uid, groups and home there) and refuses a missing account or
uid 0; the keeper drops privileges before the job's program runs (``service/executors/launcherd.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from gpucloud.errors import InputError

MODES = ("server", "same-name", "table")
#: what an OS account name may look like (the useradd convention; no path or shell characters)
ACCOUNT_NAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}\$?$")


class NoAccount(Exception):
    """The job's user has no OS account to run as; the message says why."""


@dataclass(frozen=True)
class RunAs:
    mode: str = "server"
    table: dict[str, str] = field(default_factory=dict)
    source: str = ""

    @property
    def mapping(self) -> bool:
        """True when jobs run as their owners' accounts (not the server's)."""
        return self.mode != "server"

    def account(self, user: str) -> str | None:
        """The OS account for gpucloud user ``user`` (``None``: the server's own); :class:`NoAccount` if none."""
        if self.mode == "server":
            return None
        name = user if self.mode == "same-name" else self.table.get(user)
        if name is None:
            raise NoAccount(f"user {user!r} has no OS account in the run-as table {self.source}")
        if not ACCOUNT_NAME.match(name):
            raise NoAccount(f"user {user!r} cannot run jobs: {name!r} is not a valid OS account name")
        return name


def load_run_as(mode: str, table_file: str = "") -> RunAs:
    """The run-as rule from the server's settings; :class:`InputError` naming the setting if it is wrong."""
    if mode not in MODES:
        raise InputError("run_as", f"must be one of {', '.join(MODES)}", mode)
    if mode != "table":
        if table_file:
            raise InputError("run_as_table", "is only used with --run-as table", table_file)
        return RunAs(mode)
    if not table_file:
        raise InputError("run_as_table", "--run-as table needs a table file (--run-as-table FILE)", table_file)
    try:
        data = yaml.safe_load(Path(table_file).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError("run_as_table", f"cannot read the file: {exc.strerror or exc}", table_file) from None
    except yaml.YAMLError as exc:
        raise InputError("run_as_table", f"not valid YAML or JSON: {exc}", table_file) from None
    if not isinstance(data, dict):
        raise InputError("run_as_table", "must map gpucloud user names to OS account names", table_file)
    table: dict[str, str] = {}
    for user, account in data.items():
        if not isinstance(user, str) or not isinstance(account, str) or not ACCOUNT_NAME.match(account):
            raise InputError(f"run_as_table.{user}", "must be a valid OS account name", account)
        table[user] = account
    return RunAs(mode, table, table_file)
