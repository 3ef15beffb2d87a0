"""Agent commands and answers: CloudStack class names, fields and their schemas."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import fields as mf
from marshmallow import validate

from driver.wire import lifecycle
from driver.wire.base import Command, CommandSchema, CommandType, Long, Name, Text, WireSchema
from driver.wire.objects import VMSnapshotSchema, VMSnapshotTO, VolumeObjectSchema, VolumeObjectTO

API = "com.cloud.agent.api."


# --- commands -------------------------------------------------------------------------------


@dataclass
class VMSnapshotCommand(Command):
    """``VMSnapshotBaseCommand``: the VM, its volumes and the snapshot acted on."""

    vmName: str = ""
    target: VMSnapshotTO | None = None
    volumeTOs: list[VolumeObjectTO] | None = None
    guestOSType: str | None = None
    platformEmulator: str | None = None
    vmUuid: str | None = None
    reloadVm: bool | None = None


class VMSnapshotCommandSchema(CommandSchema):
    __model__ = VMSnapshotCommand
    vmName = Name(required=True)
    target = mf.Nested(VMSnapshotSchema, allow_none=True)
    volumeTOs = mf.List(mf.Nested(VolumeObjectSchema), allow_none=True)
    guestOSType = Text(allow_none=True)
    platformEmulator = Text(allow_none=True)
    vmUuid = Text(allow_none=True)
    reloadVm = mf.Boolean(allow_none=True)


@dataclass
class RestoreVMSnapshotCommand(VMSnapshotCommand):
    snapshots: list[VMSnapshotTO] = field(default_factory=list)
    snapshotAndParents: dict[str, VMSnapshotTO | None] = field(default_factory=dict)


class RestoreVMSnapshotCommandSchema(VMSnapshotCommandSchema):
    __model__ = RestoreVMSnapshotCommand
    snapshots = mf.List(mf.Nested(VMSnapshotSchema), load_default=list)
    snapshotAndParents = mf.Dict(
        keys=Text(), values=mf.Nested(VMSnapshotSchema, allow_none=True), load_default=dict
    )


@dataclass
class FreezeThawVMCommand(Command):
    vmName: str = ""
    option: str = ""


class FreezeThawVMCommandSchema(CommandSchema):
    __model__ = FreezeThawVMCommand
    vmName = Name(required=True)
    option = Text(required=True, validate=validate.OneOf(["frozen", "thawed", "status"]))


# --- answers --------------------------------------------------------------------------------


@dataclass
class Answer:
    """Fields every ``Answer`` carries, plus the optional ones of the VM snapshot answers."""

    result: bool = True
    details: str = ""
    contextMap: dict[str, Any] = field(default_factory=dict)
    wait: int = 0
    bypassHostMaintenance: bool = False
    volumeTOs: list[VolumeObjectTO] | None = None
    vmSnapshotTo: VMSnapshotTO | None = None
    vmState: str | None = None
    # Our own addition; CloudStack ignores fields it does not know.
    freezeWindowMs: float | None = None
    # Also ours: how long the guest's vCPUs stood still for a memory snapshot, and how its
    # memory was captured (precopy, background-snapshot or savevm).
    guestPauseMs: float | None = None
    memoryCapture: str | None = None
    # Fields of the lifecycle answers (StartAnswer.vm, CreateObjectAnswer.data, ...).
    vm: dict[str, Any] | None = None
    data: Any = None
    disk: dict[str, Any] | None = None
    newSize: int | None = None
    payload: str | None = None
    memory: dict[str, str] | None = None
    # CheckVirtualMachineAnswer.state, and the host's VM state report (name -> state, host).
    state: str | None = None
    hostVmStateReport: dict[str, dict[str, str]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class AnswerSchema(WireSchema):
    __model__ = Answer
    result = mf.Boolean(required=True)
    details = mf.String(allow_none=True)
    contextMap = mf.Dict(load_default=dict)
    wait = Long(load_default=0)
    bypassHostMaintenance = mf.Boolean(load_default=False)
    volumeTOs = mf.List(mf.Nested(VolumeObjectSchema), allow_none=True)
    vmSnapshotTo = mf.Nested(VMSnapshotSchema, allow_none=True)
    vmState = mf.String(allow_none=True)
    freezeWindowMs = mf.Float(allow_none=True)
    guestPauseMs = mf.Float(allow_none=True)
    memoryCapture = mf.String(allow_none=True)
    vm = mf.Dict(allow_none=True)
    data = mf.Raw(allow_none=True)
    disk = mf.Dict(allow_none=True)
    newSize = Long(allow_none=True)
    payload = mf.String(allow_none=True)
    memory = mf.Dict(keys=mf.String(), values=mf.String(), allow_none=True)
    state = mf.String(allow_none=True)
    hostVmStateReport = mf.Dict(keys=mf.String(), values=mf.Dict(), allow_none=True)


COMMANDS: dict[str, CommandType] = {
    ct.name: ct
    for ct in (
        CommandType(API + "CreateVMSnapshotCommand", VMSnapshotCommandSchema,
                    API + "CreateVMSnapshotAnswer"),
        CommandType(API + "RevertToVMSnapshotCommand", VMSnapshotCommandSchema,
                    API + "RevertToVMSnapshotAnswer"),
        CommandType(API + "DeleteVMSnapshotCommand", VMSnapshotCommandSchema,
                    API + "DeleteVMSnapshotAnswer"),
        CommandType(API + "RestoreVMSnapshotCommand", RestoreVMSnapshotCommandSchema,
                    API + "RestoreVMSnapshotAnswer"),
        CommandType(API + "FreezeThawVMCommand", FreezeThawVMCommandSchema,
                    API + "FreezeThawVMAnswer"),
        *lifecycle.COMMAND_TYPES,
    )
}

# What CloudStack's Answer.createUnsupportedCommandAnswer makes; the management server
# tells an unsupported command from a failed one by this class.
UNSUPPORTED_ANSWER = API + "UnsupportedAnswer"
