"""Lifecycle commands: what a management server needs from a host besides snapshots
(start, stop, volumes, volume snapshots) and the guest-data command tests use.

VM-scoped commands take the same per-VM slot as snapshot operations, so nothing
interleaves with a snapshot of the same VM. The driver also defends the seed's limitation:
no attach, detach or resize while it holds snapshots of the VM.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import Any

from driver.core.errors import InvalidRequest, NotFound
from driver.hypervisors.base import DiskInfo, VmSpec, disk_key
from driver.names import check_snapshot_name
from driver.paths import filer_volume_path
from driver.usecases.context import Context
from driver.wire.commands import Answer
from driver.wire.lifecycle import (
    SNAPSHOT_OBJECT,
    DataCommand,
    DiskCommand,
    GuestDataCommand,
    ResizeVolumeCommand,
    SnapshotObjectSchema,
    SnapshotObjectTO,
    StartCommand,
    VmNameCommand,
)
from driver.wire.objects import VOLUME_OBJECT, VolumeObjectSchema, VolumeObjectTO


def target_name(device: int) -> str:
    """``vda``, ``vdb``, ... for device 0, 1, ..."""
    if not 0 <= device < 26:
        raise InvalidRequest(f"device number {device} is out of range")
    return "vd" + chr(ord("a") + device)


class Lifecycle:
    """The lifecycle commands of one host."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.hv = ctx.hv

    def handlers(self) -> dict[str, Any]:
        """Command short name -> handler."""
        return {
            "StartCommand": self.start, "StopCommand": self.stop,
            "RebootCommand": self.reboot, "CreateObjectCommand": self.create_object,
            "DeleteCommand": self.delete_object, "AttachCommand": self.attach,
            "DettachCommand": self.dettach, "ResizeVolumeCommand": self.resize,
            "GuestDataCommand": self.guest_data,
        }

    def _path(self, volume: VolumeObjectTO) -> str:
        return self.ctx.resolve(volume)

    def _vm_op(self, vm: str, kind: str, work: Any) -> Answer:
        return self.ctx.vm_op(vm, kind, work)

    def _owner(self, path: str) -> str | None:
        """The VM defined with the volume at ``path``, if one is."""
        return self.hv.disk_owners().get(disk_key(path))

    def _no_snapshots(self, vm: str, message: str) -> None:
        if self.ctx.store.all(vm):
            raise InvalidRequest(message)

    # --- VMs --------------------------------------------------------------------------------

    def start(self, cmd: StartCommand, raw: Any) -> Answer:
        vm = cmd.vm
        assert vm is not None
        disks = []
        for i, disk in enumerate(vm.disks):
            if not isinstance(disk.data, VolumeObjectTO):
                continue  # ISOs and other data objects are not disks of ours
            device = disk.diskSeq if disk.diskSeq is not None else i
            disks.append(DiskInfo(target_name(device), self._path(disk.data)))
        spec = VmSpec(name=vm.name, cpus=vm.cpus, memory_mib=max(1, vm.maxRam // (1 << 20)),
                      disks=disks,
                      agent=vm.details.get("vmsnap.guestAgent", "true").lower() != "false",
                      power_on=vm.details.get("vmsnap.powerOn", "true").lower() != "false")
        def work() -> Answer:
            owners = self.hv.disk_owners()
            for disk in spec.disks:  # a disk is one VM's: two guests writing it corrupt it
                user = owners.get(disk_key(disk.path))
                if user is not None and user != spec.name:
                    raise InvalidRequest(f"volume {disk.path} is a disk of VM {user}")
            self.hv.start(spec)
            return Answer(vm=raw.get("vm"))

        return self._vm_op(vm.name, "start", work)

    def stop(self, cmd: VmNameCommand, raw: Any) -> Answer:
        def work() -> Answer:
            try:
                self.hv.guest(cmd.vmName).stop()
            except NotFound:
                return Answer(details="VM is already stopped")
            if cmd.undefine:
                self.hv.undefine(cmd.vmName)
            return Answer()

        return self._vm_op(cmd.vmName, "stop", work)

    def reboot(self, cmd: VmNameCommand, raw: Any) -> Answer:
        def work() -> Answer:
            self.hv.reboot(cmd.vmName)
            return Answer()

        return self._vm_op(cmd.vmName, "reboot", work)

    # --- volumes and volume snapshots -------------------------------------------------------

    def create_object(self, cmd: DataCommand, raw: Any) -> Answer:
        data = cmd.data
        if isinstance(data, VolumeObjectTO):
            if not data.size or data.size <= 0:
                raise InvalidRequest("a volume needs a positive size")
            if not data.path and data.uuid:
                # As CloudStack's agent does: a new volume is named by its uuid, and the
                # answer tells the management server that path.
                data.path = data.uuid
            self.hv.create_volume(self._path(data), data.size)
            return Answer(data={VOLUME_OBJECT: VolumeObjectSchema().dump(data)})
        if isinstance(data, SnapshotObjectTO):
            if data.volume is None:
                raise InvalidRequest("a volume snapshot needs its volume")
            # As in CloudStack, a path that is a bare name (not the snapshot's own) names the
            # VM snapshot of the volume to take the snapshot from.
            source = data.path if data.path and data.path != data.name else None
            if source is not None:
                check_snapshot_name(source)
            # As CloudStack's agent does, the copy is named afresh whatever the snapshot's
            # (free text, and not unique), and the answer's path names it from then on.
            key = str(uuid.uuid4())
            size = self.hv.snapshot_volume(self._path(data.volume), key, source=source)
            data.path, data.physicalSize = key, size
            return Answer(data={SNAPSHOT_OBJECT: SnapshotObjectSchema().dump(data)})
        raise InvalidRequest("CreateObjectCommand needs a VolumeObjectTO or SnapshotObjectTO")

    def delete_object(self, cmd: DataCommand, raw: Any) -> Answer:
        data = cmd.data
        if isinstance(data, VolumeObjectTO):
            path = self._path(data)
            user = self._owner(path)
            if user is not None:
                raise InvalidRequest(f"volume {path} is attached to VM {user}; detach it first")
            self.hv.delete_volume(path)
            return Answer()
        if isinstance(data, SnapshotObjectTO) and data.volume is not None:
            name = check_snapshot_name(data.path or data.name or "")
            self.hv.delete_volume_snapshot(self._path(data.volume), name)
            return Answer()
        raise InvalidRequest("DeleteCommand needs a VolumeObjectTO or SnapshotObjectTO")

    def attach(self, cmd: DiskCommand, raw: Any) -> Answer:
        disk = cmd.disk
        if disk is None or not isinstance(disk.data, VolumeObjectTO):
            raise InvalidRequest("AttachCommand needs a volume")
        info = DiskInfo(target_name(disk.diskSeq or 0), self._path(disk.data))

        def work() -> Answer:
            if self._owner(info.path) == cmd.vmName:
                # Attached already: a command resent after the management server lost the
                # answer (its restart) is answered as done.
                return Answer(disk=raw.get("disk"))
            self._no_snapshots(cmd.vmName, f"Unable to attach volume to VM {cmd.vmName}, please "
                               "specify a VM that does not have VM snapshots")
            self.hv.attach(cmd.vmName, info)
            return Answer(disk=raw.get("disk"))

        return self._vm_op(cmd.vmName, "attach", work)

    def dettach(self, cmd: DiskCommand, raw: Any) -> Answer:
        disk = cmd.disk
        if disk is None or not isinstance(disk.data, VolumeObjectTO):
            raise InvalidRequest("DettachCommand needs a volume")
        path = self._path(disk.data)

        def work() -> Answer:
            if self._owner(path) is None:  # detached already: a resent command, as above
                return Answer(disk=raw.get("disk"))
            self._no_snapshots(cmd.vmName, "Unable to detach volume, please specify a VM that "
                               "does not have VM snapshots")
            self.hv.detach(cmd.vmName, path)
            return Answer(disk=raw.get("disk"))

        return self._vm_op(cmd.vmName, "detach", work)

    def resize(self, cmd: ResizeVolumeCommand, raw: Any) -> Answer:
        path = filer_volume_path(cmd.path, cmd.pool, self.ctx.settings.mount_parent)
        if not self.ctx.confined(path):
            raise InvalidRequest("The volume is outside the configured storage pools")
        if cmd.currentSize and cmd.newSize < cmd.currentSize and not cmd.shrinkOk:
            raise InvalidRequest("Shrinking the volume needs shrinkOk")

        # The management server names the VM of an attached volume; the driver does not
        # take its word for a volume it sends without one.
        vm = cmd.vmInstance or self._owner(path)

        def work() -> Answer:
            if vm:
                self._no_snapshots(vm, "The volume is attached to a VM with memory&disk VM "
                                   "snapshots; therefore, it cannot be resized.")
            self.hv.resize_volume(path, cmd.newSize)
            return Answer(newSize=cmd.newSize)

        if vm:
            return self._vm_op(vm, "resize", work)
        return work()

    # --- guest data -------------------------------------------------------------------------

    def guest_data(self, cmd: GuestDataCommand, raw: Any) -> Answer:
        if not self.ctx.settings.guest_data_command:
            raise InvalidRequest("vmsnap.GuestDataCommand is disabled on this driver (the "
                                 "guest_data_command setting, for test rigs only)")
        guest = self.ctx.guest(cmd.vmName, "Guest data")
        if cmd.op in ("set_memory", "get_memory"):
            if cmd.op == "set_memory":
                if not cmd.key:
                    raise InvalidRequest("set_memory needs a key")
                guest.set_memory(cmd.key, cmd.value or "")
            return Answer(memory=guest.memory())
        disks = guest.disks()
        if cmd.deviceId >= len(disks):
            raise InvalidRequest(f"{cmd.vmName} has no disk number {cmd.deviceId}")
        path = disks[cmd.deviceId].path
        if cmd.op == "write":
            guest.write(path, cmd.offset, _decode(cmd.data))
            return Answer()
        if cmd.op == "read":
            return Answer(payload=_encode(guest.read(path, cmd.offset, cmd.length)))
        if cmd.op == "list_files":  # a JSON list of the file names under ``path``
            return Answer(payload=json.dumps(guest.list_files(path, cmd.path or "")))
        if not cmd.path:
            raise InvalidRequest(f"{cmd.op} needs a file path")
        if cmd.op == "write_file":
            guest.write_file(path, cmd.path, _decode(cmd.data))
            return Answer()
        if cmd.op == "delete_file":
            guest.write_file(path, cmd.path, None)
            return Answer()
        content = guest.read_file(path, cmd.path)
        if content is None:
            raise NotFound(f"No file {cmd.path} on {cmd.vmName}")
        return Answer(payload=_encode(content))


def _decode(data: str | None) -> bytes:
    try:
        return base64.b64decode(data or "", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("data must be base64") from None


def _encode(data: bytes) -> str:
    return base64.b64encode(data).decode()
