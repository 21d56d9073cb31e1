"""The control loop: it reconciles running jobs with the executor, runs the scheduling core on a snapshot of
the database, and applies the decisions in short transactions (see ``docs/control-loop.md``).

Modules: :mod:`.loop` (the :class:`ControlLoop` thread), :mod:`.reconcile` (watch, signal, finish jobs),
:mod:`.schedule` (snapshot → core → admit, launch, preempt), :mod:`.recovery` (after a restart or a failover),
:mod:`.logship` (rank logs into the database), :mod:`.nodes` (hosts the executor lost or found again),
:mod:`.txn` (versions, row locks, retries, fencing), :mod:`.leader` (one loop per database, epochs).
"""

from gpucloud.service.control.loop import ControlLoop, LoopConfig, LoopStats

__all__ = ["ControlLoop", "LoopConfig", "LoopStats"]
