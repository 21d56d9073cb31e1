"""gpucloud: the open control plane that runs a GPU supercomputer as a shared AI cloud."""

__version__ = "0.1.0"
