"""Job dependencies as Slurm writes them: ``afterok:12:13``, ``afterany:12_3``, ``afternotok:12?afterok:14``,
``singleton`` — conditions joined by ``,`` (all must hold) or ``?`` (any one suffices).

A reference is a job id (``12``: the job, or every task of the array whose id it is) or one task of an array
(``12_3``). Kinds: ``after`` (the jobs have started, or ended without starting), ``afterany`` (they ended),
``afterok`` (they succeeded), ``afternotok`` (they ended and not all succeeded), ``aftercorr`` (each task of this
array after the task of the same index of the named array succeeded), and ``singleton`` (no other job of the same
name and user runs, or waits ahead of it). What each means for a pending job is decided by
:mod:`gpucloud.core.dependencies`.

Light on purpose (no dataclasses, no typing at run time): ``gpucloud sbatch`` checks a script's ``--dependency``
with it before anything is sent, and the server reads the same text with it. Errors name the field
``dependency``.
"""

from __future__ import annotations

from gpucloud.errors import InputError

KINDS = ("after", "afterany", "afterok", "afternotok", "aftercorr", "singleton")
#: The largest job id (the database's integer ids).
MAX_JOB_ID = 2**31 - 1
#: The most job references in one dependency, and its longest text.
MAX_REFS = 1000
MAX_CHARS = 20_000

FIELD = "dependency"


class Ref:
    """``kind`` on job ``job`` (or only on task ``task`` of the array ``job``)."""

    __slots__ = ("job", "kind", "task")

    def __init__(self, kind: str, job: int, task: int | None = None) -> None:
        self.kind = kind
        self.job = job
        self.task = task

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ref) and (self.kind, self.job, self.task) == (other.kind, other.job, other.task)

    def __hash__(self) -> int:
        return hash((self.kind, self.job, self.task))

    def __repr__(self) -> str:
        return f"Ref({self.kind!r}, {self.job}, {self.task})"

    @property
    def target(self) -> str:
        return str(self.job) if self.task is None else f"{self.job}_{self.task}"


class Dependency:
    """Parsed dependency: ``refs`` in the order written, ``any_of`` (joined by ``?``), ``singleton``."""

    __slots__ = ("any_of", "refs", "singleton")

    def __init__(self, refs: tuple[Ref, ...], any_of: bool = False, singleton: bool = False) -> None:
        self.refs = refs
        self.any_of = any_of
        self.singleton = singleton

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dependency) and (self.refs, self.any_of, self.singleton) == (
            other.refs, other.any_of, other.singleton)

    def __hash__(self) -> int:
        return hash((self.refs, self.any_of, self.singleton))

    def __repr__(self) -> str:
        return f"Dependency({self.text!r})"

    @property
    def text(self) -> str:
        """The canonical form: references of one kind in a row joined as ``kind:a:b``."""
        groups: list[tuple[str, list[str]]] = []
        for ref in self.refs:
            if groups and groups[-1][0] == ref.kind:
                groups[-1][1].append(ref.target)
            else:
                groups.append((ref.kind, [ref.target]))
        parts = [f"{kind}:{':'.join(targets)}" for kind, targets in groups]
        if self.singleton:
            parts.append("singleton")
        return ("?" if self.any_of else ",").join(parts)


def _job_ref(kind: str, text: str, whole: str) -> Ref:
    if "+" in text:
        raise InputError(FIELD, f"{kind}:{text}: a delay after the start (+minutes) is not supported", whole)
    job_text, underscore, task_text = text.partition("_")
    if not job_text.isdigit() or not 1 <= int(job_text) <= MAX_JOB_ID:
        raise InputError(FIELD, f"{kind}:{text}: {job_text!r} is not a job id", whole)
    if underscore and not task_text.isdigit():
        raise InputError(FIELD, f"{kind}:{text}: {task_text!r} is not an array task index", whole)
    return Ref(kind, int(job_text), int(task_text) if underscore else None)


def parse_dependency(text: str) -> Dependency:
    """Read ``afterok:12:13_2,singleton``; :class:`InputError` naming ``dependency`` for anything else."""
    whole = text
    text = text.strip()
    if not text:
        raise InputError(FIELD, "must name a condition, e.g. afterok:12 or singleton", whole)
    if len(text) > MAX_CHARS:
        raise InputError(FIELD, f"must be at most {MAX_CHARS} characters (it has {len(text)})")
    if "," in text and "?" in text:
        raise InputError(FIELD, "join conditions with ',' (all) or '?' (any), not both", whole)
    any_of = "?" in text
    refs: list[Ref] = []
    singleton = False
    for part in text.split("?" if any_of else ","):
        kind, _, rest = part.strip().partition(":")
        kind = kind.strip().lower()
        if kind not in KINDS:
            import difflib

            close = difflib.get_close_matches(kind, KINDS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(KINDS)})"
            raise InputError(FIELD, f"unknown kind {kind!r}{hint}", whole)
        if kind == "singleton":
            if rest.strip():
                raise InputError(FIELD, "singleton takes no job ids", whole)
            singleton = True
            continue
        targets = [t.strip() for t in rest.split(":")]
        if not rest.strip() or not all(targets):
            raise InputError(FIELD, f"{kind} needs job ids, e.g. {kind}:12 or {kind}:12:13", whole)
        refs += (_job_ref(kind, t, whole) for t in targets)
        if len(refs) > MAX_REFS:
            raise InputError(FIELD, f"must name at most {MAX_REFS} jobs", whole)
    if any_of and singleton:
        raise InputError(FIELD, "singleton cannot be one of several alternatives ('?')", whole)
    return Dependency(tuple(refs), any_of, singleton)
