"""The cloud's own machines: the management server and region the simulator is, and the
system VMs and virtual routers it does not run; the affinity groups and projects it does not
model (see ``api/unmodelled.py``)."""

from __future__ import annotations

import socket
import uuid
from typing import Any

from simulator import CLOUDSTACK_VERSION
from simulator.api.registry import P, api
from simulator.api.server import Request
from simulator.api.unmodelled import OWNED, PAGED, check, nothing_to_change, nothing_to_list
from simulator.errors import invalid_uuid

REGION_ID = 1  # CloudStack's one region unless more are added


nothing_to_list(
    "listSystemVms", "Lists the system VMs (the simulator runs none).", admin=True,
    package="admin.systemvm", response="systemvm", params=[
        P("id", "uuid", description="the ID of the system VM"),
        P("name", description="the name of the system VM"),
        P("systemvmtype", description="consoleproxy or secondarystoragevm"),
        P("state", description="the state of the system VM"),
        P("zoneid", "uuid", description="the zone of the system VMs"),
        P("podid", "uuid", description="the pod of the system VMs"),
        P("hostid", "uuid", description="the host running the system VMs"),
        P("storageid", "uuid", description="the storage pool of the system VMs",
          since="3.0.1"),
        P("arch", description="the CPU architecture", since="4.20.1"), *PAGED])

nothing_to_change(
    "migrateSystemVm", "Migrates a system VM to another host or storage pool (the simulator "
    "runs none).", admin=True, is_async=True, package="admin.systemvm", response="systemvm",
    target="virtualmachineid", params=[
        P("virtualmachineid", "uuid", True, "the ID of the system VM"),
        P("hostid", "uuid", description="the host to migrate it to"),
        P("storageid", "uuid", description="the storage pool to migrate it to",
          since="4.16.0"),
        P("autoselect", "boolean", description="let the cloud choose the host",
          since="4.16.0")])

nothing_to_list(
    "listRouters", "Lists the virtual routers (the simulator runs none).", admin=True,
    package="admin.router", response="router", params=[
        P("id", "uuid", description="the ID of the router"),
        P("name", description="the name of the router"),
        P("state", description="the state of the router"),
        P("zoneid", "uuid", description="the zone of the routers"),
        P("podid", "uuid", description="the pod of the routers"),
        P("clusterid", "uuid", description="the cluster of the routers"),
        P("hostid", "uuid", description="the host running the routers"),
        P("networkid", "uuid", description="the guest network the routers serve"),
        P("vpcid", "uuid", description="the VPC the routers serve"),
        P("forvpc", "boolean", description="only the routers of VPCs"),
        P("version", description="only the routers of this software version"),
        P("healthchecksfailed", "boolean", description="only the routers failing a health "
          "check", since="4.16"),
        P("fetchhealthcheckresults", "boolean", description="include health check results",
          since="4.14"),
        P("arch", description="the CPU architecture", since="4.20.1"), *OWNED, *PAGED])


def management_server_id(req: Request) -> str:
    """The simulator's ID as a management server: the same for the same endpoint."""
    config = req.manager.config
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"http://{config.host}:{config.port}/client"))


@api("listManagementServers", "Lists the management servers: the simulator itself.",
     admin=True, package="admin.management", response="managementserver", params=[
         P("id", "uuid", description="the ID of the management server"),
         P("name", description="the name of the management server"),
         P("peers", "boolean", description="include the peers of each server",
           since="4.20.1.0"), *PAGED])
def list_management_servers(req: Request) -> dict[str, Any]:
    server_id = management_server_id(req)
    req.params.flag("peers")
    if (wanted := req.params.text("id")) is not None and wanted != server_id:
        raise invalid_uuid(req.api.name, "id", wanted)
    name = socket.gethostname()
    items = [] if req.params.text("name") not in (None, name) else [{
        "id": server_id, "name": name, "state": "Up", "version": CLOUDSTACK_VERSION,
        "serviceip": req.manager.config.host, "ipaddress": req.manager.config.host}]
    return req.listing("managementserver", items, dict)


@api("listRegions", "Lists the regions: the simulator's one.", package="user.region",
     response="region", params=[P("id", "integer", description="the ID of the region"),
                                P("name", description="the name of the region"), *PAGED])
def list_regions(req: Request) -> dict[str, Any]:
    check(req)
    config = req.manager.config
    region = {"id": REGION_ID, "name": "Local",
              "endpoint": f"http://{config.host}:{config.port}/client/",
              "gslbserviceenabled": False, "portableipserviceenabled": False}
    wanted_id, wanted_name = req.params.number("id"), req.params.text("name")
    keep = wanted_id in (None, REGION_ID) and wanted_name in (None, region["name"])
    return req.listing("region", [region] if keep else [], dict)

nothing_to_list(
    "listAffinityGroups", "Lists the affinity groups (the simulator models none).",
    package="user.affinitygroup", response="affinitygroup", params=[
        P("name", description="the name of the affinity group"),
        P("virtualmachineid", "uuid", description="the affinity groups of this VM"),
        P("id", "uuid", description="the ID of the affinity group"),
        P("type", description="the type of the affinity groups"), *OWNED, *PAGED])

nothing_to_list(
    "listProjects", "Lists the projects (the simulator models none).", package="user.project",
    response="project", params=[
        P("id", "uuid", description="the ID of the project"),
        P("name", description="the name of the project"),
        P("displaytext", description="the description of the project"),
        P("state", description="the state of the projects"),
        P("tags", "map", description="only the projects with these tags"),
        P("username", description="the projects of this user"), *OWNED, *PAGED])
