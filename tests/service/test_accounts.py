"""The run-as rule from the server's settings: modes, the table file, and clear errors naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpucloud.errors import InputError
from gpucloud.service.accounts import NoAccount, load_run_as


def test_modes_map_users_to_accounts(tmp_path: Path) -> None:
    assert load_run_as("server").account("alice") is None
    assert load_run_as("same-name").account("alice") == "alice"
    table = tmp_path / "accounts.yaml"
    table.write_text("alice: a.smith\nbob: bjones\n")
    rule = load_run_as("table", str(table))
    assert (rule.account("alice"), rule.account("bob"), rule.mapping) == ("a.smith", "bjones", True)
    with pytest.raises(NoAccount, match="user 'carol' has no OS account in the run-as table"):
        rule.account("carol")
    with pytest.raises(NoAccount, match="not a valid OS account name"):
        load_run_as("same-name").account("../etc")


@pytest.mark.parametrize(("mode", "content", "field", "message"), [
    ("sudo", None, "run_as", "must be one of server, same-name, table"),
    ("table", None, "run_as_table", "needs a table file"),
    ("table", "- alice\n- bob\n", "run_as_table", "must map gpucloud user names"),
    ("table", "alice: [1, 2]\n", "run_as_table.alice", "valid OS account name"),
    ("table", "alice: 'rm -rf /'\n", "run_as_table.alice", "valid OS account name"),
    ("table", "alice: [\n", "run_as_table", "not valid YAML"),
    ("same-name", "alice: a\n", "run_as_table", "only used with --run-as table"),
])
def test_bad_settings_name_the_field(tmp_path: Path, mode: str, content: str | None, field: str, message: str) -> None:
    path = ""
    if content is not None:
        (tmp_path / "t.yaml").write_text(content)
        path = str(tmp_path / "t.yaml")
    with pytest.raises(InputError) as err:
        load_run_as(mode, path)
    assert err.value.field == field and message in str(err.value)
