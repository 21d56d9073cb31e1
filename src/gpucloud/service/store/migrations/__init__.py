"""Alembic migrations of the gpucloud schema (run by :func:`gpucloud.service.store.migrate.upgrade_database`)."""
