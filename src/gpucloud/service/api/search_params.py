"""The query parameters that narrow the job list and the queue (``?org=&user=&project=&gpu_type=&reason=&q=
&submitted_after=&submitted_before=&array=``), read once for both routers."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Query

from gpucloud.model.job import JobState
from gpucloud.service.api.params import Id
from gpucloud.service.job_search import Filters
from gpucloud.times import time_input


class SearchFilters:
    """A FastAPI dependency (``Annotated[SearchFilters, Depends()]``): the filters of a request."""

    def __init__(
        self,
        org: str | None = Query(default=None, min_length=1, max_length=100),
        user: str | None = Query(default=None, min_length=1, max_length=100),
        project: str | None = Query(default=None, min_length=1, max_length=100),
        gpu_type: str | None = Query(default=None, min_length=1, max_length=100),
        reason: str | None = Query(default=None, max_length=200, description="a part of the reason, any case"),
        q: str | None = Query(default=None, max_length=200, description="a part of the name (any case) or a job id"),
        submitted_after: str | None = Query(default=None, max_length=40,
                                            description="epoch seconds, a date or an ISO 8601 date-time"),
        submitted_before: str | None = Query(default=None, max_length=40),
        array: Id | None = Query(default=None, description="the tasks of this job array (its id)"),
    ) -> None:
        self.org, self.user, self.project, self.gpu_type = org, user, project, gpu_type
        self.reason, self.text = reason or None, (q or "").strip() or None
        self.after = None if submitted_after is None else time_input("submitted_after", submitted_after)
        self.before = None if submitted_before is None else time_input("submitted_before", submitted_before)
        self.array = array

    def of(self, states: Sequence[JobState] = ()) -> Filters:
        return Filters(states=tuple(states), org=self.org, user=self.user, project=self.project,
                       gpu_type=self.gpu_type, reason=self.reason, text=self.text, submitted_after=self.after,
                       submitted_before=self.before, array=self.array)
