"""Agent command bodies for the tests, built from the driver's own wire objects and encoded
(and checked) by its own schemas, so their JSON is exactly what the driver decodes. Tests
that send malformed input on purpose write those bodies by hand."""

from __future__ import annotations

import base64
import itertools
import json
import os
from typing import Any

from driver.wire.commands import API, COMMANDS, FreezeThawVMCommand, VMSnapshotCommand
from driver.wire.envelope import encode_command
from driver.wire.lifecycle import (
    GUEST_DATA,
    SNAPSHOT_OBJECT,
    STORAGE,
    DataCommand,
    DiskCommand,
    DiskTO,
    GuestDataCommand,
    StartCommand,
    VirtualMachineTO,
    VmNameCommand,
)
from driver.wire.objects import (
    VOLUME_OBJECT,
    PrimaryDataStoreTO,
    VMSnapshotSchema,
    VMSnapshotTO,
    VolumeObjectSchema,
    VolumeObjectTO,
)

VOLUME_TO = VOLUME_OBJECT
SNAPSHOT_TO = SNAPSHOT_OBJECT
__all__ = ["API", "STORAGE", "VOLUME_TO", "SNAPSHOT_TO"]
_ids = itertools.count(1)


def volume(path: str, pool: str, *, vm: str, kind: str = "ROOT", device: int = 0,
           name: str | None = None) -> dict[str, Any]:
    """A VolumeObjectTO (as JSON) for the image at ``path`` inside ``pool``."""
    vid = next(_ids)
    store = PrimaryDataStoreTO(uuid="pool-1", name="local", id=1, poolType="Filesystem",
                               host="localhost", path=pool, port=0, url=f"file://{pool}",
                               extra={"details": {}, "isManaged": False})
    to = VolumeObjectTO(
        uuid=f"vol-{vid}", volumeType=kind, dataStore=store, name=name or f"{kind}-{vid}",
        size=64 * 1024 * 1024, path=os.path.relpath(path, pool), volumeId=vid, vmName=vm,
        format="QCOW2", id=vid, deviceId=device,
        extra={"accountId": 2, "provisioningType": "THIN", "poolId": 1, "hypervisorType": "KVM",
               "directDownload": False, "deployAsIs": False, "followRedirects": False})
    return dict(VolumeObjectSchema().dump(to))


def snapshot_to(name: str, *, type: str = "Disk", quiesce: bool = False,
                parents: list[str] | None = None, current: bool = False,
                created_ms: int | None = None, description: str = "") -> dict[str, Any]:
    """A VMSnapshotTO (as JSON); ``parents`` is the ancestor chain, nearest first."""
    to = VMSnapshotTO(id=next(_ids), snapshotName=name, type=type, current=current,
                      quiescevm=quiesce, description=description or None, createTime=created_ms)
    node = to
    for parent in parents or []:
        node.parent = VMSnapshotTO(id=next(_ids), snapshotName=parent, type="Disk",
                                   createTime=1735639200000, current=False, quiescevm=True)
        node = node.parent
    return dict(VMSnapshotSchema().dump(to))


def _volumes(volumes: list[dict[str, Any]]) -> list[VolumeObjectTO]:
    return [VolumeObjectSchema().load(v) for v in volumes]


def command(kind: str, vm: str, target: dict[str, Any] | None, volumes: list[dict[str, Any]],
            **extra: Any) -> dict[str, Any]:
    """Any VM snapshot command, ``extra`` fields included, checked by the driver's schema."""
    body: dict[str, Any] = {"vmName": vm, "volumeTOs": volumes, "guestOSType": "Debian",
                            **extra}
    if target is not None:
        body["target"] = target
    name = API + kind
    return encode_command(name, COMMANDS[name].schema().load(body))


def _snapshot_command(kind: str, vm: str, name: str, volumes: list[dict[str, Any]],
                      to: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return encode_command(API + kind, VMSnapshotCommand(
        vmName=vm, target=VMSnapshotSchema().load(snapshot_to(name, **to)),
        volumeTOs=_volumes(volumes), guestOSType="Debian", **fields))


def create(vm: str, name: str, volumes: list[dict[str, Any]], **to: Any) -> dict[str, Any]:
    return _snapshot_command("CreateVMSnapshotCommand", vm, name, volumes, to,
                             vmUuid=f"uuid-{vm}", wait=1800)


def revert(vm: str, name: str, volumes: list[dict[str, Any]], **to: Any) -> dict[str, Any]:
    return _snapshot_command("RevertToVMSnapshotCommand", vm, name, volumes, to,
                             vmUuid=f"uuid-{vm}", reloadVm=False)


def delete(vm: str, name: str, volumes: list[dict[str, Any]], **to: Any) -> dict[str, Any]:
    return _snapshot_command("DeleteVMSnapshotCommand", vm, name, volumes, to)


def freeze_thaw(vm: str, option: str) -> dict[str, Any]:
    return encode_command(API + "FreezeThawVMCommand",
                          FreezeThawVMCommand(vmName=vm, option=option))


def body(*commands: dict[str, Any]) -> bytes:
    return json.dumps(list(commands)).encode()


def start(vm: str, volumes: list[dict[str, Any]], *, agent: bool = True,
          ram_mib: int = 256) -> dict[str, Any]:
    disks = [DiskTO(data=to, diskSeq=i, type=to.volumeType or "ROOT")
             for i, to in enumerate(_volumes(volumes))]
    return encode_command(API + "StartCommand", StartCommand(vm=VirtualMachineTO(
        name=vm, uuid=f"uuid-{vm}", cpus=1, maxRam=ram_mib << 20, disks=disks,
        details={"vmsnap.guestAgent": str(agent).lower()})))


def stop(vm: str) -> dict[str, Any]:
    return encode_command(API + "StopCommand", VmNameCommand(vmName=vm))


def create_volume(vol: dict[str, Any]) -> dict[str, Any]:
    return encode_command(STORAGE + "CreateObjectCommand",
                          DataCommand(data=VolumeObjectSchema().load(vol)))


def _disk_command(kind: str, vm: str, vol: dict[str, Any], seq: int) -> dict[str, Any]:
    return encode_command(STORAGE + kind, DiskCommand(vmName=vm, disk=DiskTO(
        data=VolumeObjectSchema().load(vol), diskSeq=seq, type="DATADISK")))


def attach(vm: str, vol: dict[str, Any], seq: int) -> dict[str, Any]:
    return _disk_command("AttachCommand", vm, vol, seq)


def detach(vm: str, vol: dict[str, Any], seq: int) -> dict[str, Any]:
    return _disk_command("DettachCommand", vm, vol, seq)


def guest(vm: str, op: str, **fields: Any) -> dict[str, Any]:
    if isinstance(fields.get("data"), bytes):
        fields["data"] = base64.b64encode(fields["data"]).decode()
    return encode_command(GUEST_DATA, GuestDataCommand(vmName=vm, op=op, **fields))
