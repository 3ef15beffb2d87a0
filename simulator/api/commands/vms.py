"""VM lifecycle commands."""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from typing import Any

from simulator.api.commands.infra import usable
from simulator.api.registry import P, api
from simulator.api.server import Request
from simulator.errors import ParamError, PermissionDenied
from simulator.models import (
    VM,
    DiskOffering,
    Host,
    Network,
    Nic,
    OsType,
    ServiceOffering,
    Template,
    Zone,
)


def _vm_job(req: Request, vm: VM, work: Any) -> dict[str, Any]:
    render = req.render
    job = req.submit(lambda: {"virtualmachine": render.vm(work())},
                     instance_type="VirtualMachine", instance_uuid=vm.uuid, vm_id=vm.id)
    return {"jobid": job.uuid}


_DEPLOY = [
    P("zoneid", "uuid", True, "availability zone for the virtual machine"),
    P("templateid", "uuid", True, "the ID of the template for the virtual machine"),
    P("serviceofferingid", "uuid", True, "the ID of the service offering"),
    P("name", description="host name for the virtual machine; generated (VM-<uuid>) if "
      "absent", length=63),
    P("displayname", description="an optional user generated name for the virtual machine"),
    P("account", description="an optional account for the virtual machine; must be used "
      "with domainId"),
    P("domainid", "uuid", description="an optional domainId for the virtual machine"),
    P("networkids", "list", description="list of network ids used by the virtual machine"),
    P("diskofferingid", "uuid", description="the ID of the disk offering for a data disk"),
    P("size", "long", description="the size in GB of a custom data disk"),
    P("rootdisksize", "long", description="the ROOT disk size in GB (at least the "
      "template's)"),
    P("startvm", "boolean", description="true (default) to start the virtual machine"),
    P("hypervisor", description="the hypervisor on which to deploy the virtual machine"),
    P("keypair", description="name of the ssh key pair used to login to the virtual machine"),
    P("keypairs", "list", description="names of the ssh key pairs"),
    P("userdata", description="base64 user data, at most 32768 bytes", length=1048576),
    P("details", "map", description="details: cpuNumber, cpuSpeed, memory, rootdisksize"),
    P("hostid", "uuid"), P("clusterid", "uuid"), P("podid", "uuid"), P("group"),
    P("ipaddress"), P("macaddress"), P("securitygroupids", "list"),
    P("affinitygroupids", "list"), P("affinitygroupnames", "list"), P("projectid", "uuid"),
    P("iptonetworklist", "map"), P("dynamicscalingenabled", "boolean"),
    P("bootmode"), P("boottype"), P("userdataid", "uuid"), P("userdatadetails", "map"),
]


USERDATA_MAX = 32768  # CloudStack's vm.userdata.max.length default, base64 characters
_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s_-]*$")


def _userdata(req: Request) -> str | None:
    """``userdata`` checked as CloudStack checks it: base64 (URL-decoded first if it holds
    ``%``), not empty once decoded, within the request method's and the configured length;
    re-encoded with its padding."""
    value = req.params.text("userdata")
    if value is None or not value.strip():
        return None
    if "%" in value:
        value = urllib.parse.unquote(value)
    if not _BASE64.match(value):
        raise ParamError("User data is not base64 encoded.")
    compact = re.sub(r"\s", "", value).replace("-", "+").replace("_", "/").rstrip("=")
    try:
        decoded = base64.b64decode(compact + "=" * (-len(compact) % 4))
    except (binascii.Error, ValueError):
        raise ParamError("User data is not base64 encoded.") from None
    if not decoded:
        raise ParamError("User data is too short.")
    method = "POST" if req.method == "POST" else "GET"
    if len(value) > (1048576 if method == "POST" else 4096):
        raise ParamError(f"User data is too long for http {method} request")
    if len(value) > USERDATA_MAX:
        raise ParamError(f"User data has exceeded configurable max length: {USERDATA_MAX}")
    return base64.b64encode(decoded).decode()


def _root_size(req: Request) -> int | None:
    """``rootdisksize`` as a parameter or in ``details``, in bytes."""
    size = req.params.size_gb("rootdisksize")
    for detail in req.params.mapping("details"):
        for key, value in detail.items():
            if key.lower() == "rootdisksize" and size is None:
                size = req.params.size_gb("rootdisksize", value)
    return size << 30 if size else None


@api("deployVirtualMachine", "Creates and automatically starts a virtual machine based on a "
     "service offering, disk offering, and template.", is_async=True, package="user.vm",
     response="virtualmachine", params=_DEPLOY)
def deploy(req: Request) -> dict[str, Any]:
    zone = req.lookup(Zone, "zoneid", owned=False)
    template = req.lookup(Template, "templateid", owned=False)
    offering = req.lookup(ServiceOffering, "serviceofferingid", owned=False)
    if template.zone_id != zone.id:
        raise ParamError(f"Template {template.uuid} is not available in zone {zone.uuid}")
    # Our hosts are KVM; "Simulator" is what CloudStack's own simulator zones call theirs,
    # and test suites written for those pass it.
    if (hypervisor := req.params.text("hypervisor")) and \
            hypervisor.lower() not in ("kvm", "simulator"):
        raise ParamError(f"Hypervisor {hypervisor} is not available in zone {zone.uuid}")
    owner = req.owner()
    if not usable(owner, template):
        raise PermissionDenied(f"Account '{owner.name}' does not have permission to operate "
                               f"with resource {template.uuid} in deployVirtualMachine")
    network = None
    if network_ids := req.params.items("networkids"):
        network = req.manager.lookup(Network, network_ids[0], req.caller, req.api.name,
                                     "networkids")
        if network.account_id != owner.id or network.zone_id != zone.id:
            raise ParamError(f"Network {network.uuid} is not usable by account {owner.name} "
                             f"in zone {zone.uuid}")
    data = None
    disk_offering = req.optional(DiskOffering, "diskofferingid", owned=False)
    if disk_offering is not None:
        size = req.params.size_gb("size")
        if disk_offering.customized and size is None:
            raise ParamError("Disk offering is customized: specify the size in GB")
        data = (disk_offering.id, (size or disk_offering.disksize) << 30)
    p = req.params
    names = [*p.items("keypairs"), *filter(None, [p.text("keypair")])]
    pairs = req.manager.keypairs.named(owner, names)
    root_size = _root_size(req)
    start = p.flag("startvm", True)  # every value is read before anything is made
    vm = req.manager.vms.allocate_vm(
        req.caller, zone.id, template, offering, p.text("name"), data, owner=owner,
        display_name=p.text("displayname"), network=network, root_size=root_size,
        keypair=",".join(k.name for k in pairs) or None, userdata=_userdata(req))
    manager = req.manager
    result = _vm_job(req, vm, lambda: manager.vms.deploy_vm(vm.id, start))
    return {"id": vm.uuid, **result}


_EXPUNGE_RECOVER = "allow.user.expunge.recover.vm"


def _simple(name: str, description: str, method: str, **kw: Any) -> None:
    def handler(req: Request) -> dict[str, Any]:
        vm = req.lookup(VM, "id")
        manager = req.manager
        if name == "destroyVirtualMachine":
            expunge = req.params.flag("expunge")
            if expunge:
                req.admins_unless(_EXPUNGE_RECOVER,
                                  "Account does not have permission for expunging.")
            return _vm_job(req, vm, lambda: manager.vms.destroy_vm(vm.id, expunge))
        if name == "expungeVirtualMachine":
            req.admins_unless(_EXPUNGE_RECOVER, "Expunging a vm can only be done by an Admin. "
                              "Or when the allow.user.expunge.recover.vm key is set.")
        return _vm_job(req, vm, lambda: getattr(manager.vms, method)(vm.id))

    api(name, description, is_async=True, package="user.vm", response="virtualmachine",
        params=[P("id", "uuid", True), *kw.get("extra", [])])(handler)


_simple("startVirtualMachine", "Starts a virtual machine.", "start_vm")
_simple("stopVirtualMachine", "Stops a virtual machine.", "stop_vm",
        extra=[P("forced", "boolean")])
_simple("rebootVirtualMachine", "Reboots a virtual machine.", "reboot_vm")
_simple("destroyVirtualMachine", "Destroys a virtual machine. Its VM snapshots are deleted.",
        "destroy_vm", extra=[P("expunge", "boolean")])
_simple("expungeVirtualMachine", "Expunge a virtual Machine.", "expunge_vm")


@api("updateVirtualMachine", "Updates properties of a virtual machine.", package="user.vm",
     response="virtualmachine", params=[
         P("id", "uuid", True), P("displayname", length=255), P("group", length=255),
         P("userdata", description="base64 user data", length=1048576),
         P("ostypeid", "uuid"), P("haenable", "boolean"), P("displayvm", "boolean"),
         P("name"), P("details", "map")])
def update_vm(req: Request) -> dict[str, Any]:
    vm = req.lookup(VM, "id")
    req.optional(OsType, "ostypeid", owned=False)  # one that names nothing is a 431
    if (name := req.params.text("name")) and name != vm.name:
        raise ParamError("Changing the host name of a VM is not supported here")
    updated = req.manager.vms.update_vm(vm, display_name=req.params.text("displayname"),
                                        group=req.params.text("group"),
                                        userdata=_userdata(req))
    return {"virtualmachine": req.render.vm(updated)}


@api("listNics", "Lists the NICs of a VM.", package="user.vm", response="nic", params=[
    P("virtualmachineid", "uuid", True), P("nicid", "uuid"), P("networkid", "uuid"),
    P("keyword"), P("page", "integer"), P("pagesize", "integer")])
def list_nics(req: Request) -> dict[str, Any]:
    vm = req.lookup(VM, "virtualmachineid")
    items = req.manager.networks.nics(vm)
    if nic := req.optional(Nic, "nicid", owned=False):
        items = [n for n in items if n.id == nic.id]
    if network := req.optional(Network, "networkid", owned=False):
        items = [n for n in items if n.network_id == network.id]
    return req.listing("nic", items, req.render.nic)


@api("recoverVirtualMachine", "Recovers a virtual machine.", package="user.vm",
     response="virtualmachine", params=[P("id", "uuid", True)])
def recover(req: Request) -> dict[str, Any]:
    vm = req.lookup(VM, "id")
    req.admins_unless(_EXPUNGE_RECOVER, "Recovering a vm can only be done by an Admin. Or "
                      "when the allow.user.expunge.recover.vm key is set.")
    return {"virtualmachine": req.render.vm(req.manager.vms.recover_vm(vm))}


@api("changeServiceForVirtualMachine", "Changes the service offering for a virtual machine. "
     "The virtual machine must be in a \"Stopped\" state for this command to take effect.",
     package="user.vm", response="virtualmachine", params=[
         P("id", "uuid", True), P("serviceofferingid", "uuid", True)])
def change_offering(req: Request) -> dict[str, Any]:
    vm = req.lookup(VM, "id")
    offering = req.lookup(ServiceOffering, "serviceofferingid", owned=False)
    return {"virtualmachine": req.render.vm(req.manager.vms.change_offering(vm, offering))}


@api("scaleVirtualMachine", "Moves a virtual machine to another service offering.",
     is_async=True, package="user.vm", response="virtualmachine", params=[
         P("id", "uuid", True, "the virtual machine"),
         P("serviceofferingid", "uuid", True, "the service offering to move it to"),
         P("details", "map", description="custom CPU and memory values"),
         P("automigrate", "boolean", description="move the root volume if needed",
           since="4.17"),
         P("shrinkok", "boolean", description="allow the root volume to shrink",
           since="4.17"),
         P("maxiops", "long", since="4.17"), P("miniops", "long", since="4.17")])
def scale_vm(req: Request) -> dict[str, Any]:
    vm = req.lookup(VM, "id")
    offering = req.lookup(ServiceOffering, "serviceofferingid", owned=False)
    manager = req.manager
    return _vm_job(req, vm, lambda: manager.vms.scale_vm(vm.id, offering))


@api("listVirtualMachines", "List the virtual machines owned by the account.",
     package="user.vm", response="virtualmachine", params=[
         P("id", "uuid"), P("ids", "list"), P("name"), P("state"), P("zoneid", "uuid"),
         P("hostid", "uuid"), P("domainid", "uuid"), P("templateid", "uuid"),
         P("serviceofferingid", "uuid"), P("tags", "map"), P("keyword"),
         P("listall", "boolean"), P("account"), P("page", "integer"),
         P("pagesize", "integer")])
def list_vms(req: Request) -> dict[str, Any]:
    p = req.params
    items = req.visible(req.manager.store.find(VM))
    ids = req.ids(VM, "id", "ids")
    if ids:
        items = [v for v in items if v.uuid in ids]
    if name := p.text("name"):
        items = [v for v in items if v.name == name]
    if state := p.text("state"):
        items = [v for v in items if v.state.lower() == state.lower()]
    else:
        items = [v for v in items if v.state != "Destroyed" or req.caller.is_admin]
    if keyword := p.text("keyword"):
        items = [v for v in items if keyword.lower() in v.name.lower()
                 or keyword.lower() in v.display_name.lower()]
    refs: tuple[tuple[str, type[Any], str], ...] = (
        ("zoneid", Zone, "zone_id"), ("hostid", Host, "host_id"),
        ("templateid", Template, "template_id"),
        ("serviceofferingid", ServiceOffering, "service_offering_id"))
    for param, cls, attr in refs:
        ref = req.optional(cls, param, owned=False)
        if ref is not None:
            items = [v for v in items if getattr(v, attr) == ref.id]
    items = req.tagged(items, "UserVm")
    return req.listing("virtualmachine", items, req.render.vm)
