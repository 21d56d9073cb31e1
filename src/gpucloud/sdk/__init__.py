"""The Python SDK: :class:`~gpucloud.sdk.client.Client` (sync) and :class:`~gpucloud.sdk.aio.AsyncClient`, their
models and errors. Also importable from :mod:`gpucloud` itself (``gpucloud.Client``); see docs/sdk.md."""
