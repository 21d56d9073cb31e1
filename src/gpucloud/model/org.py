"""Orgs (tenants) with a guaranteed quota per GPU type, a borrowing limit and a fair-share weight."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Org:
    """A tenant.

    ``quota[t]`` GPUs of type ``t`` are guaranteed (reclaimed from borrowers by preemption under the
    ``fairshare`` policy). Beyond it the org may borrow idle GPUs: up to ``borrow_limit[t]`` more, or without
    limit when ``borrow_limit`` has no entry for ``t``. A type missing from ``quota`` has quota 0.
    """

    name: str
    weight: float = 1.0
    quota: dict[str, int] = field(default_factory=dict)
    borrow_limit: dict[str, int] = field(default_factory=dict)

    def guaranteed(self, gpu_type: str) -> int:
        return self.quota.get(gpu_type, 0)

    def ceiling(self, gpu_type: str) -> int | None:
        """The most GPUs of this type the org may hold at once (``None``: no limit)."""
        limit = self.borrow_limit.get(gpu_type)
        return None if limit is None else self.guaranteed(gpu_type) + limit


def default_org(name: str) -> Org:
    """The org given to a name that a trace or a job uses but no org file defines.

    Weight 1, no guaranteed quota, and unlimited borrowing: it competes for idle capacity on equal terms.
    """
    return Org(name=name)
