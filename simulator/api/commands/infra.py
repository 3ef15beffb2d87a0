"""The world: zones, hosts, templates, service and disk offerings."""

from __future__ import annotations

from typing import Any

from simulator.api.registry import P, api
from simulator.api.server import Request
from simulator.models import DiskOffering, Host, ServiceOffering, Template, Zone


def _by_id(req: Request, items: list[Any]) -> list[Any]:
    if wanted := req.params.text("id"):
        items = [i for i in items if i.uuid == wanted]
    if name := req.params.text("name"):
        items = [i for i in items if i.name == name]
    return items


@api("listZones", "Lists zones", package="user.zone", response="zone",
     params=[P("id", "uuid"), P("name"), P("available", "boolean")])
def list_zones(req: Request) -> dict[str, Any]:
    return req.listing("zone", _by_id(req, req.manager.store.find(Zone)), req.render.zone)


@api("listHosts", "Lists hosts.", admin=True, package="admin.host", response="host",
     params=[P("id", "uuid"), P("name"), P("zoneid", "uuid"), P("type")])
def list_hosts(req: Request) -> dict[str, Any]:
    return req.listing("host", _by_id(req, req.manager.store.find(Host)), req.render.host)


@api("listTemplates", "List all public, private, and privileged templates.",
     package="user.template", response="template", params=[
         P("templatefilter", required=True), P("id", "uuid"), P("name"), P("zoneid", "uuid")])
def list_templates(req: Request) -> dict[str, Any]:
    req.params.require("templatefilter")
    items = _by_id(req, req.manager.store.find(Template))
    if zone := req.params.text("zoneid"):
        z = req.manager.store.by_uuid(Zone, zone)
        items = [t for t in items if z and t.zone_id == z.id]
    return req.listing("template", items, req.render.template)


@api("listServiceOfferings", "Lists all available service offerings.",
     package="user.offering", response="serviceoffering",
     params=[P("id", "uuid"), P("name"), P("virtualmachineid", "uuid")])
def list_service_offerings(req: Request) -> dict[str, Any]:
    items = _by_id(req, req.manager.store.find(ServiceOffering))
    return req.listing("serviceoffering", items, req.render.service_offering)


@api("listDiskOfferings", "Lists all available disk offerings.", package="user.offering",
     response="diskoffering", params=[P("id", "uuid"), P("name")])
def list_disk_offerings(req: Request) -> dict[str, Any]:
    items = _by_id(req, req.manager.store.find(DiskOffering))
    return req.listing("diskoffering", items, req.render.disk_offering)
