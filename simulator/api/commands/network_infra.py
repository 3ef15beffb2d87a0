"""The networking the simulator does not model: physical networks and their service
providers, virtual router elements, VLAN ranges, VPC offerings, load balancer rules, static
NAT rules and security groups (see ``api/unmodelled.py``). Guest networks, their offering,
public addresses and their rules are in ``networks.py``."""

from __future__ import annotations

from simulator.api.registry import P
from simulator.api.unmodelled import OWNED, PAGED, nothing_to_change, nothing_to_list

_SERVICES = P("servicelist", "list", description="the services the provider offers")
_TAGGED = [P("tags", "map", description="only the resources with these tags")]

nothing_to_list(
    "listPhysicalNetworks", "Lists the physical networks (the simulator models none).",
    admin=True, package="admin.network", response="physicalnetwork", params=[
        P("id", "uuid", description="the ID of the physical network"),
        P("zoneid", "uuid", description="the zone of the physical networks"),
        P("name", description="the name of the physical network"), *PAGED])

nothing_to_list(
    "listNetworkServiceProviders", "Lists the service providers of physical networks (the "
    "simulator models none).", admin=True, package="admin.network",
    response="networkserviceprovider", params=[
        P("physicalnetworkid", "uuid", description="the physical network of the providers"),
        P("name", description="the name of the provider"),
        P("state", description="Enabled, Disabled or Shutdown"), *PAGED])

nothing_to_change(
    "addNetworkServiceProvider", "Adds a service provider to a physical network (the "
    "simulator models none).", admin=True, is_async=True, package="admin.network",
    response="networkserviceprovider", target="physicalnetworkid", params=[
        P("physicalnetworkid", "uuid", True, "the physical network to add it to"),
        P("destinationphysicalnetworkid", "uuid", description="the physical network it "
          "bridges to"),
        P("name", required=True, description="the name of the provider"), _SERVICES])

nothing_to_change(
    "updateNetworkServiceProvider", "Updates a service provider of a physical network (the "
    "simulator models none).", admin=True, is_async=True, package="admin.network",
    response="networkserviceprovider", target="id", params=[
        P("id", "uuid", True, "the ID of the provider"),
        P("state", description="Enabled, Disabled or Shutdown"), _SERVICES])

nothing_to_list(
    "listVirtualRouterElements", "Lists the virtual router elements (the simulator models "
    "none).", admin=True, package="admin.router", response="virtualrouterelement", params=[
        P("id", "uuid", description="the ID of the element"),
        P("nspid", "uuid", description="the network service provider of the elements"),
        P("enabled", "boolean", description="only enabled, or disabled, elements"), *PAGED])

nothing_to_list(
    "listVlanIpRanges", "Lists the VLAN address ranges (the simulator models none).",
    admin=True, package="admin.vlan", response="vlaniprange", params=[
        P("id", "uuid", description="the ID of the range"),
        P("account", description="only the ranges of this account"),
        P("domainid", "uuid", description="only the ranges of this domain"),
        P("projectid", "uuid", description="only the ranges of this project"),
        P("zoneid", "uuid", description="the zone of the ranges"),
        P("podid", "uuid", description="the pod of the ranges"),
        P("networkid", "uuid", description="the network of the ranges"),
        P("physicalnetworkid", "uuid", description="the physical network of the ranges"),
        P("vlan", description="the VLAN of the ranges"),
        P("forvirtualnetwork", "boolean", description="true for public ranges"), *PAGED])

nothing_to_list(
    "listVPCOfferings", "Lists the VPC offerings (the simulator models none).",
    package="user.vpc", response="vpcoffering", params=[
        P("id", "uuid", description="the ID of the offering"),
        P("name", description="the name of the offering"),
        P("displaytext", description="the description of the offering"),
        P("isdefault", "boolean", description="only the default offering"),
        P("supportedservices", "list", description="only offerings with these services"),
        P("state", description="Enabled or Disabled"),
        P("domainid", "uuid", description="the domain the offerings are for", since="4.18"),
        P("zoneid", "uuid", description="the zone the offerings are for", since="4.13"),
        *PAGED])

nothing_to_list(
    "listLoadBalancerRules", "Lists the load balancer rules (the simulator models none).",
    package="user.loadbalancer", response="loadbalancerrule", params=[
        P("id", "uuid", description="the ID of the rule"),
        P("name", description="the name of the rule"),
        P("publicipid", "uuid", description="the public address of the rules"),
        P("virtualmachineid", "uuid", description="a VM the rules balance to"),
        P("zoneid", "uuid", description="the zone of the rules"),
        P("networkid", "uuid", description="the guest network of the rules"),
        P("fordisplay", "boolean", description="only rules shown to the end user",
          since="4.4"), *OWNED, *_TAGGED, *PAGED])

nothing_to_list(
    "listLoadBalancerRuleInstances", "Lists the VMs of a load balancer rule (the simulator "
    "models no rule).", package="user.loadbalancer", response="loadbalancerruleinstance",
    params=[P("id", "uuid", True, "the ID of the load balancer rule"),
            P("applied", "boolean", description="only the VMs the rule is applied to"),
            P("lbvmips", "boolean", description="with each VM's addresses in the rule"),
            *PAGED])

nothing_to_list(
    "listIpForwardingRules", "Lists the static NAT (IP forwarding) rules (the simulator "
    "models no static NAT).", package="user.nat", response="ipforwardingrule", params=[
        P("ipaddressid", "uuid", description="the public address of the rules"),
        P("id", "uuid", description="the ID of the rule"),
        P("virtualmachineid", "uuid", description="the VM of the rules"), *OWNED, *PAGED])

nothing_to_list(
    "listSecurityGroups", "Lists the security groups (the simulator's zones use none).",
    package="user.securitygroup", response="securitygroup", params=[
        P("securitygroupname", description="the name of the security group"),
        P("virtualmachineid", "uuid", description="the security groups of this VM"),
        P("id", "uuid", description="the ID of the security group"), *_TAGGED, *OWNED,
        *PAGED])
