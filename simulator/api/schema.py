"""The response objects the API renders, declared once: ``listApis`` describes commands from
these declarations, and a test renders every object and holds it to them, so the two cannot
drift.

Objects of the cloud around the feature that the simulator does not model (system VMs,
routers, physical networks, ...) are declared beside these, in ``schema_infra.py``.

A field is ``(name, type, description)``; a list or object field carries its own fields.
The type names are CloudStack's (``string``, ``integer``, ``long``, ``boolean``, ``date``,
``list``, ``set``, ``map``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "string"
    description: str = ""
    fields: tuple[Field, ...] = ()
    admin: bool = False  # shown to admins only (CloudStack's ResponseView.Full)

    def describe(self) -> dict[str, object]:
        """This field as ``listApis`` lists it (nested fields under ``response``)."""
        out: dict[str, object] = {"name": self.name, "type": self.type,
                                  "description": self.description}
        if self.fields:
            out["response"] = [f.describe() for f in self.fields]
        return out


def F(name: str, type: str = "string", description: str = "",  # noqa: N802
      fields: tuple[Field, ...] = (), *, admin: bool = False) -> Field:
    return Field(name, type, description, fields, admin)


def owner_fields(what: str) -> tuple[Field, ...]:
    """The account and domain fields of an owned object."""
    return (F("account", description=f"the account owning the {what}"),
            F("domainid", description=f"the ID of the domain of the {what}"),
            F("domain", description=f"the name of the domain of the {what}"),
            F("domainpath", description=f"the path of the domain of the {what}"))


def zone_fields(what: str) -> tuple[Field, ...]:
    """The zone fields of an object that lives in a zone."""
    return (F("zoneid", description=f"the ID of the zone of the {what}"),
            F("zonename", description=f"the name of the zone of the {what}"))


TAG = (F("key", description="the tag key"), F("value", description="the tag value"),
       F("resourcetype", description="the type of the tagged resource"),
       F("resourceid", description="the ID of the tagged resource"), *owner_fields("tag"))

_TAGS = F("tags", "set", "the tags of the resource", TAG)

NIC = (
    F("id", description="the ID of the NIC"),
    F("networkid", description="the ID of the network of the NIC"),
    F("networkname", description="the name of the network of the NIC"),
    F("ipaddress", description="the IPv4 address of the NIC"),
    F("netmask", description="the netmask of the NIC"),
    F("gateway", description="the gateway of the NIC's network"),
    F("macaddress", description="the MAC address of the NIC"),
    F("isdefault", "boolean", "true if this is the VM's default NIC"),
    F("traffictype", description="the traffic type of the NIC"),
    F("type", description="the type of the NIC's network"),
    F("deviceid", description="the device number of the NIC in the VM"),
    F("broadcasturi", description="the broadcast URI of the NIC"),
    F("isolationuri", description="the isolation URI of the NIC"),
    F("virtualmachineid", description="the ID of the VM of the NIC"),
)

VM_SNAPSHOT = (
    F("id", description="the ID of the VM snapshot"),
    F("name", description="the internal name of the VM snapshot"),
    F("displayname", description="the display name of the VM snapshot"),
    F("description", description="the description of the VM snapshot"),
    F("state", description="the state of the VM snapshot"),
    F("type", description="Disk or DiskAndMemory"),
    F("current", "boolean", "true if the VM's disks are based on this snapshot"),
    F("parent", description="the ID of the parent VM snapshot"),
    F("parentName", description="the display name of the parent VM snapshot"),
    F("virtualmachineid", description="the ID of the VM"),
    F("virtualmachinename", description="the name of the VM"),
    F("created", "date", "when the VM snapshot was created"),
    *zone_fields("VM snapshot"), *owner_fields("VM snapshot"),
    F("hypervisor", description="the hypervisor of the VM"),
    F("quiescevm", "boolean", "true if the guest was quiesced for the snapshot"),
    F("freezewindowms", "long", "how long the guest's file systems were frozen, in ms"),
    F("guestpausems", "long", "how long the guest was paused, in ms"),
    F("physicalsize", "long", "the bytes the snapshot added on primary storage"),
    _TAGS,
)

VIRTUAL_MACHINE = (
    F("id", description="the ID of the VM"), F("name", description="the name of the VM"),
    F("displayname", description="the display name of the VM"),
    F("instancename", description="the hypervisor's name of the VM", admin=True),
    F("state", description="the state of the VM"),
    F("templateid", description="the ID of the VM's template"),
    F("templatename", description="the name of the VM's template"),
    F("ostypeid", description="the ID of the VM's OS type"),
    F("serviceofferingid", description="the ID of the service offering"),
    F("serviceofferingname", description="the name of the service offering"),
    F("cpunumber", "integer", "the number of CPUs"), F("cpuspeed", "integer", "CPU MHz"),
    F("memory", "integer", "memory in MiB"),
    F("hostid", description="the ID of the host running the VM", admin=True),
    F("hostname", description="the name of the host running the VM", admin=True),
    F("hypervisor", description="the hypervisor of the VM"),
    F("created", "date", "when the VM was created"), *zone_fields("VM"), *owner_fields("VM"),
    F("guestagent", "boolean", "true if the template ships a guest agent"),
    F("vmsnapshotcount", "integer", "the number of the VM's VM snapshots"),
    F("passwordenabled", "boolean", "true if the template resets passwords"),
    F("keypair", description="the SSH key pairs of the VM, comma-separated (CloudStack "
      "before 4.17)"),
    F("keypairs", description="the SSH key pairs of the VM, comma-separated"),
    F("userdata", description="the base64 user data of the VM"),
    F("diskofferingid", description="the ID of the disk offering of the data disk"),
    F("diskofferingname", description="the name of the disk offering of the data disk"),
    F("nic", "set", "the NICs of the VM", NIC), _TAGS,
    F("templatedisplaytext", description="the display text of the VM's template"),
    F("group", description="the group of the VM"),
    F("securitygroup", "set", "the security groups of the VM (none here)"),
    F("affinitygroup", "set", "the affinity groups of the VM (none here)"),
)

VOLUME = (
    F("id", description="the ID of the volume"), F("name", description="the volume's name"),
    F("type", description="ROOT or DATADISK"), F("size", "long", "the size in bytes"),
    F("state", description="the state of the volume"),
    F("virtualmachineid", description="the ID of the VM it is attached to"),
    F("vmname", description="the name of the VM it is attached to"),
    F("vmdisplayname", description="the display name of the VM it is attached to"),
    F("vmstate", description="the state of the VM it is attached to"),
    F("deviceid", "long", "the device number in the VM"),
    F("attached", "date", "when it was attached to its VM (absent when it is not)"),
    F("destroyed", "boolean", "whether the volume is destroyed"),
    F("diskofferingid", description="the ID of the disk offering"),
    F("diskofferingname", description="the name of the disk offering"),
    F("created", "date", "when the volume was created"),
    F("storage", description="the name of the storage pool", admin=True),
    F("storageid", description="the ID of the storage pool", admin=True),
    F("storagetype", description="shared or local", admin=True),
    F("hypervisor", description="the hypervisor", admin=True),
    F("provisioningtype", description="thin, sparse or fat"),
    F("path", description="the path of the volume on its pool", admin=True),
    F("vmsnapshotchainsize", "long", "the bytes its VM snapshots use"),
    *zone_fields("volume"), *owner_fields("volume"), _TAGS,
)

SNAPSHOT = (
    F("id", description="the ID of the snapshot"), F("name", description="its name"),
    F("state", description="the state of the snapshot"),
    F("snapshottype", description="MANUAL or RECURRING"),
    F("intervaltype", description="the interval type"),
    F("created", "date", "when the snapshot was created"),
    F("volumeid", description="the ID of the volume"),
    F("volumename", description="the name of the volume"),
    F("volumetype", description="the type of the volume"),
    F("physicalsize", "long", "the bytes it uses"),
    F("virtualsize", "long", "the size of the volume"),
    F("hypervisor", description="the hypervisor"),
    F("vmsnapshotid", description="the VM snapshot it was taken from"),
    *zone_fields("snapshot"), *owner_fields("snapshot"),
)

ZONE = (
    F("id", description="the ID of the zone"), F("name", description="the zone's name"),
    F("allocationstate", description="Enabled or Disabled"),
    F("networktype", description="Basic or Advanced"),
    F("securitygroupsenabled", "boolean", "true if security groups are on"),
    F("localstorageenabled", "boolean", "true if local storage is offered"),
)


def pod_fields(what: str) -> tuple[Field, ...]:
    """The pod fields of an object that lives in a pod."""
    return (F("podid", description=f"the ID of the pod of the {what}"),
            F("podname", description=f"the name of the pod of the {what}"))


HOST = (
    F("id", description="the ID of the host"), F("name", description="the host's name"),
    F("state", description="Up, or Down while its agent does not answer"),
    F("type", description="the host's type"), F("hypervisor", description="the hypervisor"),
    F("resourcestate", description="Enabled, or Disabled: it takes no new VM"),
    F("hosttags", description="its host tags, comma-separated"),
    F("created", "date", "when the host was added"),
    F("clusterid", description="the ID of the host's cluster"),
    F("clustername", description="the name of the host's cluster"),
    F("clustertype", description="the type of the host's cluster"),
    F("islocalstorageactive", "boolean", "true if local storage is active"),
    F("details", "map", "what the host's agent reports of itself (Host.OS, ...)"),
    *pod_fields("host"), *zone_fields("host"),
)

CLUSTER = (
    F("id", description="the ID of the cluster"), F("name", description="its name"),
    F("hypervisortype", description="the hypervisor of its hosts"),
    F("clustertype", description="CloudManaged or ExternalManaged"),
    F("allocationstate", description="Enabled or Disabled"),
    F("managedstate", description="whether the cluster is managed"),
    *pod_fields("cluster"), *zone_fields("cluster"),
)

POD = (F("id", description="the ID of the pod"), F("name", description="its name"),
       F("allocationstate", description="Enabled or Disabled"), *zone_fields("pod"))

TEMPLATE = (
    F("id", description="the ID of the template"), F("name", description="its name"),
    F("displaytext", description="its description"),
    F("isready", "boolean", "true if it can be deployed"),
    F("ispublic", "boolean", "true if public"), F("isfeatured", "boolean", "true if featured"),
    F("format", description="the disk format"), F("hypervisor", description="the hypervisor"),
    F("ostypeid", description="the ID of its OS type"),
    F("ostypename", description="the name of its OS type"),
    F("size", "long", "the size in bytes"),
    F("templatetype", description="BUILTIN, USER, ..."),
    F("passwordenabled", "boolean", "true if it resets passwords"),
    F("guestagent", "boolean", "true if it ships a guest agent"),
    *owner_fields("template"),
    F("url", description="where it was registered from"),
    F("directdownload", "boolean", "true if deployed straight from its URL"),
    F("created", "date", "when it was registered"), *zone_fields("template"),
)

OS_TYPE = (F("id", description="the ID of the OS type"),
           F("description", description="the name of the OS type"),
           F("name", description="the name of the OS type"),
           F("oscategoryid", description="the ID of its OS category"),
           F("isuserdefined", "boolean", "true if added by an operator"))

SERVICE_OFFERING = (
    F("id", description="the ID of the offering"), F("name", description="its name"),
    F("displaytext", description="its description"),
    F("cpunumber", "integer", "the number of CPUs"), F("cpuspeed", "integer", "CPU MHz"),
    F("memory", "integer", "memory in MiB"), F("created", "date", "when it was created"),
    F("storagetype", description="shared or local"),
    F("offerha", "boolean", "true if HA is offered"),
    F("iscustomized", "boolean", "true if the CPU and memory are chosen at deploy"),
    F("storagetags", description="the storage tags its ROOT volume's pool must have"),
    F("hosttags", description="the host tags its VMs' hosts must have"),
)

DISK_OFFERING = (
    F("id", description="the ID of the offering"), F("name", description="its name"),
    F("displaytext", description="its description"),
    F("disksize", "long", "the size in GB (0 when custom)"),
    F("iscustomized", "boolean", "true if the size is chosen by the user"),
    F("created", "date", "when it was created"), F("storagetype", description="shared or local"),
    F("tags", description="the storage tags its volumes' pool must have"),
)

DOMAIN = (F("id", description="the ID of the domain"), F("name", description="its name"),
          F("path", description="its path"), F("level", "integer", "its depth"),
          F("parentdomainid", description="the ID of its parent"))

USER = (
    F("id", description="the ID of the user"), F("username", description="the user name"),
    F("firstname", description="the first name"), F("lastname", description="the last name"),
    F("email", description="the e-mail address"), F("state", description="the user's state"),
    F("created", "date", "when the user was created"),
    F("accountid", description="the ID of the user's account"),
    F("accounttype", "integer", "the type of the user's account"),
    F("roletype", description="Admin or User"),
    F("apikey", description="the user's API key, once registered"),
    F("secretkey", description="the user's secret key, once registered"),
    *owner_fields("user"),
)

ACCOUNT = (
    F("id", description="the ID of the account"), F("name", description="its name"),
    F("accounttype", "integer", "0 user, 1 root admin, 2 domain admin"),
    F("state", description="the account's state"), F("roletype", description="Admin or User"),
    F("domainid", description="the ID of its domain"),
    F("domain", description="the name of its domain"),
    F("user", "list", "the users of the account", USER),
)

JOB = (
    F("accountid", description="the ID of the account that ran the job"),
    F("account", description="the account that ran the job"),
    F("domainid", description="the ID of the domain of that account"),
    F("domainpath", description="the path of the domain of that account"),
    F("userid", description="the ID of the user that ran the job"),
    F("cmd", description="the command's class"),
    F("jobstatus", "integer", "0 pending, 1 succeeded, 2 failed"),
    F("jobprocstatus", "integer", "the progress status"),
    F("jobresultcode", "integer", "the result code"),
    F("jobresulttype", description="the type of the result"),
    F("jobresult", "object", "the result of the job"),
    F("created", "date", "when the job was created"),
    F("completed", "date", "when the job completed"), F("jobid", description="the job's ID"),
    F("jobinstancetype", description="the type of the object the job works on"),
    F("jobinstanceid", description="the ID of the object the job works on"),
)

USER_KEYS = (F("apikey", description="the API key"),
             F("secretkey", description="the secret key"))

CAPABILITY = (
    F("cloudstackversion", description="the version"),
    F("apilimitinterval", "integer", "the API limit interval in seconds"),
    F("apilimitmax", "integer", "the API limit"),
    F("allowusercreateprojects", "boolean", "true if users may create projects"),
    F("kvmsnapshotenabled", "boolean", "true if KVM volume snapshots are enabled"),
    F("userpublictemplateenabled", "boolean", "true if users may publish templates"),
    F("kubernetesserviceenabled", "boolean", "true if the Kubernetes service is on"),
    F("customdiskofferingmaxsize", "long", "the largest custom disk in GB"),
    F("vmsnapshotmax", "integer", "the most VM snapshots a VM may have"),
    F("vmsnapshotofferingchange", description="what an offering change does to snapshots"),
)

CONFIGURATION = (F("name", description="the setting"), F("value", description="its value"),
                 F("category", description="its category"),
                 F("description", description="what it does"),
                 F("isdynamic", "boolean", "true if it applies without a restart"),
                 F("scope", description="global, or account if an account may have its own"),
                 F("accountid", description="the account whose own value this is"))

SUCCESS = (F("success", "boolean", "true if the operation succeeded"),
           F("displaytext", description="any text about the result"))

NETWORK = (
    F("id", description="the ID of the network"), F("name", description="its name"),
    F("displaytext", description="its description"), F("state", description="its state"),
    F("type", description="Isolated, Shared or L2"),
    F("traffictype", description="the traffic type"),
    F("cidr", description="the guest CIDR"), F("gateway", description="the gateway"),
    F("netmask", description="the netmask"),
    F("isdefault", "boolean", "true if it is the account's default network"),
    F("networkofferingid", description="the ID of the network offering"),
    F("networkofferingname", description="the name of the network offering"),
    F("networkofferingdisplaytext", description="the description of the network offering"),
    F("networkofferingavailability", description="the availability of the network offering"),
    F("created", "date", "when it was created"), *zone_fields("network"), *owner_fields("network"),
)

PUBLIC_IP = (
    F("id", description="the ID of the address"),
    F("ipaddress", description="the public IPv4 address"),
    F("state", description="Allocating, Allocated or Releasing"),
    F("allocated", "date", "when it was acquired"),
    F("issourcenat", "boolean", "true if it is the network's source NAT address"),
    F("isstaticnat", "boolean", "true if static NAT is on"),
    F("associatednetworkid", description="the ID of the network it serves"),
    F("associatednetworkname", description="the name of the network it serves"),
    F("forvirtualnetwork", "boolean", "true for a virtual network"),
    *zone_fields("address"), *owner_fields("address"), _TAGS,
)

FIREWALL_RULE = (
    F("id", description="the ID of the rule"), F("protocol", description="tcp, udp, icmp or all"),
    F("startport", "integer", "the first port"), F("endport", "integer", "the last port"),
    F("icmptype", "integer", "the ICMP type (ICMP rules; -1: any)"),
    F("icmpcode", "integer", "the ICMP code (ICMP rules; -1: any)"),
    F("cidrlist", description="the source CIDRs, comma-separated"),
    F("destcidrlist", description="the destination CIDRs, comma-separated"),
    F("ipaddressid", description="the ID of the public address"),
    F("ipaddress", description="the public address"),
    F("networkid", description="the ID of the network"),
    F("traffictype", description="Ingress or Egress"), F("state", description="its state"),
)

PORT_FORWARDING_RULE = (
    F("id", description="the ID of the rule"), F("protocol", description="tcp or udp"),
    F("publicport", description="the first public port"),
    F("publicendport", description="the last public port"),
    F("privateport", description="the first private port"),
    F("privateendport", description="the last private port"),
    F("ipaddressid", description="the ID of the public address"),
    F("ipaddress", description="the public address"),
    F("virtualmachineid", description="the ID of the VM"),
    F("virtualmachinename", description="the name of the VM"),
    F("virtualmachinedisplayname", description="the display name of the VM"),
    F("vmguestip", description="the VM's address the traffic goes to"),
    F("networkid", description="the ID of the network"),
    F("cidrlist", description="the source CIDRs, comma-separated"),
    F("state", description="its state"),
)

STORAGE_POOL = (
    F("id", description="the ID of the pool"), F("name", description="its name"),
    F("type", description="the pool type, e.g. Filesystem, NetworkFilesystem or RBD"),
    F("state", description="Up, Maintenance, ..."), F("scope", description="HOST, CLUSTER or ZONE"),
    F("path", description="where the pool lives (the Ceph pool for RBD)"),
    F("ipaddress", description="the pool's server (a Ceph monitor for RBD)"),
    F("tags", description="the storage tags, comma-separated"),
    F("hypervisor", description="the hypervisor"),
    F("disksizetotal", "long", "the pool's size in bytes"),
    F("disksizeused", "long", "the bytes in use"),
    F("disksizeallocated", "long", "the bytes allocated to volumes"),
    F("created", "date", "when it was added"), *zone_fields("pool"),
)

RESOURCE_LIMIT = (
    F("resourcetype", description="the resource type number"),
    F("resourcetypename", description="the resource type name"),
    F("max", "long", "the limit; -1 is unlimited"),
    F("accountid", description="the ID of the account"), *owner_fields("limit"),
)

LOGIN = (F("sessionkey", description="the session key to send with each request"),
         F("timeout", "integer", "seconds the session lasts without use"),
         F("username", description="the user name"), F("userid", description="the user's ID"),
         F("account", description="the user's account"),
         F("domainid", description="the ID of the user's domain"),
         F("type", "integer", "the account type"),
         F("firstname", description="the first name"),
         F("lastname", description="the last name"),
         F("registered", "boolean", "true if the user registered keys"))

LOGOUT = (F("description", description="success"),)

API_PARAM = (F("name", description="the parameter's name"),
             F("type", description="the parameter's type"),
             F("required", "boolean", "true if the parameter is required"),
             F("description", description="what the parameter means"),
             F("length", "integer", "the longest value accepted"),
             F("since", description="the version that added it"),
             F("related", description="commands related to it"))

API_RESPONSE = (F("name", description="the field's name"),
                F("type", description="the field's type"),
                F("description", description="what the field means"),
                F("response", "set", "the fields of a nested object or list"))

API = (F("name", description="the command"), F("description", description="what it does"),
       F("isasync", "boolean", "true if it runs as an async job"),
       F("since", description="the version that added it"),
       F("type", description="the response type"),
       F("related", description="related commands"),
       F("params", "set", "the parameters", API_PARAM),
       F("response", "set", "the response fields", API_RESPONSE))

RECONCILIATION = (
    F("virtualmachineid", description="the ID of the VM the difference concerns"),
    F("instancename", description="the VM's instance name on its host"),
    F("kind", description="power, missing-on-host, orphan-on-host or error-but-on-host"),
    F("vmsnapshotname", description="the VM snapshot's name on the host, if one is concerned"),
    F("detail", description="what differs"),
    F("repaired", "boolean", "true if repair=true fixed it"))

# Response object name (as a command declares it, case-insensitive) -> its fields.
HYPERVISOR_CAPABILITIES = (
    F("id", description="the ID of the hypervisor capabilities row"),
    F("hypervisor", description="the hypervisor type"),
    F("hypervisorversion", description="the hypervisor version"),
    F("maxguestslimit", "long", "the maximum number of guest VMs per host"),
    F("maxdatavolumeslimit", "integer", "the maximum number of data volumes a VM may have"),
    F("maxhostspercluster", "integer", "the maximum number of hosts per cluster"),
    F("securitygroupenabled", "boolean", "true if security groups are supported"),
    F("storagemotionenabled", "boolean", "true if storage motion is supported"),
    F("vmsnapshotenabled", "boolean", "true if VM snapshots are enabled"),
)

SSH_KEY_PAIR = (
    F("id", description="the ID of the key pair"), F("name", description="its name"),
    F("fingerprint", description="the MD5 fingerprint of its public key"),
    *owner_fields("key pair"),
)

OBJECTS: dict[str, tuple[Field, ...]] = {
    "sshkeypair": SSH_KEY_PAIR, "hypervisorcapabilities": HYPERVISOR_CAPABILITIES,
    "keypair": (*SSH_KEY_PAIR, F("privatekey", description="the private key (only when the "
                                   "simulator made the pair; not kept)")),
    "vmsnapshot": VM_SNAPSHOT, "virtualmachine": VIRTUAL_MACHINE, "volume": VOLUME,
    "snapshot": SNAPSHOT, "zone": ZONE, "host": HOST, "cluster": CLUSTER, "pod": POD,
    "template": TEMPLATE, "ostype": OS_TYPE,
    "serviceoffering": SERVICE_OFFERING, "diskoffering": DISK_OFFERING, "domain": DOMAIN,
    "user": USER, "account": ACCOUNT, "asyncjobs": JOB, "userkeys": USER_KEYS,
    "capability": CAPABILITY, "configuration": CONFIGURATION, "success": SUCCESS,
    "api": API, "tag": TAG, "network": NETWORK, "nic": NIC, "ipaddress": PUBLIC_IP,
    "publicipaddress": PUBLIC_IP, "firewallrule": FIREWALL_RULE,
    "portforwardingrule": PORT_FORWARDING_RULE, "storagepool": STORAGE_POOL,
    "resourcelimit": RESOURCE_LIMIT, "login": LOGIN, "logout": LOGOUT,
    "reconciliation": RECONCILIATION,
}


def fields_of(response: str) -> tuple[Field, ...]:
    """The declared fields of a response object name (KeyError if undeclared)."""
    return OBJECTS[response.lower()]


def undeclared(value: object, fields: tuple[Field, ...], path: str = "") -> list[str]:
    """The keys of a rendered object (recursively) that ``fields`` does not declare."""
    if isinstance(value, list):
        return [k for item in value for k in undeclared(item, fields, path)]
    if not isinstance(value, dict):
        return []
    by_name = {f.name: f for f in fields}
    out = []
    for key, inner in value.items():
        field = by_name.get(key)
        if field is None:
            out.append(path + key)
        elif field.fields:
            out += undeclared(inner, field.fields, f"{path}{key}.")
    return out


def for_user(value: object, fields: tuple[Field, ...] = ()) -> object:
    """``value`` as an ordinary user sees it: the admin-only fields of every declared
    object in it dropped, wherever it appears (under its object name, nested in another,
    or in a job's result)."""
    if isinstance(value, list):
        return [for_user(item, fields) for item in value]
    if not isinstance(value, dict):
        return value
    by_name = {f.name: f for f in fields}
    out = {}
    for key, inner in value.items():
        field = by_name.get(key)
        if field is not None and field.admin:
            continue
        if not isinstance(inner, (dict, list)):
            out[key] = inner
        elif field is not None and field.fields:
            out[key] = for_user(inner, field.fields)
        else:
            out[key] = for_user(inner, OBJECTS.get(key, ()))
    return out
