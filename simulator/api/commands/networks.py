"""Guest networks and their offering, public addresses, firewall, egress firewall and port
forwarding rules, kept as records with CloudStack's responses and async behaviour."""

from __future__ import annotations

from typing import Any

from simulator.api.registry import P, api
from simulator.api.server import Request
from simulator.api.unmodelled import PAGED, check
from simulator.errors import ParamError
from simulator.models import VM, Network, NetworkOffering, NetworkRule, Nic, PublicIp, Zone
from simulator.orchestrator.networks import OFFERING_SERVICES

PROTOCOLS = {"tcp", "udp", "icmp", "all"}
_LIST = [P("id", "uuid"), P("account"), P("domainid", "uuid"), P("listall", "boolean"),
         P("keyword"), P("page", "integer"), P("pagesize", "integer")]


def _network_of(req: Request, account: Any, zone_id: int) -> Network:
    """The ``networkid`` named, or the owner's only guest network in the zone."""
    network = req.optional(Network, "networkid")
    if network is not None:
        return network
    found = [n for n in req.manager.store.find(Network, account_id=account.id)
             if n.zone_id == zone_id]
    if len(found) != 1:
        raise ParamError("Unable to figure out the default network for the account; please "
                         "specify networkid")
    return found[0]


def _job(req: Request, key: str, work: Any, render: Any, instance: Any = None) -> dict[str, Any]:
    job = req.submit(lambda: {key: render(work())}, instance_type=None,
                     instance_uuid=instance.uuid if instance else None)
    out = {"jobid": job.uuid}
    if instance is not None:
        out["id"] = instance.uuid
    return out


def _delete_job(req: Request, work: Any) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        work()
        return {"success": True}

    return {"jobid": req.submit(run).uuid}


def _ports(req: Request, start: str, end: str) -> tuple[int | None, int | None]:
    first = req.params.number(start, minimum=0)
    last = req.params.number(end, minimum=0, default=first)
    for port in (first, last):
        if port is not None and port > 65535:
            raise ParamError(f"Invalid port number {port}; valid ports are 1-65535")
    if first is not None and last is not None and first > last:
        raise ParamError("Start port can't be bigger than end port")
    return first, last


def _protocol(req: Request) -> str:
    protocol = req.params.require("protocol").lower()
    if protocol not in PROTOCOLS:
        raise ParamError(f"Invalid protocol: {protocol}; only tcp, udp, icmp and all are "
                         "supported")
    return protocol


def _rules(req: Request, purpose: str) -> list[NetworkRule]:
    items = [r for r in req.visible(req.manager.store.find(NetworkRule)) if r.purpose == purpose]
    if rid := req.params.text("id"):
        items = [r for r in items if r.uuid == rid]
    if ip_uuid := req.params.text("ipaddressid"):
        ip = req.manager.store.by_uuid(PublicIp, ip_uuid)
        items = [r for r in items if ip is not None and r.ip_id == ip.id]
    if nid := req.params.text("networkid"):
        network = req.manager.store.by_uuid(Network, nid)
        items = [r for r in items if network is not None and r.network_id == network.id]
    return items


@api("listNetworks", "Lists all available networks.", package="user.network",
     response="network", params=[*_LIST, P("zoneid", "uuid"), P("type"),
                                 P("traffictype"), P("isdefault", "boolean")])
def list_networks(req: Request) -> dict[str, Any]:
    items = req.visible(req.manager.store.find(Network))
    if ids := req.ids(Network, "id"):
        items = [n for n in items if n.uuid in ids]
    if zone := req.optional(Zone, "zoneid", owned=False):
        items = [n for n in items if n.zone_id == zone.id]
    # Every network here is an account's isolated guest network, its NICs' default one.
    for param, value in (("type", "isolated"), ("traffictype", "guest")):
        if (wanted := req.params.text(param)) and wanted.lower() != value:
            items = []
    if req.params.text("isdefault") is not None and not req.params.flag("isdefault"):
        items = []
    return req.listing("network", items, req.render.network)


@api("listNetworkOfferings", "Lists all available network offerings.", package="user.network",
     response="networkoffering", params=[
        P("id", "uuid", description="the ID of the offering"),
        P("name", description="the name of the offering"),
        P("displaytext", description="the description of the offering"),
        P("traffictype", description="the traffic type of the offerings"),
        P("guestiptype", description="Isolated, Shared or L2"),
        P("isdefault", "boolean", description="only default offerings"),
        P("specifyvlan", "boolean", description="only offerings whose networks name a VLAN"),
        P("availability", description="Required, Optional or Unavailable"),
        P("zoneid", "uuid", description="the zone the offerings are for"),
        P("domainid", "uuid", description="the domain the offerings are for", since="4.13"),
        P("state", description="Enabled or Disabled"),
        P("networkid", "uuid", description="offerings the network can change to"),
        P("supportedservices", "list", description="only offerings with these services"),
        P("sourcenatsupported", "boolean", description="only offerings with source NAT"),
        P("specifyipranges", "boolean", description="only offerings whose networks name "
          "their ranges"),
        P("tags", description="only offerings with these tags"),
        P("istagged", "boolean", description="only tagged offerings"),
        P("forvpc", "boolean", description="only offerings for VPC tiers"),
        P("routingmode", description="the routing mode of the offerings", since="4.20.0"),
         *PAGED])
def list_network_offerings(req: Request) -> dict[str, Any]:
    """The one guest network offering, unless a filter leaves it out."""
    check(req, modelled={"id": NetworkOffering})
    offering = req.manager.networks.offering()
    items = [offering] if offering is not None else []
    if req.params.text("networkid") is not None:
        items = []  # the offerings a network can change to: none but its own
    wanted = {"traffictype": "guest", "guestiptype": "isolated", "availability": "required",
              "state": "enabled"}
    for param, value in wanted.items():
        if (given := req.params.text(param)) is not None and given.lower() != value:
            items = []
    flags = {"isdefault": True, "sourcenatsupported": True, "specifyvlan": False,
             "specifyipranges": False, "istagged": False, "forvpc": False}
    for param, flag in flags.items():
        if req.params.text(param) is not None and req.params.flag(param) != flag:
            items = []
    services = {s.lower() for s in OFFERING_SERVICES}
    if not {s.lower() for s in req.params.items("supportedservices")} <= services:
        items = []
    if req.params.text("tags") or req.params.text("routingmode"):
        items = []
    if rid := req.params.text("id"):
        items = [o for o in items if o.uuid == rid]
    if name := req.params.text("name"):
        items = [o for o in items if o.name.lower() == name.lower()]
    if text := req.params.text("displaytext"):
        items = [o for o in items if text.lower() in o.display_text.lower()]
    if word := req.params.text("keyword"):
        items = [o for o in items
                 if word.lower() in o.name.lower() or word.lower() in o.display_text.lower()]
    return req.listing("networkoffering", items, req.render.network_offering)


@api("associateIpAddress", "Acquires and associates a public IP to an account.",
     is_async=True, package="user.address", response="ipaddress", params=[
         P("account", description="the account to associate with this IP address"),
         P("domainid", "uuid", description="the ID of the domain of the account"),
         P("zoneid", "uuid", description="the ID of the availability zone"),
         P("networkid", "uuid", description="the network this IP address is associated to"),
         P("vpcid", "uuid"), P("isportable", "boolean"), P("ipaddress"),
         P("projectid", "uuid")])
def associate_ip(req: Request) -> dict[str, Any]:
    check(req)  # each ID given names something the caller may see (a VPC or project: none)
    owner = req.owner()
    zone = req.optional(Zone, "zoneid", owned=False) or req.manager.store.find(Zone)[0]
    network = _network_of(req, owner, zone.id)
    ip = req.manager.networks.associate_ip(owner, zone.id, network)
    return _job(req, "ipaddress", lambda: req.manager.store.load(PublicIp, ip.id),
                req.render.public_ip, ip)


@api("disassociateIpAddress", "Disassociates an IP address from the account.", is_async=True,
     package="user.address", params=[
         P("id", "uuid", description="the ID of the public IP address to disassociate"),
         P("ipaddress", description="the public IP address to disassociate")])
def disassociate_ip(req: Request) -> dict[str, Any]:
    if req.params.text("id"):
        ip = req.lookup(PublicIp, "id")
    else:
        address = req.params.text("ipaddress")
        if not address:
            raise ParamError("Either id or ipaddress must be specified")
        found = [i for i in req.manager.store.find(PublicIp) if i.address == address]
        if not found:
            raise ParamError(f"Unable to find IP address {address}")
        ip = found[0]
        req.manager.owned(req.caller, ip, req.api.name)
    manager = req.manager
    return _delete_job(req, lambda: manager.networks.disassociate_ip(ip))


@api("listPublicIpAddresses", "Lists all public IP addresses", package="user.address",
     response="publicipaddress", params=[*_LIST, P("ipaddress"), P("zoneid", "uuid"),
                                         P("associatednetworkid", "uuid"),
                                         P("allocatedonly", "boolean")])
def list_public_ips(req: Request) -> dict[str, Any]:
    items = req.visible(req.manager.store.find(PublicIp))
    if iid := req.params.text("id"):
        items = [i for i in items if i.uuid == iid]
    if address := req.params.text("ipaddress"):
        items = [i for i in items if i.address == address]
    return req.listing("publicipaddress", items, req.render.public_ip)


_FIREWALL = [P("protocol", required=True, description="TCP, UDP, ICMP or ALL"),
             P("startport", "integer", description="the starting port of the rule"),
             P("endport", "integer", description="the ending port of the rule"),
             P("cidrlist", "list", description="the source CIDR list"),
             P("icmptype", "integer"), P("icmpcode", "integer"), P("type")]


def _firewall_rule(req: Request, purpose: str, account_id: int, network_id: int | None,
                   ip_id: int | None, default_cidrs: str) -> NetworkRule:
    """A firewall or egress firewall rule from the request, held to CloudStack's rules on
    ports and ICMP types (ICMP: type and code, -1 for any, and no ports; others: ports and
    no ICMP fields)."""
    protocol = _protocol(req)
    first, last = _ports(req, "startport", "endport")
    icmp = (req.params.number("icmptype"), req.params.number("icmpcode"))
    if protocol == "icmp":
        if first is not None or last is not None:
            raise ParamError("Can't specify start/end port when protocol is ICMP")
        icmp = (-1 if icmp[0] is None else icmp[0], -1 if icmp[1] is None else icmp[1])
    elif icmp != (None, None):
        raise ParamError("Can specify icmpCode and icmpType for ICMP protocol only")
    return req.manager.networks.add_rule(NetworkRule(
        purpose, account_id, network_id, protocol, ip_id=ip_id, start_port=first,
        end_port=last, cidrs=",".join(req.params.items("cidrlist")) or default_cidrs,
        icmp_type=icmp[0], icmp_code=icmp[1]))


@api("createFirewallRule", "Creates a firewall rule for a given IP address", is_async=True,
     package="user.firewall", response="firewallrule", params=[
         P("ipaddressid", "uuid", True, "the IP address id of the port forwarding rule"),
         *_FIREWALL])
def create_firewall_rule(req: Request) -> dict[str, Any]:
    ip = req.lookup(PublicIp, "ipaddressid")
    rule = _firewall_rule(req, "Firewall", ip.account_id, ip.network_id, ip.id, "0.0.0.0/0")
    return _job(req, "firewallrule", lambda: rule, req.render.firewall_rule, rule)


@api("createEgressFirewallRule", "Creates a egress firewall rule for a given network",
     is_async=True, package="user.firewall", response="firewallrule", params=[
         P("networkid", "uuid", True, "the network id of the port forwarding rule"),
         *_FIREWALL, P("destcidrlist", "list")])
def create_egress_rule(req: Request) -> dict[str, Any]:
    network = req.lookup(Network, "networkid")
    rule = _firewall_rule(req, "EgressFirewall", network.account_id, network.id, None,
                          network.cidr)
    return _job(req, "firewallrule", lambda: rule, req.render.firewall_rule, rule)


@api("createPortForwardingRule", "Creates a port forwarding rule", is_async=True,
     package="user.firewall", response="portforwardingrule", params=[
         P("ipaddressid", "uuid", True, "the IP address id of the port forwarding rule"),
         P("privateport", "integer", True, "the starting port of port forwarding rule's "
           "private port range"),
         P("privateendport", "integer"), P("publicport", "integer", True),
         P("publicendport", "integer"), P("protocol", required=True),
         P("virtualmachineid", "uuid", True), P("networkid", "uuid"), P("vmguestip"),
         P("openfirewall", "boolean"), P("cidrlist", "list")])
def create_port_forwarding_rule(req: Request) -> dict[str, Any]:
    ip = req.lookup(PublicIp, "ipaddressid")
    vm = req.lookup(VM, "virtualmachineid")
    public = _ports(req, "publicport", "publicendport")
    private = _ports(req, "privateport", "privateendport")
    protocol = _protocol(req)
    if protocol not in ("tcp", "udp"):
        raise ParamError(f"Invalid protocol {protocol} for port forwarding; tcp or udp only")
    if None not in (*public, *private) and (
            public[1] - public[0] != private[1] - private[0]):  # type: ignore[operator]
        raise ParamError("Source port and destination port ranges should be of equal sizes.")
    nics = req.manager.store.find(Nic, vm_id=vm.id)
    if ip.network_id is not None and not any(n.network_id == ip.network_id for n in nics):
        raise ParamError(f"Unable to create port forwarding rule: VM {vm.uuid} is not in the "
                         f"network of IP address {ip.address}")
    rule = req.manager.networks.add_rule(NetworkRule(
        "PortForwarding", ip.account_id, ip.network_id, protocol, ip_id=ip.id,
        start_port=public[0], end_port=public[1], private_port=private[0],
        private_end_port=private[1], vm_id=vm.id,
        cidrs=",".join(req.params.items("cidrlist")) or "0.0.0.0/0"))
    return _job(req, "portforwardingrule", lambda: rule, req.render.port_forwarding_rule, rule)


def _list_and_delete(kind: str, purpose: str, noun: str, render: str) -> None:
    def listing(req: Request) -> dict[str, Any]:
        renderer = (req.render.port_forwarding_rule if purpose == "PortForwarding"
                    else req.render.firewall_rule)
        return req.listing(render, _rules(req, purpose), renderer)

    def delete(req: Request) -> dict[str, Any]:
        rule = req.lookup(NetworkRule, "id")
        if rule.purpose != purpose:
            raise ParamError(f"Unable to find {noun} rule with id {rule.uuid}")
        manager = req.manager
        return _delete_job(req, lambda: manager.networks.delete_rule(rule))

    api(f"list{kind}s", f"Lists all {noun} rules", package="user.firewall", response=render,
        params=[*_LIST, P("ipaddressid", "uuid"), P("networkid", "uuid")])(listing)
    api(f"delete{kind}", f"Deletes a {noun} rule", is_async=True, package="user.firewall",
        params=[P("id", "uuid", True, f"the ID of the {noun} rule")])(delete)


_list_and_delete("FirewallRule", "Firewall", "firewall", "firewallrule")
_list_and_delete("EgressFirewallRule", "EgressFirewall", "egress firewall", "firewallrule")
_list_and_delete("PortForwardingRule", "PortForwarding", "port forwarding",
                 "portforwardingrule")
