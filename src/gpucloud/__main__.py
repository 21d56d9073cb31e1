"""``python -m gpucloud``: the ``gpucloud`` command."""

from gpucloud.cli.entry import main

if __name__ == "__main__":
    raise SystemExit(main())
