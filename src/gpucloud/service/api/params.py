"""Integer path and query parameters every router shares: ids and offsets bounded to what the database can hold
(a larger number is a 422 naming the parameter, never an overflow)."""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le

#: The largest value of the database's INTEGER columns (ids) and of a SQL OFFSET: 32 bits on PostgreSQL.
MAX_DB_INT = 2**31 - 1
#: The largest byte offset into a job's log (a 64-bit column).
MAX_BYTE_OFFSET = 2**63 - 1

#: An id of a job, reservation, token, ...; also the job list's ``cursor``.
Id = Annotated[int, Ge(1), Le(MAX_DB_INT)]
#: An offset into a list read from the database.
Offset = Annotated[int, Ge(0), Le(MAX_DB_INT)]
#: A byte offset into a job's log.
ByteOffset = Annotated[int, Ge(0), Le(MAX_BYTE_OFFSET)]
