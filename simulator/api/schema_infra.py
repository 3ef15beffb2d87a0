"""Response objects of the cloud around the feature: the management server and region the
simulator is, its one guest network offering, and what it does not model (system VMs,
virtual routers, physical networks and their service providers, VLAN ranges, VPC offerings,
load balancer rules, static NAT rules, security and affinity groups, projects, ISOs, events,
usage records, snapshot policies).

Declared like ``schema.py``'s objects and added to the same ``OBJECTS``, so ``listApis`` lists
their fields and Marvin's generated classes carry them. Importing this module registers them;
the command modules that answer with them import it first.
"""

from __future__ import annotations

from simulator.api.schema import (
    NIC,
    OBJECTS,
    PORT_FORWARDING_RULE,
    TAG,
    TEMPLATE,
    VIRTUAL_MACHINE,
    F,
    Field,
    owner_fields,
    pod_fields,
    zone_fields,
)

_SERVICE = F("service", "list", "the network services offered",
             (F("name", description="the service's name"),
              F("provider", "list", "the providers of the service",
                (F("name", description="the provider's name"),))))


def _appliance(what: str) -> tuple[Field, ...]:
    """The fields a system VM and a virtual router share."""
    return (
        F("id", description=f"the ID of the {what}"),
        F("name", description=f"the name of the {what}"),
        F("state", description=f"the state of the {what}"),
        F("hostid", description=f"the ID of the host running the {what}"),
        F("hostname", description=f"the name of the host running the {what}"),
        F("hypervisor", description=f"the hypervisor of the {what}"),
        F("templateid", description=f"the ID of the template of the {what}"),
        F("templatename", description=f"the name of the template of the {what}"),
        F("serviceofferingid", description=f"the ID of the service offering of the {what}"),
        F("serviceofferingname", description=f"the name of the service offering of the {what}"),
        F("publicip", description=f"the public address of the {what}"),
        F("linklocalip", description=f"the link-local address of the {what}"),
        F("gateway", description=f"the gateway of the {what}"),
        F("dns1", description="the first DNS server"),
        F("dns2", description="the second DNS server"),
        F("version", description=f"the software version of the {what}"),
        F("created", "date", f"when the {what} was created"),
        *pod_fields(what), *zone_fields(what),
    )


SYSTEM_VM = (
    *_appliance("system VM"),
    F("systemvmtype", description="consoleproxy or secondarystoragevm"),
    F("agentstate", description="the state of the system VM's agent"),
    F("privateip", description="the private address of the system VM"),
    F("activeviewersessions", "integer", "the console sessions open through it"),
    F("isdynamicallyscalable", "boolean", "true if its CPU and memory can change running"),
)

ROUTER = (
    *_appliance("router"),
    F("role", description="VIRTUAL_ROUTER or another role"),
    F("guestipaddress", description="the router's address on the guest network"),
    F("guestnetworkid", description="the ID of the guest network it serves"),
    F("guestnetworkname", description="the name of the guest network it serves"),
    F("networkdomain", description="the network domain of the guest network"),
    F("vpcid", description="the ID of the VPC it serves"),
    F("vpcname", description="the name of the VPC it serves"),
    F("isredundantrouter", "boolean", "true if it is one of a redundant pair"),
    F("redundantstate", description="its state in a redundant pair"),
    F("requiresupgrade", "boolean", "true if its software is older than the cloud's"),
    F("healthchecksfailed", "boolean", "true if a health check failed"),
    F("nic", "set", "the NICs of the router", NIC),
    *owner_fields("router"),
)

MANAGEMENT_SERVER = (
    F("id", description="the ID of the management server"),
    F("name", description="the host name of the management server"),
    F("state", description="Up, Down, ..."),
    F("version", description="the CloudStack version it runs"),
    F("serviceip", description="the address its services listen on"),
    F("ipaddress", description="the address of the management server"),
)

REGION = (
    F("id", "integer", "the ID of the region"),
    F("name", description="the name of the region"),
    F("endpoint", description="the API endpoint of the region"),
    F("gslbserviceenabled", "boolean", "true if global server load balancing is offered"),
    F("portableipserviceenabled", "boolean", "true if portable addresses are offered"),
)

PHYSICAL_NETWORK = (
    F("id", description="the ID of the physical network"),
    F("name", description="the name of the physical network"),
    F("state", description="Enabled or Disabled"),
    F("vlan", description="the VLAN range of the physical network"),
    F("broadcastdomainrange", description="ZONE or POD"),
    F("isolationmethods", description="how guest networks are kept apart"),
    F("networkspeed", description="the speed of the physical network"),
    F("tags", description="the tags of the physical network"),
    F("domainid", description="the ID of the domain it is dedicated to"),
    *zone_fields("physical network"),
)

NETWORK_SERVICE_PROVIDER = (
    F("id", description="the ID of the provider"),
    F("name", description="the name of the provider"),
    F("state", description="Enabled, Disabled or Shutdown"),
    F("physicalnetworkid", description="the ID of the physical network it serves"),
    F("destinationphysicalnetworkid", description="the ID of the physical network it "
      "bridges to"),
    F("servicelist", "list", "the services it provides"),
    F("canenableindividualservice", "boolean", "true if its services can be enabled one by "
      "one"),
)

VIRTUAL_ROUTER_ELEMENT = (
    F("id", description="the ID of the virtual router element"),
    F("nspid", description="the ID of its network service provider"),
    F("enabled", "boolean", "true if it is enabled"),
    *owner_fields("virtual router element"),
)

VLAN_IP_RANGE = (
    F("id", description="the ID of the range"),
    F("vlan", description="the VLAN of the range"),
    F("forvirtualnetwork", "boolean", "true for public addresses of virtual networks"),
    F("forsystemvms", "boolean", "true if kept for system VMs"),
    F("description", description="a description of the range"),
    F("gateway", description="the gateway of the range"),
    F("netmask", description="the netmask of the range"),
    F("cidr", description="the CIDR of the range"),
    F("startip", description="the first address of the range"),
    F("endip", description="the last address of the range"),
    F("networkid", description="the ID of the network of the range"),
    F("physicalnetworkid", description="the ID of the physical network of the range"),
    F("zoneid", description="the ID of the zone of the range"),
    *pod_fields("range"), *owner_fields("range"),
)

NETWORK_OFFERING = (
    F("id", description="the ID of the network offering"),
    F("name", description="the name of the network offering"),
    F("displaytext", description="its description"),
    F("state", description="Enabled or Disabled"),
    F("traffictype", description="the traffic type it is for"),
    F("guestiptype", description="Isolated, Shared or L2"),
    F("isdefault", "boolean", "true if it is a default offering"),
    F("specifyvlan", "boolean", "true if a network of it names its VLAN"),
    F("specifyipranges", "boolean", "true if a network of it names its address ranges"),
    F("conservemode", "boolean", "true if a public address may carry several services"),
    F("availability", description="Required, Optional or Unavailable"),
    F("networkrate", "integer", "the data rate in megabits per second"),
    F("forvpc", "boolean", "true if it is for VPC tiers"),
    F("ispersistent", "boolean", "true if its networks are set up before any VM"),
    F("egressdefaultpolicy", "boolean", "true if egress is allowed by default"),
    F("tags", description="the tags of the offering"),
    F("created", "date", "when it was created"),
    _SERVICE,
)

VPC_OFFERING = (
    F("id", description="the ID of the VPC offering"),
    F("name", description="the name of the VPC offering"),
    F("displaytext", description="its description"),
    F("state", description="Enabled or Disabled"),
    F("isdefault", "boolean", "true if it is the default VPC offering"),
    F("distributedvpcrouter", "boolean", "true if its router is distributed"),
    F("created", "date", "when it was created"),
    _SERVICE,
)

LOAD_BALANCER_RULE = (
    F("id", description="the ID of the rule"),
    F("name", description="the name of the rule"),
    F("description", description="the description of the rule"),
    F("publicipid", description="the ID of the public address"),
    F("publicip", description="the public address"),
    F("publicport", description="the public port"),
    F("privateport", description="the private port"),
    F("algorithm", description="roundrobin, leastconn or source"),
    F("protocol", description="the protocol of the rule"),
    F("cidrlist", description="the source CIDRs, comma-separated"),
    F("networkid", description="the ID of the guest network"),
    F("state", description="the state of the rule"),
    F("fordisplay", "boolean", "true if shown to the end user"),
    F("tags", "list", "the tags of the rule", TAG),
    *zone_fields("rule"), *owner_fields("rule"),
)

EVENT = (
    F("id", description="the ID of the event"),
    F("type", description="the type of the event, e.g. VM.CREATE"),
    F("level", description="INFO, WARN or ERROR"),
    F("state", description="Created, Scheduled, Started or Completed"),
    F("description", description="what happened"),
    F("username", description="the user who caused it"),
    F("created", "date", "when it happened"),
    F("parentid", description="the ID of the event that started it"),
    F("resourceid", description="the ID of the resource concerned"),
    F("resourcetype", description="the type of the resource concerned"),
    F("resourcename", description="the name of the resource concerned"),
    F("archived", "boolean", "true if archived"),
    *owner_fields("event"),
)

ISO = (*TEMPLATE, F("bootable", "boolean", "true if a VM can boot from it"))

SNAPSHOT_POLICY = (
    F("id", description="the ID of the policy"),
    F("volumeid", description="the ID of the volume it snapshots"),
    F("volumename", description="the name of the volume it snapshots"),
    F("schedule", description="when it runs"),
    F("intervaltype", "short", "0 hourly, 1 daily, 2 weekly, 3 monthly"),
    F("maxsnaps", "integer", "the most snapshots it keeps"),
    F("timezone", description="the time zone of the schedule"),
    F("fordisplay", "boolean", "true if shown to the end user"),
)

USAGE_RECORD = (
    F("usageid", description="the ID of the resource used"),
    F("usagetype", "integer", "the usage type number"),
    F("type", description="the resource type"),
    F("description", description="what was used"),
    F("usage", description="the usage, with its unit"),
    F("rawusage", description="the usage as a number"),
    F("startdate", "date", "the start of the period"),
    F("enddate", "date", "the end of the period"),
    F("accountid", description="the ID of the account"),
    F("zoneid", description="the ID of the zone"),
    F("virtualmachineid", description="the ID of the VM"),
    F("name", description="the name of the resource"),
    F("offeringid", description="the ID of the offering"),
    F("templateid", description="the ID of the template"),
    F("networkid", description="the ID of the network"),
    F("size", "long", "the size in bytes"),
    F("virtualsize", "long", "the virtual size in bytes"),
    F("issourcenat", "boolean", "true for a source NAT address"),
    F("issystem", "boolean", "true for a system resource"),
    F("isdefault", "boolean", "true for a default NIC"),
    *owner_fields("usage"),
)

# A static NAT rule: a port forwarding rule's address, VM and network fields, with its own
# port range.
IP_FORWARDING_RULE = (
    F("id", description="the ID of the rule"),
    F("protocol", description="the protocol of the rule"),
    F("startport", "integer", "the first port"), F("endport", "integer", "the last port"),
    *(f for f in PORT_FORWARDING_RULE if f.name not in {
        "id", "protocol", "publicport", "publicendport", "privateport", "privateendport"}),
)

SECURITY_GROUP = (
    F("id", description="the ID of the security group"),
    F("name", description="the name of the security group"),
    F("description", description="its description"),
    F("virtualmachinecount", "integer", "the number of VMs in it"),
    F("virtualmachineids", "set", "the IDs of the VMs in it"),
    *owner_fields("security group"),
)

AFFINITY_GROUP = (
    F("id", description="the ID of the affinity group"),
    F("name", description="the name of the affinity group"),
    F("description", description="its description"),
    F("type", description="host affinity or host anti-affinity"),
    F("virtualmachineIds", "list", "the IDs of the VMs in it"),
    *owner_fields("affinity group"),
)

PROJECT = (
    F("id", description="the ID of the project"),
    F("name", description="the name of the project"),
    F("displaytext", description="its description"),
    F("state", description="Active, Disabled or Suspended"),
    F("created", "date", "when it was created"),
    F("domainid", description="the ID of the domain of the project"),
    F("domain", description="the name of the domain of the project"),
)

OBJECTS.update({
    "ipforwardingrule": IP_FORWARDING_RULE, "securitygroup": SECURITY_GROUP,
    "affinitygroup": AFFINITY_GROUP, "project": PROJECT,
    "systemvm": SYSTEM_VM, "router": ROUTER, "managementserver": MANAGEMENT_SERVER,
    "region": REGION, "physicalnetwork": PHYSICAL_NETWORK,
    "networkserviceprovider": NETWORK_SERVICE_PROVIDER,
    "virtualrouterelement": VIRTUAL_ROUTER_ELEMENT, "vlaniprange": VLAN_IP_RANGE,
    "networkoffering": NETWORK_OFFERING, "vpcoffering": VPC_OFFERING,
    "loadbalancerrule": LOAD_BALANCER_RULE, "loadbalancerruleinstance": VIRTUAL_MACHINE,
    "event": EVENT, "iso": ISO, "snapshotpolicy": SNAPSHOT_POLICY,
    "usagerecord": USAGE_RECORD,
})
