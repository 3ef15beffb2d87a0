"""The world: zones, hosts and their capabilities, templates, service and disk offerings."""

from __future__ import annotations

import time
import urllib.parse
from typing import Any

from simulator.api.registry import P, api
from simulator.api.server import Request
from simulator.api.unmodelled import check
from simulator.errors import ParamError, PermissionDenied
from simulator.models import (
    VM,
    Cluster,
    DiskOffering,
    Host,
    HypervisorCapabilities,
    OsType,
    Pod,
    ServiceOffering,
    StoragePool,
    Template,
    Zone,
)


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


def _placed(req: Request, items: list[Any], *scopes: tuple[str, type, str]) -> list[Any]:
    """``items`` in the zone, pod or cluster the request names (an unknown id: none)."""
    for param, cls, attr in scopes:
        if wanted := req.params.text(param):
            found = req.manager.store.by_uuid(cls, wanted)
            items = [i for i in items if found is not None and getattr(i, attr) == found.id]
    return items


@api("listHosts", "Lists hosts.", admin=True, package="admin.host", response="host",
     params=[P("id", "uuid"), P("name"), P("zoneid", "uuid"), P("podid", "uuid"),
             P("clusterid", "uuid"), P("type"), P("state"), P("virtualmachineid", "uuid")])
def list_hosts(req: Request) -> dict[str, Any]:
    items = _placed(req, _by_id(req, req.manager.store.find(Host)),
                    ("zoneid", Zone, "zone_id"), ("podid", Pod, "pod_id"),
                    ("clusterid", Cluster, "cluster_id"))
    if (kind := req.params.text("type")) and kind.lower() != "routing":
        items = []
    if state := req.params.text("state"):
        items = [h for h in items if h.status.lower() == state.lower()]
    if vm_id := req.params.text("virtualmachineid"):
        vm = req.manager.store.by_uuid(VM, vm_id)
        items = [h for h in items if vm is not None and h.id == vm.host_id]
    return req.listing("host", items, req.render.host)


@api("updateHost", "Updates a host: its name, whether it takes new VMs, its host tags.",
     admin=True, package="admin.host", response="host", params=[
         P("id", "uuid", True, "the host"),
         P("name", description="its new name", since="4.15"),
         P("allocationstate", description="Enable, or Disable: it takes no new VM"),
         P("hosttags", "list", description="its host tags (none if empty)"),
         P("istagarule", "boolean", description="whether the tags are a rule (not modelled)",
           since="4.20.0"),
         P("oscategoryid", "uuid", description="the OS category it prefers"),
         P("url", description="a new URL (secondary storage hosts only)"),
         P("annotation", description="a note on it", since="4.11")])
def update_host(req: Request) -> dict[str, Any]:
    host = req.lookup(Host, "id", owned=False)
    check(req, unmodelled=["oscategoryid"], modelled={"id": Host})
    p = req.params
    state = p.text("allocationstate")
    if state is not None and state.lower() not in ("enable", "disable"):
        raise ParamError(f"Invalid allocation state: {state}, it must be Enable or Disable")
    if p.text("url") is not None:
        raise ParamError("URL can only be changed for secondary storage hosts")
    with req.manager.lock:
        host = req.manager.store.load(Host, host.id)
        if (name := p.text("name")) is not None:
            if not name.strip():
                raise ParamError("The host name cannot be empty")
            host.name = name
        if state is not None:
            host.enabled = state.lower() == "enable"
        if "hosttags" in p.values:  # given, even empty (which clears them)
            host.tags = ",".join(dict.fromkeys(p.items("hosttags")))
        req.manager.store.save(host)
    return {"host": req.render.host(host)}


@api("listClusters", "Lists clusters.", admin=True, package="admin.cluster",
     response="cluster", params=[P("id", "uuid"), P("name"), P("zoneid", "uuid"),
                                 P("podid", "uuid"), P("hypervisor")])
def list_clusters(req: Request) -> dict[str, Any]:
    items = _placed(req, _by_id(req, req.manager.store.find(Cluster)),
                    ("zoneid", Zone, "zone_id"), ("podid", Pod, "pod_id"))
    if (hypervisor := req.params.text("hypervisor")) and hypervisor.lower() != "kvm":
        items = []
    return req.listing("cluster", items, req.render.cluster)


@api("listPods", "Lists all Pods.", admin=True, package="admin.pod", response="pod",
     params=[P("id", "uuid"), P("name"), P("zoneid", "uuid")])
def list_pods(req: Request) -> dict[str, Any]:
    items = _placed(req, _by_id(req, req.manager.store.find(Pod)), ("zoneid", Zone, "zone_id"))
    return req.listing("pod", items, req.render.pod)


TEMPLATE_FILTERS = ("featured", "self", "selfexecutable", "sharedexecutable", "executable",
                    "community", "all")


def _filtered(req: Request, t: Template, which: str) -> bool:
    """Whether ``templatefilter=which`` shows ``t`` to the caller: the world's templates are
    public and featured; an account's own are its ``self``; public ones of others are
    ``community``; ``all`` is an admin's (a user's ``all`` is ``executable``)."""
    mine = t.account_id == req.caller.account.id
    if which == "all" and req.caller.is_admin:
        return True
    if which == "featured":
        return t.public and t.featured
    if which in ("self", "selfexecutable"):
        return mine
    if which == "sharedexecutable":
        return False  # templates are not shared with accounts here
    if which == "community":
        return t.public and not t.featured and not mine
    return mine or t.public  # executable: whatever the caller may deploy


def usable(account: Any, template: Template) -> bool:
    """Whether ``account`` may deploy ``template``: a public one, or its own."""
    return template.public or template.account_id in (None, account.id)


@api("listTemplates", "List all public, private, and privileged templates.",
     package="user.template", response="template", params=[
         P("templatefilter", required=True, description="featured, self, selfexecutable, "
           "sharedexecutable, executable, community or all"),
         P("id", "uuid"), P("name"), P("zoneid", "uuid"), P("hypervisor"),
         P("ostypeid", "uuid", description="the OS type of the templates"),
         P("account"), P("domainid", "uuid"), P("listall", "boolean"), P("keyword"),
         P("page", "integer"), P("pagesize", "integer")])
def list_templates(req: Request) -> dict[str, Any]:
    which = req.params.require("templatefilter").lower()
    if which not in TEMPLATE_FILTERS:
        raise ParamError(f"Please specify a valid template filter ({', '.join(TEMPLATE_FILTERS)})")
    items = [t for t in _by_id(req, req.manager.store.find(Template))
             if _filtered(req, t, which)]
    if (keyword := req.params.text("keyword")) is not None:
        items = [t for t in items if keyword.lower() in t.name.lower()]
    if zone := req.params.text("zoneid"):
        z = req.manager.store.by_uuid(Zone, zone)
        items = [t for t in items if z and t.zone_id == z.id]
    if ostype_id := req.params.text("ostypeid"):
        ostype = req.manager.store.by_uuid(OsType, ostype_id)
        items = [t for t in items if ostype and t.ostype == ostype.description]
    return req.listing("template", items, req.render.template)


@api("listOsTypes", "Lists all supported OS types for this cloud.", package="user.guest",
     response="ostype", params=[P("id", "uuid"), P("description"), P("oscategoryid", "uuid"),
                                P("keyword"), P("page", "integer"), P("pagesize", "integer")])
def list_os_types(req: Request) -> dict[str, Any]:
    items = req.manager.store.find(OsType)
    if wanted := req.params.text("id"):
        items = [o for o in items if o.uuid == wanted]
    if description := req.params.text("description"):
        items = [o for o in items if o.description == description]
    if keyword := req.params.text("keyword"):
        items = [o for o in items if keyword.lower() in o.description.lower()]
    return req.listing("ostype", items, req.render.ostype)


@api("listStoragePools", "Lists storage pools.", admin=True, package="admin.storage",
     response="storagepool", params=[P("id", "uuid"), P("name"), P("zoneid", "uuid"),
                                     P("clusterid", "uuid"), P("path"), P("scope"),
                                     P("page", "integer"), P("pagesize", "integer")])
def list_storage_pools(req: Request) -> dict[str, Any]:
    items = _by_id(req, req.manager.store.find(StoragePool))
    if zone := req.params.text("zoneid"):
        z = req.manager.store.by_uuid(Zone, zone)
        items = [p for p in items if z and p.zone_id == z.id]
    return req.listing("storagepool", items, req.render.storage_pool)


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


def _capabilities_wanted(req: Request) -> list[HypervisorCapabilities]:
    items = req.manager.store.find(HypervisorCapabilities)
    if ids := req.ids(HypervisorCapabilities, "id"):
        items = [c for c in items if c.uuid in ids]
    if (hypervisor := req.params.text("hypervisor")) is not None:
        items = [c for c in items if c.hypervisor.lower() == hypervisor.lower()]
    return items


@api("listHypervisorCapabilities", "Lists what the cloud allows of each hypervisor.",
     admin=True, package="admin.config", response="hypervisorCapabilities", params=[
         P("id", "uuid", description="the capabilities row"),
         P("hypervisor", description="only this hypervisor's"),
         P("keyword"), P("page", "integer"), P("pagesize", "integer")])
def list_hypervisor_capabilities(req: Request) -> dict[str, Any]:
    items = _capabilities_wanted(req)
    if word := req.params.text("keyword"):
        items = [c for c in items if word.lower() in c.hypervisor.lower()]
    return req.listing("hypervisorCapabilities", items, req.render.hypervisor_capabilities)


@api("updateHypervisorCapabilities", "Changes what the cloud allows of a hypervisor.",
     admin=True, package="admin.config", response="hypervisorCapabilities", params=[
         P("id", "uuid", description="the capabilities row"),
         P("hypervisor", description="the hypervisor (instead of id)", since="4.19.1"),
         P("hypervisorversion", description="its version (instead of id)", since="4.19.1"),
         P("securitygroupenabled", "boolean", description="whether security groups are "
           "supported"),
         P("maxguestslimit", "long", description="guest VMs per host at most"),
         P("maxdatavolumeslimit", "integer", description="data volumes per VM at most",
           since="4.16.0"),
         P("storagemotionenabled", "boolean", description="whether storage motion is "
           "supported", since="4.16.0"),
         P("maxhostspercluster", "integer", description="hosts per cluster at most",
           since="4.16.0"),
         P("vmsnapshotenabled", "boolean", description="whether VM snapshots are allowed",
           since="4.16.0")])
def update_hypervisor_capabilities(req: Request) -> dict[str, Any]:
    p = req.params
    if p.text("id") is None and p.text("hypervisor") is None:
        raise ParamError("Either ID or hypervisor and hypervisor version have to be specified")
    version = p.text("hypervisorversion")
    found = [c for c in _capabilities_wanted(req) if version in (None, "", c.version)]
    if not found:
        raise ParamError("Unable to find the hypervisor capabilities for specified id, "
                         "hypervisor and hypervisor version")
    numbers = {"maxguestslimit": p.number("maxguestslimit", minimum=0),
               "maxdatavolumeslimit": p.number("maxdatavolumeslimit", minimum=0),
               "maxhostspercluster": p.number("maxhostspercluster", minimum=0)}
    flags = {name: p.flag(name) if p.text(name) is not None else None
             for name in ("securitygroupenabled", "storagemotionenabled", "vmsnapshotenabled")}
    with req.manager.lock:
        caps = req.manager.store.load(HypervisorCapabilities, found[0].id)
        for attr, value in (("max_guests", numbers["maxguestslimit"]),
                            ("max_data_volumes", numbers["maxdatavolumeslimit"]),
                            ("max_hosts_per_cluster", numbers["maxhostspercluster"]),
                            ("security_group", flags["securitygroupenabled"]),
                            ("storage_motion", flags["storagemotionenabled"]),
                            ("vm_snapshot", flags["vmsnapshotenabled"])):
            if value is not None:
                setattr(caps, attr, value)
        req.manager.store.save(caps)
    return {"hypervisorCapabilities": req.render.hypervisor_capabilities(caps)}


@api("registerTemplate", "Registers a template from a URL for an account.",
     package="user.template", response="template", params=[
         P("name", required=True, description="its name"),
         P("displaytext", description="its description (its name if absent)", length=4096),
         P("format", required=True, description="the image format: QCOW2 or RAW on KVM"),
         P("hypervisor", required=True, description="the hypervisor it is for"),
         P("url", required=True, description="where the image is (http or https)",
           length=2048),
         P("ostypeid", "uuid", description="its OS type"),
         P("zoneid", "uuid", description="the zone it is for (every zone if none is named)"),
         P("zoneids", "list", description="the zones it is for"),
         P("account", description="the account it is for (an admin's choice; with "
           "domainid)"),
         P("domainid", "uuid", description="the domain of that account"),
         P("projectid", "uuid", description="the project it is for"),
         P("ispublic", "boolean", description="whether every account may use it (true "
           "unless false)"),
         P("isfeatured", "boolean", description="whether it is featured (admins only)"),
         P("isextractable", "boolean", description="whether it may be downloaded again"),
         P("passwordenabled", "boolean", description="whether its guests take password "
           "resets"),
         P("requireshvm", "boolean", description="whether it needs hardware virtualisation"),
         P("sshkeyenabled", "boolean", description="whether its guests take SSH keys"),
         P("isdynamicallyscalable", "boolean", description="whether its guests may be "
           "scaled while running"),
         P("directdownload", "boolean", description="whether hosts fetch it straight from "
           "the URL at deployment"),
         P("bits", "integer", description="32 or 64"),
         P("checksum", description="the image's checksum"),
         P("templatetag", description="a tag for it"),
         P("details", "map", description="key/value details"),
         P("deployasis", "boolean", description="keep the image's own settings (VMware)"),
         P("templatetype", description="its type")])
def register_template(req: Request) -> dict[str, Any]:
    owner = req.owner()
    check(req, modelled={"ostypeid": OsType})  # every ID and typed value, before anything
    p = req.params
    name = p.require("name")
    fmt = p.require("format").upper()
    if fmt not in ("QCOW2", "RAW"):
        raise ParamError(f"Format {fmt} is not supported for hypervisor KVM")
    hypervisor = p.require("hypervisor")
    if hypervisor.lower() not in ("kvm", "simulator"):
        raise ParamError(f"Hypervisor {hypervisor} is not supported by this cloud")
    url = p.require("url")
    if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        raise ParamError(f"Unsupported scheme for url: {url}")
    ostype = req.optional(OsType, "ostypeid", owned=False)
    zones = [req.manager.lookup(Zone, z, req.caller, req.api.name, "zoneids", owned=False)
             for z in p.items("zoneids")]
    if (zone := req.optional(Zone, "zoneid", owned=False)) is not None:
        zones.append(zone)
    if not zones:  # every zone's
        zones = req.manager.store.find(Zone)
    if p.flag("isfeatured") and not req.caller.is_admin:
        raise PermissionDenied("Only admins can create featured templates")
    made = []
    with req.manager.lock:
        for zone in dict((z.id, z) for z in zones).values():
            made.append(req.manager.store.add(Template(
                name, zone.id, ostype=ostype.description if ostype else "Other Linux (64-bit)",
                guest_agent=False, account_id=owner.id,
                display_text=p.text("displaytext") or name, public=p.flag("ispublic", True),
                featured=p.flag("isfeatured"), format=fmt, url=url)))
    return req.listing("template", made, req.render.template)


@api("deleteTemplate", "Deletes a template; the VMs made from it keep running.",
     is_async=True, package="user.template", response="success", params=[
         P("id", "uuid", True, "the template"),
         P("zoneid", "uuid", description="the zone to delete it from"),
         P("forced", "boolean", description="delete it even if VMs use it", since="4.9+")])
def delete_template(req: Request) -> dict[str, Any]:
    template = req.lookup(Template, "id", owned=False)
    if template.account_id is None and not req.caller.is_admin:
        raise PermissionDenied(f"Account '{req.caller.account.name}' does not have "
                               f"permission to operate with resource {template.uuid} in "
                               "deleteTemplate")
    if template.account_id is not None:
        req.manager.owned(req.caller, template, "deleteTemplate")
    store = req.manager.store

    def work() -> dict[str, Any]:
        with req.manager.lock:
            found = store.load(Template, template.id)
            found.removed = time.time()
            store.save(found)
        return {"success": True}

    return {"jobid": req.submit(work).uuid}
