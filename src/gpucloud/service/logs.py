"""Job logs in the database, so that every rank's output is readable through the API of any server replica with
no shared filesystem: the control loop copies what each rank wrote on its host into ``job_logs`` (see
:mod:`gpucloud.service.control.logship`), the API reads it from there.

A stream (job, rank, stdout|stderr) is stored as pieces of consecutive bytes ``[offset, offset + size)``; new bytes
are appended to the last piece while it is under :data:`PIECE_BYTES`, so a chatty job makes few rows. At most
``cap`` bytes of a stream are kept; the rest stays in the file on the rank's host, and one line says so.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, LargeBinary, and_, bindparam, cast, func, insert, select, update
from sqlalchemy.orm import Session

from gpucloud.service.store.models import JobLogRow, cast_table

#: new bytes go into the stream's last piece while it is smaller than this
PIECE_BYTES = 64 * 1024
STREAMS = ("stdout", "stderr")

_TABLE = cast_table(JobLogRow)

StreamKey = tuple[int, int, str]


@dataclass(frozen=True, slots=True)
class LogChunk:
    text: str
    offset: int
    next_offset: int
    size: int


@dataclass
class StreamEnd:
    """Where a stored stream ends, and its last piece (to append to)."""

    end: int = 0
    last_offset: int = -1
    last_size: int = 0


def stored_ends(session: Session, job_ids: Sequence[int]) -> dict[StreamKey, StreamEnd]:
    """The end of every stored stream of these jobs."""
    out: dict[StreamKey, StreamEnd] = {}
    if not job_ids:
        return out
    rows = session.execute(select(_TABLE.c.job_id, _TABLE.c.rank, _TABLE.c.stream, _TABLE.c.offset, _TABLE.c.size)
                           .where(_TABLE.c.job_id.in_(list(job_ids))))
    for job_id, rank, stream, offset, size in rows:
        end = out.setdefault((job_id, rank, stream), StreamEnd())
        if offset > end.last_offset:
            end.last_offset, end.last_size, end.end = offset, size, offset + size
    return out


def append(session: Session, key: StreamKey, end: StreamEnd, offset: int, data: bytes) -> None:
    """Store ``data`` read at ``offset`` of a stream whose stored end is ``end`` (updated). Bytes before the stored
    end (read twice) are dropped; a gap (bytes that could not be read) starts a new piece."""
    if offset < end.end:
        data = data[end.end - offset:]
        offset = end.end
    if not data:
        return
    job_id, rank, stream = key
    conn = session.connection()
    if end.last_offset >= 0 and end.last_offset + end.last_size == offset and end.last_size < PIECE_BYTES:
        joined: ColumnElement[bytes] = _TABLE.c.data.op("||")(bindparam("more", type_=LargeBinary))
        if conn.dialect.name == "sqlite":  # SQLite's || answers text; the bytes are kept, typed back as a blob
            joined = cast(joined, LargeBinary)
        conn.execute(update(_TABLE).where(_key_of(job_id, rank, stream, end.last_offset))
                     .values(data=joined, size=_TABLE.c.size + len(data)), {"more": data})
        end.last_size += len(data)
    else:
        conn.execute(insert(_TABLE).values(job_id=job_id, rank=rank, stream=stream, offset=offset,
                                           size=len(data), data=data))
        end.last_offset, end.last_size = offset, len(data)
    end.end = offset + len(data)


def _key_of(job_id: int, rank: int, stream: str, offset: int) -> ColumnElement[bool]:
    return and_(_TABLE.c.job_id == job_id, _TABLE.c.rank == rank, _TABLE.c.stream == stream,
                _TABLE.c.offset == offset)


def read_log(session: Session, job_id: int, rank: int, stream: str, offset: int, limit: int) -> LogChunk:
    """Up to ``limit`` bytes of a stored stream from byte ``offset``, decoded as UTF-8 without splitting a
    character; continue from ``next_offset``. ``size`` is how much is stored so far."""
    where = and_(_TABLE.c.job_id == job_id, _TABLE.c.rank == rank, _TABLE.c.stream == stream)
    size = session.execute(select(func.max(_TABLE.c.offset + _TABLE.c.size)).where(where)).scalar() or 0
    start = min(offset, size)
    first = session.execute(select(func.max(_TABLE.c.offset)).where(where, _TABLE.c.offset <= start)).scalar()
    rows: Iterable[tuple[int, bytes]] = session.execute(
        select(_TABLE.c.offset, _TABLE.c.data).where(where, _TABLE.c.offset >= (first or 0))
        .order_by(_TABLE.c.offset)) if size > start else ()
    data = bytearray()
    for piece_offset, piece in rows:
        if piece_offset + len(piece) <= start:
            continue
        data += piece[max(0, start + len(data) - piece_offset):]
        if len(data) >= limit:
            break
    data = data[:limit]
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    text = decoder.decode(bytes(data), final=False)
    undecoded = len(decoder.getstate()[0])
    if undecoded == len(data) and data and len(data) < limit:  # a truncated character at the very end
        text, undecoded = decoder.decode(b"", final=True), 0
    return LogChunk(text, start, start + len(data) - undecoded, size)
