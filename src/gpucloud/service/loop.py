"""The control loop of the server; the implementation lives in :mod:`gpucloud.service.control`."""

from gpucloud.service.control import ControlLoop, LoopConfig, LoopStats

__all__ = ["ControlLoop", "LoopConfig", "LoopStats"]
