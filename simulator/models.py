"""Plain state objects. No Flask, no SQL: the store persists them, the orchestrator changes
them, the API renders them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


def now() -> float:
    return time.time()


@dataclass
class Domain:
    name: str
    path: str = "ROOT"
    parent_id: int | None = None
    id: int = 0
    uuid: str = ""


@dataclass
class Account:
    name: str
    domain_id: int
    type: int = 0  # 0 user, 1 root admin, 2 domain admin
    state: str = "enabled"
    id: int = 0
    uuid: str = ""

    @property
    def account_id(self) -> int:
        return self.id

    @property
    def is_admin(self) -> bool:
        return self.type == 1


@dataclass
class User:
    username: str
    account_id: int
    password_hash: str = ""
    api_key: str = ""
    secret_key: str = ""
    firstname: str = ""
    lastname: str = ""
    email: str = ""
    state: str = "enabled"
    created: float = field(default_factory=now)
    id: int = 0
    uuid: str = ""


@dataclass
class Session:
    key: str
    user_id: int
    expires: float
    id: int = 0
    uuid: str = ""


@dataclass
class Zone:
    name: str
    id: int = 0
    uuid: str = ""


@dataclass
class Pod:
    name: str
    zone_id: int
    id: int = 0
    uuid: str = ""


@dataclass
class Cluster:
    name: str
    zone_id: int
    pod_id: int
    id: int = 0
    uuid: str = ""


@dataclass
class Host:
    name: str
    zone_id: int
    pod_id: int | None = None
    cluster_id: int | None = None
    url: str = ""  # the driver's URL; empty for the in-process simulated host
    status: str = "Up"  # Down while its agent does not answer
    enabled: bool = True  # resource state: a Disabled host takes no new VM
    tags: str = ""  # host tags, comma-separated: an offering's host tags choose among hosts
    created: float = field(default_factory=now)
    id: int = 0
    uuid: str = ""


@dataclass
class Template:
    """A template: one of the world's (no account: public and featured), or one an account
    registered (``registerTemplate``)."""

    name: str
    zone_id: int
    size: int = 2 << 30
    ostype: str = "Debian GNU/Linux 12 (64-bit)"
    guest_agent: bool = True
    account_id: int | None = None
    display_text: str = ""
    public: bool = True
    featured: bool = True
    format: str = "QCOW2"
    url: str = ""
    created: float = field(default_factory=now)
    removed: float | None = None
    id: int = 0
    uuid: str = ""


@dataclass
class ServiceOffering:
    name: str
    cpunumber: int = 1
    cpuspeed: int = 1000
    memory: int = 512  # MiB
    display_text: str = ""
    offer_ha: bool = False
    tags: str = ""  # storage tags the ROOT volume's pool must have, comma-separated
    host_tags: str = ""  # host tags the VM's host must have, comma-separated
    created: float = field(default_factory=now)
    removed: float | None = None
    id: int = 0
    uuid: str = ""


@dataclass
class DiskOffering:
    name: str
    disksize: int = 5  # GiB; 0 = custom
    display_text: str = ""
    tags: str = ""  # storage tags the volume's pool must have, comma-separated
    created: float = field(default_factory=now)
    removed: float | None = None
    id: int = 0
    uuid: str = ""

    @property
    def customized(self) -> bool:
        return self.disksize == 0


@dataclass
class VM:
    name: str
    instance_name: str
    account_id: int
    domain_id: int
    zone_id: int
    template_id: int
    service_offering_id: int
    host_id: int
    state: str = "Stopped"
    guest_agent: bool = True
    display_name: str = ""  # free text; the host name is ``name``
    keypair: str | None = None  # the names of its SSH key pairs, comma-separated
    userdata: str | None = None
    group: str | None = None  # the free-text group of updateVirtualMachine
    created: float = field(default_factory=now)
    removed: float | None = None
    id: int = 0
    uuid: str = ""

    @property
    def vm_id(self) -> int:
        return self.id


@dataclass
class Volume:
    name: str
    account_id: int
    domain_id: int
    zone_id: int
    type: str  # ROOT / DATADISK
    size: int  # bytes
    path: str
    vm_id: int | None = None
    device_id: int | None = None
    disk_offering_id: int | None = None
    state: str = "Ready"
    chain_size: int | None = None
    pool_id: int | None = None  # its StoragePool (None in records older than pools)
    attached: float | None = None  # when it was attached to its VM (None: with the VM)
    resizing_to: int | None = None  # the size asked for while Resizing (counted by limits)
    created: float = field(default_factory=now)
    removed: float | None = None
    id: int = 0
    uuid: str = ""


@dataclass
class VolumeSnapshot:
    name: str
    volume_id: int
    account_id: int
    domain_id: int
    zone_id: int
    vm_id: int | None = None
    vm_snapshot_id: int | None = None  # taken from a VM snapshot's copy of the volume
    state: str = "Allocated"
    physical_size: int = 0
    path: str | None = None  # what the host named its copy (the answer's path)
    created: float = field(default_factory=now)
    removed: float | None = None
    id: int = 0
    uuid: str = ""


@dataclass
class VMSnapshot:
    name: str  # internal name <instance>_VS_<timestamp>
    display_name: str
    vm_id: int
    account_id: int
    domain_id: int
    service_offering_id: int
    type: str = "Disk"
    description: str = ""
    state: str = "Allocated"
    current: bool | None = None
    parent_id: int | None = None
    quiesce: bool = False
    freeze_window_ms: float | None = None
    guest_pause_ms: float | None = None  # the host's figure for a memory snapshot
    physical_size: int | None = None  # bytes its creation added on storage
    created: float = field(default_factory=now)
    removed: float | None = None
    id: int = 0
    uuid: str = ""


@dataclass
class Tag:
    key: str
    value: str
    resource_type: str
    resource_id: int
    account_id: int
    id: int = 0
    uuid: str = ""


@dataclass
class AsyncJob:
    cmd: str
    account_id: int
    user_id: int
    instance_type: str | None = None
    instance_uuid: str | None = None
    status: int = 0  # 0 pending, 1 success, 2 failure
    result_code: int = 0
    result_type: str = "object"
    result: dict[str, Any] | None = None
    proc_status: int = 0
    created: float = field(default_factory=now)
    completed: float | None = None
    id: int = 0
    uuid: str = ""


@dataclass
class OsType:
    description: str
    category_id: int = 1
    id: int = 0
    uuid: str = ""


@dataclass
class StoragePool:
    """A primary storage pool of a zone: where its volumes live. ``path`` is a directory
    (Filesystem) or the Ceph pool (RBD, reached through the monitor at ``host``:``port``)."""

    name: str
    zone_id: int
    path: str
    type: str = "Filesystem"  # CloudStack's StoragePoolType name
    host: str = ""
    port: int = 0
    tags: str = ""  # CloudStack's storage tags, comma-separated
    capacity: int = 1 << 40
    created: float = field(default_factory=now)
    id: int = 0
    uuid: str = ""


@dataclass
class Network:
    """An account's isolated guest network; VMs get their default NIC on it."""

    name: str
    account_id: int
    domain_id: int
    zone_id: int
    cidr: str
    gateway: str
    netmask: str
    state: str = "Implemented"
    created: float = field(default_factory=now)
    removed: float | None = None
    id: int = 0
    uuid: str = ""


@dataclass
class SSHKeyPair:
    """An account's SSH key pair: the public half (the private one, when CloudStack made the
    pair, is handed out once and not kept)."""

    name: str
    account_id: int
    domain_id: int
    public_key: str  # OpenSSH form: "<type> <base64>"
    fingerprint: str  # MD5 of the key blob, colon-separated hex, as CloudStack's
    created: float = field(default_factory=now)
    removed: float | None = None
    id: int = 0
    uuid: str = ""


@dataclass
class HypervisorCapabilities:
    """What the cloud allows of a hypervisor: CloudStack's defaults for KVM."""

    hypervisor: str = "KVM"
    version: str = "default"
    max_guests: int = 50
    max_data_volumes: int = 32
    max_hosts_per_cluster: int | None = None
    security_group: bool = True
    storage_motion: bool = True
    vm_snapshot: bool = True  # false: createVMSnapshot is refused on this hypervisor
    created: float = field(default_factory=now)
    removed: float | None = None
    id: int = 0
    uuid: str = ""


@dataclass
class NetworkOffering:
    """A guest network offering; every account's network is of the one the world starts with
    (CloudStack's default isolated offering with source NAT)."""

    name: str
    display_text: str
    created: float = field(default_factory=now)
    removed: float | None = None
    id: int = 0
    uuid: str = ""


@dataclass
class Nic:
    vm_id: int
    network_id: int
    ip_address: str
    mac_address: str
    device_id: int = 0
    is_default: bool = True
    id: int = 0
    uuid: str = ""


@dataclass
class PublicIp:
    address: str
    account_id: int
    domain_id: int
    zone_id: int
    network_id: int | None
    state: str = "Allocated"
    source_nat: bool = False
    allocated: float = field(default_factory=now)
    id: int = 0
    uuid: str = ""


@dataclass
class NetworkRule:
    """A firewall, egress firewall or port forwarding rule, kept as a record."""

    purpose: str  # Firewall, EgressFirewall, PortForwarding
    account_id: int
    network_id: int | None
    protocol: str
    ip_id: int | None = None
    start_port: int | None = None
    end_port: int | None = None
    private_port: int | None = None
    private_end_port: int | None = None
    vm_id: int | None = None
    cidrs: str = ""
    icmp_type: int | None = None  # ICMP rules only (-1: any)
    icmp_code: int | None = None
    state: str = "Active"
    id: int = 0
    uuid: str = ""


@dataclass
class ResourceLimit:
    """An account's limit on one resource type (CloudStack's numbering); -1 is unlimited."""

    account_id: int
    resource_type: int
    max: int
    id: int = 0
    uuid: str = ""


# What tags may be put on: CloudStack's resource type name -> the record class.
TAGGABLE: dict[str, type[Any]] = {"VMSnapshot": VMSnapshot, "UserVm": VM, "Volume": Volume,
                                  "PublicIpAddress": PublicIp}
