"""Hosts the executor lost or found again: a lost host's cluster node is marked down (no new job starts there),
with the executor's reason for the operator to see; when the host is back, the node comes up by itself. A node an
operator marked down stays down until an operator brings it up."""

from __future__ import annotations

from collections.abc import Mapping, Set

from sqlalchemy.orm import Session

from gpucloud.service.store.models import NodeStateRow

#: ``node_states.by_user`` of a node the executor marked down
BY_EXECUTOR = "executor"


def apply_node_events(session: Session, down: Mapping[str, str], up: Set[str], now: float) -> bool:
    """Mark ``down`` nodes down and bring ``up`` nodes up (those the executor had marked); True if anything
    changed."""
    changed = False
    for node, why in down.items():
        row = session.get(NodeStateRow, node)
        if row is None:
            session.add(NodeStateRow(node=node, state="down", reason=why, at=now, by_user=BY_EXECUTOR))
            changed = True
        elif row.by_user == BY_EXECUTOR and row.reason != why:
            row.reason, row.at = why, now
            changed = True
    for node in up:
        row = session.get(NodeStateRow, node)
        if row is not None and row.by_user == BY_EXECUTOR:
            session.delete(row)
            changed = True
    return changed
