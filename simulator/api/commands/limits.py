"""updateResourceLimit and listResourceLimits (per account; enforced for instances,
volumes and primary storage)."""

from __future__ import annotations

from typing import Any

from simulator.api.registry import P, api
from simulator.api.server import Request
from simulator.errors import ParamError
from simulator.models import Account
from simulator.orchestrator.limits import TYPES


def _type(req: Request, required: bool) -> int | None:
    value = req.params.number("resourcetype", required=required)
    if value is None:
        name = req.params.text("resourcetypename")
        if name is None:
            return None
        value = next((n for n, t in TYPES.items() if t == name), None)
    if value not in TYPES:
        raise ParamError("Please specify valid resource type")
    return value


@api("updateResourceLimit", "Updates resource limits for an account or domain.", admin=True,
     package="user.resource", response="resourcelimit", params=[
         P("resourcetype", "integer", True, "Type of resource to update: 0 instance, "
           "2 volume, 10 primary storage (GiB), ..."),
         P("max", "long", description="Maximum resource limit; -1 is unlimited"),
         P("account", description="Update the resource limit for this account"),
         P("domainid", "uuid", description="the domain of the account")])
def update_resource_limit(req: Request) -> dict[str, Any]:
    resource_type = _type(req, True)
    assert resource_type is not None
    if req.params.text("account") is None:
        raise ParamError("Please specify the account whose limit to update; domain and "
                         "project limits are not supported")
    account = req.owner()
    limit = req.params.number("max", default=-1)
    assert limit is not None
    row = req.manager.limits.set_limit(account, resource_type, limit)
    return {"resourcelimit": req.render.resource_limit(account.id, resource_type,
                                                       TYPES[resource_type], row.max)}


@api("listResourceLimits", "Lists resource limits.", package="user.resource",
     response="resourcelimit", params=[
         P("resourcetype", "integer"), P("resourcetypename"), P("account"),
         P("domainid", "uuid"), P("listall", "boolean"), P("page", "integer"),
         P("pagesize", "integer")])
def list_resource_limits(req: Request) -> dict[str, Any]:
    wanted = _type(req, False)
    account: Account = req.owner()
    rows = [(n, name) for n, name in TYPES.items() if wanted is None or n == wanted]
    return req.listing("resourcelimit", rows, lambda r: req.render.resource_limit(
        account.id, r[0], r[1], req.manager.limits.limit(account, r[0])))
