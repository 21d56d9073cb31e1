"""Budget files for a replay: org → starting points, as YAML or CSV, validated with errors naming the field.

YAML (any name but ``*.csv``)::

    budgets:
      uni-a: 1000        # points; at most 4 decimals, read exactly (0.1 is 0.1)
      lab-c: "12.5"      # quoting is allowed

CSV (``*.csv``): a header ``org,points`` and one row per org. An org may appear once. Given the trace's orgs,
every org named must be one of them ("did you mean" otherwise); orgs left out have no budget limit.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from gpucloud.errors import InputError, UnknownNameError
from gpucloud.model.validation import read_yaml
from gpucloud.money.points import QUANTUM

CSV_COLUMNS = ("org", "points")
_RULE = "must be a non-negative number of points with at most 4 decimals"


def parse_points(value: Any, field: str, where: str) -> Decimal:
    """A budget amount as exact Decimal points; :class:`InputError` names ``field`` and the value."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise InputError(field, _RULE, value, where=where)
    try:
        if isinstance(value, float):
            amount = Decimal(repr(value))
        else:
            amount = Decimal(value.strip() if isinstance(value, str) else value)
        if not amount.is_finite() or amount < 0 or amount != amount.quantize(QUANTUM):
            raise InputError(field, _RULE, value, where=where)
        return amount.quantize(QUANTUM)
    except InvalidOperation:  # not a number, or too large to hold 4 decimals
        raise InputError(field, _RULE, value, where=where) from None


def _check_org(org: str, field: str, orgs: Sequence[str] | None, where: str) -> None:
    if not org:
        raise InputError(field, "an org name is needed", org, where=where)
    if orgs is not None and org not in orgs:
        raise InputError(field, UnknownNameError("org", org, list(orgs)).message + " in the trace", where=where)


def budgets_from_dict(data: Any, orgs: Sequence[str] | None = None, where: str = "budgets") -> dict[str, Decimal]:
    """``{"budgets": {org: points}}`` → org → Decimal points."""
    if data is None:
        raise InputError("budgets", "the file is empty; expected a mapping 'budgets: {org: points}'", where=where)
    if not isinstance(data, dict):
        raise InputError("budgets", "must be a mapping 'budgets: {org: points}'", type(data).__name__, where=where)
    extra = sorted(str(k) for k in data if k != "budgets")
    if extra:
        raise InputError(extra[0], "unknown key; the file holds one mapping 'budgets: {org: points}'", where=where)
    table = data.get("budgets")
    if not isinstance(table, dict):
        got = None if table is None else type(table).__name__
        raise InputError("budgets", "must be a mapping of org to points", got, where=where)
    out: dict[str, Decimal] = {}
    for org, value in table.items():
        field = f"budgets.{org}"
        _check_org(str(org), field, orgs, where)
        out[str(org)] = parse_points(value, field, where)
    return out


def _read_csv(path: Path, orgs: Sequence[str] | None) -> dict[str, Decimal]:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError("budgets", f"cannot read file: {exc.strerror}", name) from None
    except UnicodeDecodeError:
        raise InputError("budgets", "not UTF-8 text", where=name) from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or [h.strip() for h in rows[0]] != list(CSV_COLUMNS):
        got = ",".join(rows[0]) if rows else ""
        raise InputError("header", f"must be {','.join(CSV_COLUMNS)}", got, where=f"{name}:1")
    out: dict[str, Decimal] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not row or not any(c.strip() for c in row):
            continue
        where = f"{name}:{line}"
        if len(row) != len(CSV_COLUMNS):
            raise InputError("row", f"must have {len(CSV_COLUMNS)} fields (org,points)", ",".join(row), where=where)
        org = row[0].strip()
        _check_org(org, "org", orgs, where)
        if org in out:
            raise InputError("org", "appears twice in the file", org, where=where)
        out[org] = parse_points(row[1], "points", where)
    return out


def load_budgets(path: str | Path, orgs: Sequence[str] | None = None) -> dict[str, Decimal]:
    """Load a budgets file (YAML, or CSV when it ends in ``.csv``); errors name the file, field and value."""
    p = Path(path)
    if p.suffix.lower() == ".csv":
        return _read_csv(p, orgs)
    return budgets_from_dict(read_yaml(p, "budgets"), orgs, where=str(p))
