"""queryAsyncJobResult, listAsyncJobs."""

from __future__ import annotations

from typing import Any

from simulator.api.registry import P, api
from simulator.api.server import Request
from simulator.models import AsyncJob


@api("queryAsyncJobResult", "Retrieves the current status of asynchronous job.",
     package="user.job", response="asyncjobs",
     params=[P("jobid", "uuid", True, "the ID of the asynchronous job")])
def query_async_job_result(req: Request) -> dict[str, Any]:
    job = req.lookup(AsyncJob, "jobid")
    return req.render.job(job)


@api("listAsyncJobs", "Lists all pending asynchronous jobs for the account.",
     package="user.job", response="asyncjobs", params=[
         P("startdate", "date"), P("listall", "boolean"), P("account"), P("page", "integer"),
         P("pagesize", "integer")])
def list_async_jobs(req: Request) -> dict[str, Any]:
    items = req.visible(req.manager.store.find(AsyncJob))
    items.sort(key=lambda j: j.id, reverse=True)
    return req.listing("asyncjobs", items, req.render.job)
