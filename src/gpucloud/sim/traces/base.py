"""What every trace reader returns, the error it raises, and the shared CSV helpers.

A trace is a list of :class:`TraceJob`: the :class:`~gpucloud.model.job.JobSpec` a user would have submitted
plus the job's true run time (``duration``, seconds on a GPU of speed 1.0), which only the simulator knows.

Walltime estimate: a trace that has no walltime column gets ``walltime = max(60, duration * walltime_factor)``
(``walltime_factor`` defaults to 2.0 and is a parameter of every reader): users ask for more time than they
need, and the scheduler must never see a walltime of 0, even for a job whose recorded duration is 0.

Every reader sorts jobs by (submit time, order in the file) and shifts submit times so that the earliest job
submits at 0. Every bad row raises :class:`TraceError` naming the file, the 1-based line (header = line 1) and
the column; rows left out on purpose (e.g. CPU-only pods) are counted in :attr:`Trace.skipped`.
"""

from __future__ import annotations

import csv
import gc
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from gpucloud.errors import InputError
from gpucloud.model.job import JobSpec
from gpucloud.sim.traces.batch_columns import Batch

#: The default ratio of requested walltime to true duration when a trace has no walltime.
DEFAULT_WALLTIME_FACTOR = 2.0
#: The shortest walltime an estimate gives (seconds).
MIN_WALLTIME = 60.0


@dataclass(frozen=True, slots=True)
class TraceJob:
    """A job of a trace: what was asked for (``spec``) and how long it really ran on a speed-1.0 GPU; ``batch``:
    its array and what it waits for (:mod:`.batch_columns`), when the trace says."""

    spec: JobSpec
    duration: float
    batch: Batch | None = None


@dataclass
class Trace:
    """The jobs of one trace file.

    ``jobs`` sorted by (submit time, order in the file), the earliest at 0; ``orgs`` in the order they first
    appear in the file; ``source`` the path read; ``fmt`` the format (``philly``, ``alibaba``, ``csv``);
    ``skipped`` reason → number of rows left out on purpose; ``adjusted`` what → number of jobs changed to fit
    the model (e.g. fractional GPUs rounded up to whole ones).
    """

    jobs: list[TraceJob]
    orgs: list[str]
    source: str
    skipped: dict[str, int] = field(default_factory=dict)
    fmt: str = ""
    adjusted: dict[str, int] = field(default_factory=dict)
    #: the raw submit time that trace time 0 stands for (UTC epoch seconds for dated traces such as Philly)
    t0: float = 0.0

    def __len__(self) -> int:
        return len(self.jobs)

    @property
    def total_gpu_seconds(self) -> float:
        """The sum of ``num_gpus × duration`` over all jobs (GPU-seconds at speed 1.0)."""
        return sum(j.spec.num_gpus * j.duration for j in self.jobs)


class TraceError(InputError):
    """A bad trace file: ``file:line: column NAME: what is wrong (got 'value')``."""

    def __init__(
        self, file: str, line: int | None, column: str | None, message: str, value: object = None
    ) -> None:
        self.file = file
        self.line = line
        self.column = column
        if column:
            label = f"column {column}"
        elif line == 1:
            label = "header"
        else:
            label = "row" if line else "file"
        where = f"{file}:{line}" if line else file
        super().__init__(label, message, value, where=where)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a reader builds many small acyclic objects.

    Reading the 82,247-job Philly trace spends about 40% of its time in needless collections otherwise.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def check_walltime_factor(factor: float) -> float:
    if not isinstance(factor, int | float) or not math.isfinite(factor) or factor <= 0:
        raise InputError("walltime_factor", "must be a positive number", factor)
    return float(factor)


def estimate_walltime(duration: float, factor: float) -> float:
    """``max(60, duration * factor)``: the walltime a user would have asked for."""
    return max(MIN_WALLTIME, duration * factor)


class CsvFile:
    """An open CSV trace: its header, the index of each column, and row iteration with line numbers."""

    def __init__(self, path: str | Path, stream: TextIO) -> None:
        self.name = str(path)
        self._stream = stream
        self._reader = csv.reader(stream)
        try:
            header = next(self._reader)
        except StopIteration:
            raise TraceError(self.name, 1, None, "file is empty; expected a header line") from None
        except csv.Error as exc:
            raise TraceError(self.name, 1, None, f"not valid CSV: {exc}") from None
        self.header = [h.strip() for h in header]
        if not any(self.header):
            raise TraceError(self.name, 1, None, "the first line must be a header with column names")
        self.index: dict[str, int] = {}
        for i, h in enumerate(self.header):
            if not h:
                raise TraceError(self.name, 1, f"#{i + 1}", "empty column name in the header")
            if h in self.index:
                raise TraceError(self.name, 1, h, "column appears twice in the header")
            self.index[h] = i

    def require(self, columns: Sequence[str], fmt: str) -> None:
        """Raise a :class:`TraceError` on line 1 naming the first of ``columns`` that the header lacks."""
        for c in columns:
            if c not in self.index:
                raise TraceError(
                    self.name, 1, c, f"missing from the header; a {fmt} trace needs {', '.join(columns)}"
                )

    @property
    def reader(self) -> Iterator[list[str]]:
        """The raw rows after the header; check each with :meth:`check_width` and see :attr:`line_num`.

        For readers that must be fast; the others use :meth:`rows`.
        """
        return self._reader

    @property
    def line_num(self) -> int:
        """The line number of the last row read (1-based, as in the file)."""
        return self._reader.line_num

    def check_width(self, row: list[str]) -> None:
        """Return for a blank row (to be skipped); raise :class:`TraceError` for a row of the wrong width."""
        if not row:
            return
        n = len(self.header)
        line = self._reader.line_num
        if len(row) < n:
            raise TraceError(
                self.name, line, self.header[len(row)], f"missing: the row has {len(row)} fields, the header has {n}"
            )
        raise TraceError(self.name, line, f"#{n + 1}", f"unexpected extra field: the header has {n} columns", row[n])

    def csv_error(self, exc: csv.Error | UnicodeDecodeError) -> TraceError:
        """The :class:`TraceError` for a line that is not CSV or not UTF-8 text."""
        if isinstance(exc, UnicodeDecodeError):  # decoded in blocks: the line is not known
            return not_utf8(self.name, exc)
        return TraceError(self.name, self._reader.line_num, None, f"not valid CSV: {exc}")

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Yield ``(line number, fields)`` of each row; blank lines (e.g. the file's last) are skipped."""
        n = len(self.header)
        reader = self._reader
        try:
            for row in reader:
                if len(row) != n:
                    self.check_width(row)
                    continue
                yield reader.line_num, row
        except (csv.Error, UnicodeDecodeError) as exc:
            raise self.csv_error(exc) from None


def not_utf8(name: str, exc: UnicodeDecodeError) -> TraceError:
    return TraceError(name, None, None, f"not UTF-8 text ({exc.reason}); save the file as UTF-8")


def open_csv(path: str | Path) -> tuple[TextIO, CsvFile]:
    """Open ``path`` as a CSV trace (UTF-8, an optional BOM); errors name the file."""
    name = str(path)
    try:
        stream = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise TraceError(name, None, None, f"cannot read: {exc.strerror}") from None
    try:
        return stream, CsvFile(name, stream)
    except UnicodeDecodeError as exc:
        stream.close()
        raise not_utf8(name, exc) from None
    except BaseException:
        stream.close()
        raise


# --- field parsers: each raises TraceError naming file, line and column -------------------------------------


def parse_float(file: str, line: int, column: str, text: str, *, minimum: float | None = 0.0) -> float:
    """A finite number, at least ``minimum`` (None: no bound)."""
    try:
        value = float(text)
    except ValueError:
        raise TraceError(file, line, column, "must be a number", text) from None
    if not math.isfinite(value):
        raise TraceError(file, line, column, "must be a finite number", text)
    if minimum is not None and value < minimum:
        what = "must not be negative" if minimum == 0 else f"must be at least {minimum:g}"
        raise TraceError(file, line, column, what, text)
    return value


def parse_int(file: str, line: int, column: str, text: str, *, minimum: int | None = None) -> int:
    """A whole number (``8`` or ``8.0``), at least ``minimum`` (None: no bound)."""
    what = {None: "must be an integer", 0: "must be a non-negative integer", 1: "must be a positive integer"}.get(
        minimum, f"must be an integer of at least {minimum}"
    )
    try:
        value = int(text)
    except ValueError:
        try:
            f = float(text)
        except ValueError:
            raise TraceError(file, line, column, what, text) from None
        if not math.isfinite(f) or f != int(f):
            raise TraceError(file, line, column, what, text) from None
        value = int(f)
    if minimum is not None and value < minimum:
        raise TraceError(file, line, column, what, text)
    return value


_TRUE = frozenset({"true", "1", "yes", "y"})
_FALSE = frozenset({"false", "0", "no", "n"})


def parse_bool(file: str, line: int, column: str, text: str) -> bool:
    t = text.strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise TraceError(file, line, column, "must be true/false, yes/no or 1/0", text)


def spec_error(file: str, line: int, exc: InputError, columns: dict[str, str] | None = None) -> TraceError:
    """Turn a :class:`JobSpec` validation error into a :class:`TraceError` at ``file:line``.

    ``columns`` maps a JobSpec field name to the trace column it came from (e.g. ``num_gpus`` → ``num_gpu``).
    """
    column = (columns or {}).get(exc.field, exc.field)
    return TraceError(file, line, column, exc.reason, exc.value)


#: One job before sorting: (absolute submit time, line, id, org, num_gpus, walltime, duration, gpu_type,
#: nodes, priority, preemptible, grace).
RawJob = tuple[float, int, str, str, int, float, float, "str | None", "int | None", int, bool, float]


def build_trace(
    raw: list[RawJob],
    orgs: list[str],
    source: str,
    fmt: str,
    skipped: dict[str, int],
    adjusted: dict[str, int] | None = None,
    columns: dict[str, str] | None = None,
) -> Trace:
    """Sort ``raw`` by (submit time, line), shift the earliest submit to 0 and build the trace's jobs.

    A :class:`JobSpec` that rejects its values raises :class:`TraceError` at the row's line.
    """
    raw.sort()  # (submit, line, ...): lines are unique, so the comparison never looks further
    t0 = raw[0][0] if raw else 0.0
    jobs: list[TraceJob] = []
    append = jobs.append
    spec_cls, job_cls = JobSpec, TraceJob
    try:
        for submit, _line, jid, org, gpus, wall, dur, gtype, nodes, prio, pre, grace in raw:
            append(job_cls(spec_cls(jid, org, gpus, submit - t0, wall, gtype, nodes, prio, pre, grace), dur))
    except InputError as exc:
        raise spec_error(source, raw[len(jobs)][1], exc, columns) from None
    return Trace(jobs, orgs, source, dict(skipped), fmt, dict(adjusted or {}), t0)
