"""CloudStack's response shapes: objects, lists, async answers, errors, JSON or XML."""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET  # noqa: S405 - only builds XML
from typing import Any

from flask import Response

from simulator import CLOUDSTACK_VERSION
from simulator.errors import ApiError
from simulator.models import (
    TAGGABLE,
    VM,
    Account,
    AsyncJob,
    Cluster,
    DiskOffering,
    Domain,
    Host,
    HypervisorCapabilities,
    Network,
    NetworkOffering,
    NetworkRule,
    Nic,
    OsType,
    Pod,
    PublicIp,
    ServiceOffering,
    SSHKeyPair,
    StoragePool,
    Tag,
    Template,
    User,
    VMSnapshot,
    Volume,
    VolumeSnapshot,
    Zone,
)
from simulator.orchestrator.networks import OFFERING_SERVICES
from simulator.orchestrator.storage import pool_for
from simulator.store import Store

# What XML 1.0 cannot carry (section 2.2 of the standard): most C0 controls, surrogates,
# U+FFFE and U+FFFF. Refused at the door (``server.py``) and never written.
XML_ILLEGAL = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NAME = re.compile(r"^[a-z][a-z0-9]*$")
ERROR_ENVELOPE = "error"  # ``errorresponse``: CloudStack's envelope when no command applies


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 cannot carry replaced by U+FFFD."""
    return XML_ILLEGAL.sub("\ufffd", text)


def header_safe(text: str) -> str:
    """``text`` as an HTTP header value: ASCII, controls (a newline above all) as spaces."""
    ascii_text = text.encode("ascii", "replace").decode()
    return re.sub(r"[\x00-\x1f\x7f]", " ", ascii_text)[:1000]


def date(ts: float | None) -> str | None:
    """``yyyy-MM-dd'T'HH:mm:ssZ`` in GMT, e.g. ``2026-01-01T12:00:00+0000``."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(ts))


# What a KVM host's agent reports of itself (CloudStack lists it in a host's ``details``):
# the hosts here are Debian 12 KVM hosts, as the driver's.
HOST_DETAILS = {"Host.OS": "Debian", "Host.OS.Version": "12", "secured": "true"}


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


class Renderer:
    """Turns model objects into CloudStack response objects (needs the store for names)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _get(self, cls: type[Any], id: int | None) -> Any:
        """A look-up cached for the current request (a page repeats the same VM and owner)."""
        from flask import g, has_request_context

        if not has_request_context():
            return self.store.get(cls, id)
        cache = g.setdefault("render_cache", {})
        key = (cls.__name__, id)
        if key not in cache:
            cache[key] = self.store.get(cls, id)
        return cache[key]

    def _owner(self, account_id: int) -> dict[str, Any]:
        account = self._get(Account, account_id)
        domain = self._get(Domain, account.domain_id) if account else None
        return {"account": account.name if account else None,
                "domainid": domain.uuid if domain else None,
                "domain": domain.name if domain else None,
                "domainpath": domain.path if domain else None}

    def _zone(self, zone_id: int) -> dict[str, Any]:
        zone = self._get(Zone, zone_id)
        return {"zoneid": zone.uuid if zone else None, "zonename": zone.name if zone else None}

    def tags(self, resource_type: str, resource_id: int) -> list[dict[str, Any]]:
        from flask import g, has_request_context

        if has_request_context():
            if "render_tags" not in g:
                g.render_tags = self.store.find(Tag)
            all_tags = g.render_tags
        else:
            all_tags = self.store.find(Tag)
        return [self.tag(t) for t in all_tags
                if t.resource_type == resource_type and t.resource_id == resource_id]

    def tag(self, t: Tag) -> dict[str, Any]:
        obj = self.store.get(TAGGABLE[t.resource_type], t.resource_id)
        return {"key": t.key, "value": t.value, "resourcetype": t.resource_type,
                "resourceid": obj.uuid if obj else None, **self._owner(t.account_id)}

    def vm_snapshot(self, s: VMSnapshot) -> dict[str, Any]:
        vm = self._get(VM, s.vm_id)
        parent = self.store.get(VMSnapshot, s.parent_id)
        return _clean({
            "id": s.uuid, "name": s.name, "displayname": s.display_name,
            "description": s.description or None,  # CloudStack keeps none when none is given
            "state": s.state, "type": s.type,
            "current": s.current, "parent": parent.uuid if parent else None,
            "parentName": parent.display_name if parent else None,
            "virtualmachineid": vm.uuid if vm else None,
            # As CloudStack's response helper: the VM's display name, else its host name.
            "virtualmachinename": (vm.display_name or vm.name) if vm else None,
            "created": date(s.created),
            **self._zone(vm.zone_id if vm else 0), **self._owner(s.account_id),
            "hypervisor": "KVM", "quiescevm": s.quiesce,
            "freezewindowms": s.freeze_window_ms, "guestpausems": s.guest_pause_ms,
            "physicalsize": s.physical_size,
            "tags": self.tags("VMSnapshot", s.id),
        })

    def vm(self, vm: VM) -> dict[str, Any]:
        template = self._get(Template, vm.template_id)
        offering = self._get(ServiceOffering, vm.service_offering_id)
        host = self._get(Host, vm.host_id)
        _, snapshot_count = self.store.page(VMSnapshot, vm_id=vm.id, limit=0)
        return _clean({
            "id": vm.uuid, "name": vm.name, "displayname": vm.display_name or vm.name,
            "instancename": vm.instance_name, "state": vm.state,
            "templateid": template.uuid if template else None,
            "templatename": template.name if template else None,
            "serviceofferingid": offering.uuid if offering else None,
            "serviceofferingname": offering.name if offering else None,
            "cpunumber": offering.cpunumber if offering else None,
            "cpuspeed": offering.cpuspeed if offering else None,
            "memory": offering.memory if offering else None,
            "hostid": host.uuid if host and vm.state == "Running" else None,
            "hostname": host.name if host and vm.state == "Running" else None,
            "hypervisor": "KVM", "created": date(vm.created), **self._zone(vm.zone_id),
            **self._owner(vm.account_id), "guestagent": vm.guest_agent,
            "ostypeid": self._ostype_id(template.ostype) if template else None,
            "passwordenabled": False, "keypair": vm.keypair, "keypairs": vm.keypair,
            "userdata": vm.userdata,
            "vmsnapshotcount": snapshot_count,
            "nic": [self.nic(n) for n in self.store.find(Nic, vm_id=vm.id)],
            "tags": self.tags("UserVm", vm.id),
            "templatedisplaytext": template.name if template else None,
            "group": vm.group,
            # Not modelled, and empty as in a zone without them (clients read the keys).
            "securitygroup": [], "affinitygroup": [],
        })

    def nic(self, n: Nic) -> dict[str, Any]:
        network = self._get(Network, n.network_id)
        vm = self._get(VM, n.vm_id)
        return _clean({
            "id": n.uuid, "networkid": network.uuid if network else None,
            "networkname": network.name if network else None, "ipaddress": n.ip_address,
            "netmask": network.netmask if network else None,
            "gateway": network.gateway if network else None, "macaddress": n.mac_address,
            "isdefault": n.is_default, "traffictype": "Guest", "type": "Isolated",
            "deviceid": str(n.device_id), "virtualmachineid": vm.uuid if vm else None,
        })

    def _all(self, cls: type[Any]) -> list[Any]:
        """Every object of a small kind (OS types, pools), read once per request."""
        from flask import g, has_request_context

        if not has_request_context():
            return self.store.find(cls)
        cache = g.setdefault("render_all", {})
        if cls not in cache:
            cache[cls] = self.store.find(cls)
        return cache[cls]  # type: ignore[no-any-return]

    def _ostype_id(self, description: str) -> str | None:
        return next((o.uuid for o in self._all(OsType) if o.description == description),
                    None)

    def ostype(self, o: OsType) -> dict[str, Any]:
        return {"id": o.uuid, "description": o.description, "name": o.description,
                "oscategoryid": str(o.category_id), "isuserdefined": False}

    def network(self, n: Network) -> dict[str, Any]:
        return _clean({
            "id": n.uuid, "name": n.name, "displaytext": n.name, "state": n.state,
            "type": "Isolated", "traffictype": "Guest", "cidr": n.cidr, "gateway": n.gateway,
            "netmask": n.netmask, "isdefault": True, **self._network_offering(),
            "created": date(n.created), **self._zone(n.zone_id), **self._owner(n.account_id),
        })

    def hypervisor_capabilities(self, c: HypervisorCapabilities) -> dict[str, Any]:
        return _clean({
            "id": c.uuid, "hypervisor": c.hypervisor, "hypervisorversion": c.version,
            "maxguestslimit": c.max_guests, "maxdatavolumeslimit": c.max_data_volumes,
            "maxhostspercluster": c.max_hosts_per_cluster,
            "securitygroupenabled": c.security_group, "storagemotionenabled": c.storage_motion,
            "vmsnapshotenabled": c.vm_snapshot})

    def key_pair(self, k: SSHKeyPair) -> dict[str, Any]:
        return {"id": k.uuid, "name": k.name, "fingerprint": k.fingerprint,
                **self._owner(k.account_id)}

    def _network_offering(self) -> dict[str, Any]:
        offering = next(iter(self.store.find(NetworkOffering)), None)
        if offering is None:
            return {}
        return {"networkofferingid": offering.uuid, "networkofferingname": offering.name,
                "networkofferingdisplaytext": offering.display_text,
                "networkofferingavailability": "Required"}

    def network_offering(self, o: NetworkOffering) -> dict[str, Any]:
        return {"id": o.uuid, "name": o.name, "displaytext": o.display_text,
                "state": "Enabled", "traffictype": "Guest", "guestiptype": "Isolated",
                "isdefault": True, "specifyvlan": False, "specifyipranges": False,
                "conservemode": True, "availability": "Required", "networkrate": 200,
                "forvpc": False, "ispersistent": False, "egressdefaultpolicy": True,
                "created": date(o.created),
                "service": [{"name": name, "provider": [{"name": "VirtualRouter"}]}
                            for name in OFFERING_SERVICES]}

    def public_ip(self, ip: PublicIp) -> dict[str, Any]:
        network = self._get(Network, ip.network_id)
        return _clean({
            "id": ip.uuid, "ipaddress": ip.address, "state": ip.state,
            "allocated": date(ip.allocated), "issourcenat": ip.source_nat,
            "isstaticnat": False, "forvirtualnetwork": True,
            "associatednetworkid": network.uuid if network else None,
            "associatednetworkname": network.name if network else None,
            **self._zone(ip.zone_id), **self._owner(ip.account_id),
            "tags": self.tags("PublicIpAddress", ip.id),
        })

    def firewall_rule(self, r: NetworkRule) -> dict[str, Any]:
        ip = self._get(PublicIp, r.ip_id)
        network = self._get(Network, r.network_id)
        return _clean({
            "id": r.uuid, "protocol": r.protocol, "startport": r.start_port,
            "endport": r.end_port, "icmptype": r.icmp_type, "icmpcode": r.icmp_code,
            "cidrlist": r.cidrs,
            "ipaddressid": ip.uuid if ip else None, "ipaddress": ip.address if ip else None,
            "networkid": network.uuid if network else None,
            "traffictype": "Egress" if r.purpose == "EgressFirewall" else "Ingress",
            "state": r.state,
        })

    def port_forwarding_rule(self, r: NetworkRule) -> dict[str, Any]:
        ip = self._get(PublicIp, r.ip_id)
        vm = self._get(VM, r.vm_id)
        network = self._get(Network, r.network_id)
        nic = next(iter(self.store.find(Nic, vm_id=vm.id)), None) if vm else None
        return _clean({
            "id": r.uuid, "protocol": r.protocol, "publicport": str(r.start_port),
            "publicendport": str(r.end_port), "privateport": str(r.private_port),
            "privateendport": str(r.private_end_port),
            "ipaddressid": ip.uuid if ip else None, "ipaddress": ip.address if ip else None,
            "virtualmachineid": vm.uuid if vm else None,
            "virtualmachinename": vm.name if vm else None,
            "virtualmachinedisplayname": (vm.display_name or vm.name) if vm else None,
            "vmguestip": nic.ip_address if nic else None,
            "networkid": network.uuid if network else None, "cidrlist": r.cidrs,
            "state": r.state,
        })

    def storage_pool(self, p: StoragePool) -> dict[str, Any]:
        pools = self._all(StoragePool)
        volumes = [v for v in self.store.find(Volume)
                   if (on := pool_for(v, pools)) is not None and on.id == p.id]
        allocated = sum(v.size for v in volumes)
        return _clean({"id": p.uuid, "name": p.name, "type": p.type, "state": "Up", "scope": "ZONE",
                "path": p.path, "ipaddress": p.host or "localhost", "tags": p.tags or None,
                "hypervisor": "KVM", "disksizetotal": p.capacity,
                "disksizeused": sum(v.chain_size or 0 for v in volumes) or allocated,
                "disksizeallocated": allocated, "created": date(p.created),
                **self._zone(p.zone_id)})

    def resource_limit(self, account_id: int, resource_type: int, name: str,
                       max: int) -> dict[str, Any]:
        account = self._get(Account, account_id)
        return {"resourcetype": str(resource_type), "resourcetypename": name, "max": max,
                "accountid": account.uuid if account else None, **self._owner(account_id)}

    def volume(self, v: Volume) -> dict[str, Any]:
        vm = self._get(VM, v.vm_id) if v.vm_id else None
        offering = self._get(DiskOffering, v.disk_offering_id)
        return _clean({
            "id": v.uuid, "name": v.name, "type": v.type, "size": v.size, "state": v.state,
            "virtualmachineid": vm.uuid if vm else None, "vmname": vm.name if vm else None,
            "vmdisplayname": (vm.display_name or vm.name) if vm else None,
            "vmstate": vm.state if vm else None, "deviceid": v.device_id,
            # CloudStack's clients tell an attached volume by this field being there.
            "attached": date(v.attached or v.created) if vm else None,
            "destroyed": v.state == "Destroy",  # destroyVolume keeps it until expunged
            "diskofferingid": offering.uuid if offering else None,
            "diskofferingname": offering.name if offering else None,
            "created": date(v.created), **self._pool(v), "storagetype": "shared",
            "hypervisor": "KVM", "provisioningtype": "thin", "path": v.path,
            "vmsnapshotchainsize": v.chain_size, **self._zone(v.zone_id),
            **self._owner(v.account_id), "tags": self.tags("Volume", v.id),
        })

    def _pool(self, volume: Volume) -> dict[str, Any]:
        pool = pool_for(volume, self._all(StoragePool))
        return {"storage": pool.name if pool else None, "storageid": pool.uuid if pool else None}

    def volume_snapshot(self, s: VolumeSnapshot) -> dict[str, Any]:
        volume = self.store.get(Volume, s.volume_id)
        from_vm_snapshot = self.store.get(VMSnapshot, s.vm_snapshot_id)
        return _clean({
            "id": s.uuid, "name": s.name, "state": s.state, "snapshottype": "MANUAL",
            "intervaltype": "MANUAL", "created": date(s.created),
            "volumeid": volume.uuid if volume else None,
            "volumename": volume.name if volume else None,
            "volumetype": volume.type if volume else None,
            "physicalsize": s.physical_size, "virtualsize": volume.size if volume else None,
            "vmsnapshotid": from_vm_snapshot.uuid if from_vm_snapshot else None,
            "hypervisor": "KVM", **self._zone(s.zone_id), **self._owner(s.account_id),
        })

    def zone(self, z: Zone) -> dict[str, Any]:
        return {"id": z.uuid, "name": z.name, "allocationstate": "Enabled",
                "networktype": "Advanced", "securitygroupsenabled": False,
                "localstorageenabled": True}

    def _pod(self, pod_id: int | None) -> dict[str, Any]:
        pod = self._get(Pod, pod_id)
        return {"podid": pod.uuid if pod else None, "podname": pod.name if pod else None}

    def host(self, h: Host) -> dict[str, Any]:
        cluster = self._get(Cluster, h.cluster_id)
        return _clean({
            "id": h.uuid, "name": h.name, "state": h.status, "type": "Routing",
            "hypervisor": "KVM", "resourcestate": "Enabled" if h.enabled else "Disabled",
            "hosttags": h.tags or None, "created": date(h.created),
            "clusterid": cluster.uuid if cluster else None,
            "clustername": cluster.name if cluster else None, "clustertype": "CloudManaged",
            "islocalstorageactive": False, "details": dict(HOST_DETAILS),
            **self._pod(h.pod_id), **self._zone(h.zone_id)})

    def cluster(self, c: Cluster) -> dict[str, Any]:
        return {"id": c.uuid, "name": c.name, "hypervisortype": "KVM",
                "clustertype": "CloudManaged", "allocationstate": "Enabled",
                "managedstate": "Managed", **self._pod(c.pod_id), **self._zone(c.zone_id)}

    def pod(self, p: Pod) -> dict[str, Any]:
        return {"id": p.uuid, "name": p.name, "allocationstate": "Enabled",
                **self._zone(p.zone_id)}

    def template(self, t: Template) -> dict[str, Any]:
        owner = self._owner(t.account_id) if t.account_id is not None else {
            "account": "system"}
        return _clean({
            "id": t.uuid, "name": t.name, "displaytext": t.display_text or t.name,
            "isready": True, "ispublic": t.public, "isfeatured": t.featured,
            "format": t.format, "hypervisor": "KVM", "ostypeid": self._ostype_id(t.ostype),
            "ostypename": t.ostype, "size": t.size,
            "templatetype": "BUILTIN" if t.account_id is None else "USER",
            "passwordenabled": False, "guestagent": t.guest_agent, **owner,
            "url": t.url or None, "directdownload": bool(t.url) or None,
            "created": date(t.created), **self._zone(t.zone_id)})

    def service_offering(self, o: ServiceOffering) -> dict[str, Any]:
        return {"id": o.uuid, "name": o.name, "displaytext": o.display_text or o.name,
                "cpunumber": o.cpunumber, "cpuspeed": o.cpuspeed, "memory": o.memory,
                "created": date(o.created), "storagetype": "shared", "offerha": o.offer_ha,
                "iscustomized": False, **({"storagetags": o.tags} if o.tags else {}),
                **({"hosttags": o.host_tags} if o.host_tags else {})}

    def disk_offering(self, o: DiskOffering) -> dict[str, Any]:
        return {"id": o.uuid, "name": o.name, "displaytext": o.display_text or o.name,
                "disksize": o.disksize,
                "iscustomized": o.customized, "created": date(o.created),
                "storagetype": "shared", **({"tags": o.tags} if o.tags else {})}

    def domain(self, d: Domain) -> dict[str, Any]:
        parent = self._get(Domain, d.parent_id)
        return _clean({"id": d.uuid, "name": d.name, "path": d.path, "level": 0,
                       "parentdomainid": parent.uuid if parent else None})

    def user(self, u: User) -> dict[str, Any]:
        account = self._get(Account, u.account_id)
        return _clean({"id": u.uuid, "username": u.username, "firstname": u.firstname,
                       "lastname": u.lastname, "email": u.email, "state": u.state,
                       "created": date(u.created), "accountid": account.uuid if account else None,
                       "accounttype": account.type if account else None,
                       "roletype": "Admin" if account and account.is_admin else "User",
                       **self._owner(u.account_id)})

    def account(self, a: Account) -> dict[str, Any]:
        domain = self._get(Domain, a.domain_id)
        return {"id": a.uuid, "name": a.name, "accounttype": a.type, "state": a.state,
                "roletype": "Admin" if a.is_admin else "User",
                "domainid": domain.uuid if domain else None,
                "domain": domain.name if domain else None,
                "user": [self.user(u) for u in self.store.find(User) if u.account_id == a.id]}

    def job(self, j: AsyncJob) -> dict[str, Any]:
        account = self._get(Account, j.account_id)
        domain = self._get(Domain, account.domain_id) if account else None
        user = self.store.get(User, j.user_id)
        out: dict[str, Any] = {
            "accountid": account.uuid if account else None,
            "account": account.name if account else None,
            "domainid": domain.uuid if domain else None,
            "domainpath": domain.path if domain else None,
            "userid": user.uuid if user else None, "cmd": j.cmd, "jobstatus": j.status,
            "jobprocstatus": j.proc_status, "jobresultcode": j.result_code,
            # CloudStack types the result once there is one.
            "jobresulttype": j.result_type if j.status != 0 else None,
            "created": date(j.created),
            "completed": date(j.completed), "jobid": j.uuid,
            "jobinstancetype": j.instance_type,
        }
        if j.status != 0 and j.result is not None:
            out["jobresult"] = j.result
        if j.instance_uuid and j.instance_type != "VmSnapshot":
            out["jobinstanceid"] = j.instance_uuid
        return _clean(out)


def list_payload(key: str, items: list[dict[str, Any]], total: int) -> dict[str, Any]:
    """``{"count": N, key: [...]}``, or ``{}`` for an empty list, as CloudStack answers."""
    return {"count": total, key: items} if items else {}


def _xml(parent: ET.Element, key: str, value: Any) -> None:
    if isinstance(value, list):
        for item in value:
            _xml(parent, key, item)
    elif isinstance(value, dict):
        node = ET.SubElement(parent, key)
        for k, v in value.items():
            _xml(node, k, v)
    elif value is not None:
        ET.SubElement(parent, key).text = str(value).lower() if isinstance(value, bool) \
            else xml_safe(str(value))


def respond(command: str, payload: dict[str, Any], *, as_json: bool,
            status: int = 200) -> Response:
    command = command.lower()
    # The root element is a name from the registry, never a client's text (no injection).
    name = f"{command if _NAME.match(command) else ERROR_ENVELOPE}response"
    if as_json:
        body = json.dumps({name: payload})
        mimetype = "application/json; charset=UTF-8"  # CloudStack's json.content.type
    else:
        root = ET.Element(name, {"cloud-stack-version": CLOUDSTACK_VERSION})
        for key, value in payload.items():
            _xml(root, key, value)
        body = '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")
        mimetype = "text/xml"
    resp = Response(body, status=status, mimetype=mimetype)
    return resp


def error(command: str, exc: ApiError, *, as_json: bool) -> Response:
    payload = {"uuidList": [], "errorcode": exc.code, "cserrorcode": exc.cserrorcode,
               "errortext": exc.text}
    resp = respond(command or ERROR_ENVELOPE, payload, as_json=as_json, status=exc.code)
    resp.headers["X-Description"] = header_safe(exc.text)
    return resp
