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
    created: float = field(default_factory=now)
    id: int = 0
    uuid: str = ""


@dataclass
class Template:
    name: str
    zone_id: int
    size: int = 2 << 30
    ostype: str = "Debian GNU/Linux 12 (64-bit)"
    guest_agent: bool = True
    id: int = 0
    uuid: str = ""


@dataclass
class ServiceOffering:
    name: str
    cpunumber: int = 1
    cpuspeed: int = 1000
    memory: int = 512  # MiB
    created: float = field(default_factory=now)
    id: int = 0
    uuid: str = ""


@dataclass
class DiskOffering:
    name: str
    disksize: int = 5  # GiB; 0 = custom
    created: float = field(default_factory=now)
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
    state: str = "Allocated"
    physical_size: int = 0
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
