"""Fixtures shared by every test directory: real OS accounts for the run-as tests (``os_users.py``)."""

from __future__ import annotations

from os_users import accounts

__all__ = ["accounts"]
