"""Commands for parts of a CloudStack cloud the simulator does not model: system VMs, virtual
routers, physical networks, load balancers, ISOs, events, usage records, ...

They are declared like every other command (parameters and response object), so ``listApis``
describes them and a client generated from it (Marvin's) has them. Their answers follow from
there being none of these things:

* a list answers CloudStack's empty list, once its parameters are valid;
* a ``uuid`` parameter naming a kind of thing the simulator models (a zone, a volume, ...)
  must name one the caller may see, as for any command; one naming a kind it does not model
  names nothing, so it gets CloudStack's 431 for an ID that names nothing;
* a command that changes one of these things names it by such an ID, so it is always refused
  that way, before anything is done.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from simulator.api import schema_infra  # noqa: F401 - registers the response objects
from simulator.api.registry import P, Param, api
from simulator.api.server import Request
from simulator.errors import ParamError, invalid_uuid
from simulator.models import (
    VM,
    Account,
    Cluster,
    Domain,
    Host,
    Network,
    Pod,
    PublicIp,
    StoragePool,
    Volume,
    Zone,
)

# ``uuid`` parameters that name a kind of thing the simulator models, by their usual name.
MODELLED: dict[str, type] = {
    "zoneid": Zone, "podid": Pod, "clusterid": Cluster, "hostid": Host, "domainid": Domain,
    "accountid": Account, "networkid": Network, "volumeid": Volume, "storageid": StoragePool,
    "publicipid": PublicIp, "virtualmachineid": VM,
}
LONG_MAX = 2**63 - 1
_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")

# The parameters every list command has, and those of lists of owned resources.
PAGED = [P("keyword", description="a word to look for"),
         P("page", "integer", description="the page to show"),
         P("pagesize", "integer", description="the items in a page")]
OWNED = [P("account", description="only the resources of this account"),
         P("domainid", "uuid", description="only the resources of this domain"),
         P("isrecursive", "boolean", description="with domainid: its subdomains' too"),
         P("listall", "boolean", description="every account's resources the caller may see"),
         P("projectid", "uuid", description="only the resources of this project")]

# The commands declared here: what they answer is always empty, or a refusal.
NOTHING: set[str] = set()


def date(req: Request, name: str) -> datetime | None:
    """A ``date`` parameter, in either of CloudStack's input formats."""
    value = req.params.text(name)
    if value is None:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    raise ParamError(f"Unable to parse date {value} for command {req.api.name.lower()}, "
                     "please pass dates in the format mentioned in the api documentation")


def check(req: Request, unmodelled: Iterable[str] = (), *,
          modelled: dict[str, type] | None = None) -> None:
    """Hold every declared parameter to its type; ``uuid`` ones to what they name (by
    ``modelled``, else :data:`MODELLED`; those in ``unmodelled``, ``id`` unless ``modelled``
    names its kind, and those of a kind in neither name nothing)."""
    kinds = {**MODELLED, **(modelled or {})}
    absent = {"id", *unmodelled} - set(modelled or {})
    for param in req.api.params:
        if param.type == "boolean":
            req.params.flag(param.name)
        elif param.type == "integer":
            req.params.number(param.name)
        elif param.type == "long":
            req.params.number(param.name, maximum=LONG_MAX)
        elif param.type == "date":
            date(req, param.name)
        elif param.type == "uuid" and (value := req.params.text(param.name)) is not None:
            kind = None if param.name in absent else kinds.get(param.name)
            if kind is None:
                raise invalid_uuid(req.api.name, param.name, value)
            req.manager.lookup(kind, value, req.caller, req.api.name, param.name)
    if req.params.text("account") is not None:
        req.owner()  # an unknown account, or another's for a user, is refused
    req.params.paging()


def nothing_to_list(name: str, description: str, *, response: str, params: list[Param],
                    package: str, admin: bool = False, since: str = "") -> None:
    """Declare a list command of things the simulator does not model."""

    def handler(req: Request) -> dict[str, Any]:
        check(req)
        return req.listing(response, [], dict)

    NOTHING.add(name)
    api(name, description, admin=admin, package=package, params=params, response=response,
        since=since)(handler)


def nothing_to_change(name: str, description: str, *, target: str, response: str,
                      params: list[Param], package: str, admin: bool = False,
                      is_async: bool = False, since: str = "") -> None:
    """Declare a command that changes a thing the simulator does not model, named by the
    required ``target`` parameter: always refused, as that ID names nothing."""

    def handler(req: Request) -> dict[str, Any]:
        check(req, unmodelled=[target])  # raises: the target names nothing
        raise invalid_uuid(req.api.name, target, req.params.require(target))

    NOTHING.add(name)
    api(name, description, admin=admin, package=package, params=params, response=response,
        is_async=is_async, since=since)(handler)
