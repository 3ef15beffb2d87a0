"""Lifecycle commands a management server sends besides snapshots, under CloudStack's own
class names, with the subset of fields the driver needs; and the project's own
``vmsnap.GuestDataCommand`` (what a test would do inside the guest over SSH)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import fields as mf
from marshmallow import validate

from driver.wire.base import (
    Command,
    CommandSchema,
    CommandType,
    Long,
    Name,
    Text,
    WireSchema,
    Wrapped,
)
from driver.wire.objects import (
    PRIMARY_DATASTORE,
    VOLUME_OBJECT,
    PrimaryDataStoreSchema,
    VolumeObjectSchema,
    VolumeObjectTO,
)

API = "com.cloud.agent.api."
STORAGE = "org.apache.cloudstack.storage.command."
SNAPSHOT_OBJECT = "org.apache.cloudstack.storage.to.SnapshotObjectTO"
GUEST_DATA = "vmsnap.GuestDataCommand"
HOST_VM_STATE_REPORT = "vmsnap.HostVmStateReportCommand"


@dataclass
class SnapshotObjectTO:
    path: str | None = None
    name: str | None = None
    id: int | None = None
    vmName: str | None = None
    volume: VolumeObjectTO | None = None
    dataStore: Any = None
    physicalSize: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class SnapshotObjectSchema(WireSchema):
    __model__ = SnapshotObjectTO
    path = Text(allow_none=True)
    name = Text(allow_none=True)
    id = Long(allow_none=True)
    vmName = Text(allow_none=True)
    volume = mf.Nested(VolumeObjectSchema, allow_none=True)
    dataStore = Wrapped({PRIMARY_DATASTORE: PrimaryDataStoreSchema}, allow_none=True)
    physicalSize = Long(allow_none=True)


DATA_TO = {VOLUME_OBJECT: VolumeObjectSchema, SNAPSHOT_OBJECT: SnapshotObjectSchema}


@dataclass
class DiskTO:
    data: Any = None
    diskSeq: int | None = None
    type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class DiskSchema(WireSchema):
    __model__ = DiskTO
    data = Wrapped(DATA_TO, required=True)
    diskSeq = Long(allow_none=True)
    type = Text(allow_none=True)


@dataclass
class VirtualMachineTO:
    name: str = ""
    uuid: str | None = None
    cpus: int = 1
    maxRam: int = 256 * 1024 * 1024
    disks: list[DiskTO] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


class VirtualMachineSchema(WireSchema):
    __model__ = VirtualMachineTO
    name = Name(required=True)
    uuid = Text(allow_none=True)
    cpus = Long(load_default=1, validate=validate.Range(min=1, max=256))
    maxRam = Long(load_default=256 * 1024 * 1024, validate=validate.Range(min=1))
    disks = mf.List(mf.Nested(DiskSchema), load_default=list)
    details = mf.Dict(keys=Text(), values=Text(), load_default=dict)


def _command_schema(model: type, **schema_fields: mf.Field) -> type[WireSchema]:
    return type(f"{model.__name__}Schema", (CommandSchema,),
                {"__model__": model, **schema_fields})


@dataclass
class StartCommand(Command):
    vm: VirtualMachineTO | None = None


@dataclass
class VmNameCommand(Command):
    """StopCommand, RebootCommand: the VM's name. ``undefine`` (the project's own field) asks
    the host to forget the stopped VM, as an expunge does."""

    vmName: str = ""
    undefine: bool = False


@dataclass
class DataCommand(Command):
    """CreateObjectCommand, DeleteCommand: one wrapped DataTO."""

    data: Any = None


@dataclass
class DiskCommand(Command):
    """AttachCommand, DettachCommand."""

    disk: DiskTO | None = None
    vmName: str = ""


@dataclass
class ResizeVolumeCommand(Command):
    path: str = ""
    pool: dict[str, Any] = field(default_factory=dict)
    currentSize: int | None = None
    newSize: int = 0
    shrinkOk: bool = False
    vmInstance: str | None = None


@dataclass
class GuestDataCommand(Command):
    vmName: str = ""
    op: str = ""
    deviceId: int = 0
    offset: int = 0
    length: int = 0
    data: str | None = None  # base64
    path: str | None = None
    key: str | None = None
    value: str | None = None


_VM = {"vmName": Name(required=True)}

@dataclass
class HostVmStateReportCommand(Command):
    """Ask a host for the power state of every VM it has. A CloudStack agent pushes this
    report (``PingRoutingCommand._hostVmStateReport``); over HTTP the management side
    pulls it, and the answer carries the same map: name -> ``{"state", "host"}``."""


COMMAND_TYPES: tuple[CommandType, ...] = (
    CommandType(API + "CheckVirtualMachineCommand", _command_schema(VmNameCommand, **_VM),
                API + "CheckVirtualMachineAnswer"),
    CommandType(HOST_VM_STATE_REPORT, _command_schema(HostVmStateReportCommand),
                "vmsnap.HostVmStateReportAnswer"),
    CommandType(API + "StartCommand", _command_schema(
        StartCommand, vm=mf.Nested(VirtualMachineSchema, required=True)), API + "StartAnswer"),
    CommandType(API + "StopCommand", _command_schema(
        VmNameCommand, undefine=mf.Boolean(load_default=False), **_VM), API + "StopAnswer"),
    CommandType(API + "RebootCommand", _command_schema(VmNameCommand, **_VM),
                API + "RebootAnswer"),
    CommandType(STORAGE + "CreateObjectCommand", _command_schema(
        DataCommand, data=Wrapped(DATA_TO, required=True)), STORAGE + "CreateObjectAnswer"),
    CommandType(STORAGE + "DeleteCommand", _command_schema(
        DataCommand, data=Wrapped(DATA_TO, required=True)), API + "Answer"),
    CommandType(STORAGE + "AttachCommand", _command_schema(
        DiskCommand, disk=mf.Nested(DiskSchema, required=True), **_VM),
        STORAGE + "AttachAnswer"),
    CommandType(STORAGE + "DettachCommand", _command_schema(
        DiskCommand, disk=mf.Nested(DiskSchema, required=True), **_VM),
        STORAGE + "DettachAnswer"),
    CommandType(API + "storage.ResizeVolumeCommand", _command_schema(
        ResizeVolumeCommand, path=Text(required=True),
        pool=mf.Dict(load_default=dict), currentSize=Long(allow_none=True),
        newSize=Long(required=True, validate=validate.Range(min=1)),
        shrinkOk=mf.Boolean(load_default=False), vmInstance=Text(allow_none=True)),
        API + "storage.ResizeVolumeAnswer"),
    CommandType(GUEST_DATA, _command_schema(
        GuestDataCommand, op=Text(required=True, validate=validate.OneOf(
            ["write", "read", "write_file", "read_file", "delete_file", "list_files",
             "set_memory", "get_memory"])),
        deviceId=Long(load_default=0, validate=validate.Range(min=0)),
        offset=Long(load_default=0, validate=validate.Range(min=0)),
        length=Long(load_default=0, validate=validate.Range(min=0, max=16 << 20)),
        data=Text(allow_none=True), path=Text(allow_none=True,
                                                        validate=validate.Length(max=4096)),
        key=Text(allow_none=True), value=Text(allow_none=True), **_VM),
        "vmsnap.GuestDataAnswer"),
)
