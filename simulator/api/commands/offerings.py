"""Service and disk offerings: create, update, delete (admin). Deleting an offering marks it
removed, as CloudStack does: VMs and volumes that use it keep showing it."""

from __future__ import annotations

import time
from typing import Any

from simulator.api.registry import P, api
from simulator.api.server import Request
from simulator.errors import ParamError
from simulator.models import DiskOffering, ServiceOffering

MAX_CPUS = 256  # what a KVM host's agent defines a VM with, at most


def _positive(req: Request, name: str, default: int | None = None,
              maximum: int | None = None) -> int:
    value = req.params.number(name, required=default is None, minimum=1, default=default)
    assert value is not None
    if maximum is not None and value > maximum:
        raise ParamError(f"Unable to execute API command {req.api.name.lower()} due to invalid "
                         f"value. Value of {name} must be at most {maximum}")
    return value


@api("createServiceOffering", "Creates a service offering.", admin=True,
     package="admin.offering", response="serviceoffering", params=[
         P("name", required=True, description="the name of the offering"),
         P("displaytext", description="the display text of the offering, defaults to name"),
         P("cpunumber", "integer", description="the number of CPUs"),
         P("cpuspeed", "integer", description="the CPU speed in MHz"),
         P("memory", "integer", description="the memory in MB"),
         P("offerha", "boolean", description="the HA for the offering"),
         P("storagetype", description="the storage type: local or shared"),
         P("domainid", "list", description="the domains of the offering"),
         P("tags", description="the storage tags"),
         P("hosttags", description="the host tags a VM's host must have, comma-separated")])
def create_service_offering(req: Request) -> dict[str, Any]:
    p = req.params
    offering = ServiceOffering(
        p.require("name"), _positive(req, "cpunumber", 1, MAX_CPUS),
        _positive(req, "cpuspeed", 1000),
        _positive(req, "memory", 512), display_text=p.text("displaytext") or p.require("name"),
        offer_ha=p.flag("offerha"), tags=p.text("tags") or "",
        host_tags=",".join(p.items("hosttags")))
    return {"serviceoffering": req.render.service_offering(req.manager.store.add(offering))}


@api("updateServiceOffering", "Updates a service offering.", admin=True,
     package="admin.offering", response="serviceoffering", params=[
         P("id", "uuid", True, "the ID of the service offering to be updated"),
         P("name", description="the name of the offering"),
         P("displaytext", description="the display text of the offering")])
def update_service_offering(req: Request) -> dict[str, Any]:
    offering = req.lookup(ServiceOffering, "id", owned=False)
    offering.name = req.params.text("name") or offering.name
    offering.display_text = req.params.text("displaytext") or offering.display_text
    req.manager.store.save(offering)
    return {"serviceoffering": req.render.service_offering(offering)}


@api("deleteServiceOffering", "Deletes a service offering.", admin=True,
     package="admin.offering", response="success", params=[
         P("id", "uuid", True, "the ID of the service offering")])
def delete_service_offering(req: Request) -> dict[str, Any]:
    return _remove(req, req.lookup(ServiceOffering, "id", owned=False))


def _remove(req: Request, offering: ServiceOffering | DiskOffering) -> dict[str, Any]:
    offering.removed = time.time()
    req.manager.store.save(offering)
    return {"success": "true"}


@api("createDiskOffering", "Creates a disk offering.", admin=True, package="admin.offering",
     response="diskoffering", params=[
         P("name", required=True, description="name of the disk offering"),
         P("displaytext", description="the display text of the offering, defaults to name"),
         P("disksize", "long", description="size of the disk offering in GB"),
         P("customized", "boolean", description="whether the size is chosen by the user"),
         P("storagetype", description="the storage type: local or shared"),
         P("domainid", "list", description="the domains of the offering"),
         P("tags", description="the storage tags")])
def create_disk_offering(req: Request) -> dict[str, Any]:
    p = req.params
    customized = p.flag("customized")
    size = p.number("disksize", minimum=1)
    if customized and size is not None:
        raise ParamError("Disksize is not allowed for a customized disk offering")
    if not customized and size is None:
        raise ParamError("Disksize is required for a non-customized disk offering")
    offering = DiskOffering(p.require("name"), 0 if customized else size or 0,
                            display_text=p.text("displaytext") or p.require("name"),
                            tags=p.text("tags") or "")
    return {"diskoffering": req.render.disk_offering(req.manager.store.add(offering))}


@api("deleteDiskOffering", "Deletes a disk offering.", admin=True, package="admin.offering",
     response="success",
     params=[P("id", "uuid", True, "ID of the disk offering")])
def delete_disk_offering(req: Request) -> dict[str, Any]:
    return _remove(req, req.lookup(DiskOffering, "id", owned=False))
