"""The SDK's unit tests: transport, errors and configuration (the SDK against a real gpucloud server is in
tests/e2e/test_sdk_e2e.py)."""
