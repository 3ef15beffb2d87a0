"""Volumes and volume snapshots, with the limitations VM snapshots put on them."""

from __future__ import annotations

import time
from typing import Any

from simulator.errors import CloudRuntime, ParamError
from simulator.models import (
    VM,
    Account,
    DiskOffering,
    StoragePool,
    VMSnapshot,
    Volume,
    VolumeSnapshot,
    now,
)
from simulator.orchestrator import wire
from simulator.orchestrator.core import Caller, Context
from simulator.orchestrator.limits import PRIMARY_STORAGE, VOLUME, Limits
from simulator.orchestrator.storage import choose_pool

MAX_DEVICES = 15


class Volumes:
    """Volumes and volume snapshots through the host, under the VM snapshot limitations."""

    def __init__(self, ctx: Context, limits: Limits) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.config = ctx.config
        self.lock = ctx.lock
        self.limits = limits

    def allocate_volume(self, caller: Caller, name: str, zone_id: int, size: int,
                        offering_id: int | None, pool: StoragePool | None = None) -> Volume:
        """A new data volume's record (Allocated) on the pool its disk offering's storage
        tags choose, or on ``pool`` (see :mod:`.storage`)."""
        offering = self.store.get(DiskOffering, offering_id)
        chosen = choose_pool(self.store, zone_id, offering.tags if offering else "",
                             wanted=pool, what=f"volume {name}")
        with self.lock:
            self.limits.check(caller.account, VOLUME, 1)
            self.limits.check(caller.account, PRIMARY_STORAGE, size)
            volume = self.store.add(Volume(
                name=name, account_id=caller.account.id, domain_id=caller.account.domain_id,
                zone_id=zone_id, type="DATADISK", size=size, path="",
                disk_offering_id=offering_id, state="Allocated", pool_id=chosen.id))
            volume.path = volume.uuid
            self.store.save(volume)
            return volume

    def create_volume(self, volume_id: int) -> Volume:
        with self.lock:  # Creating while the host makes it: a delete waits for the outcome
            volume = self.store.load(Volume, volume_id)
            if volume.removed:
                raise CloudRuntime(f"Failed to create volume {volume.name}: it was deleted")
            volume.state = "Creating"
            self.store.save(volume)
        answer = self.ctx.send(wire.create_volume(volume, self.ctx.pool_of(volume)))
        with self.lock:
            volume = self.store.load(Volume, volume_id)
            volume.state = "Ready" if answer.result else "Error"
            self.store.save(volume)
        if not answer.result:
            raise CloudRuntime(f"Failed to create volume {volume.name}: {answer.details}")
        return volume

    def attach_volume(self, volume: Volume, vm: VM) -> Volume:
        with self.lock:
            volume = self.store.load(Volume, volume.id)
            if volume.vm_id is not None:
                raise ParamError(f"Volume {volume.name} is already attached to a VM")
            if volume.state != "Ready":
                raise ParamError("Volume state must be Ready to attach, it is "
                                 f"{volume.state}")
            if vm.state not in ("Running", "Stopped"):
                raise ParamError("Please specify a VM that is either running or stopped.")
            if self.ctx.snapshots_of(vm):
                raise ParamError(f"Unable to attach volume to VM {vm.name}/{vm.uuid}, please "
                                 "specify a VM that does not have VM snapshots")
            attached = self.ctx.attached(vm)
            used = {v.device_id for v in attached}
            device = next((d for d in range(1, MAX_DEVICES) if d not in used), None)
            allowed = min(self.ctx.capabilities().max_data_volumes, MAX_DEVICES - 1)
            if device is None or sum(v.type == "DATADISK" for v in attached) >= allowed:
                raise ParamError("The specified VM already has the maximum number of data "
                                 f"disks ({allowed}) attached. Please specify another VM.")
            volume.vm_id, volume.device_id, volume.attached = vm.id, device, now()
            self.store.save(volume)  # the device is taken until the host answers
        answer = self.ctx.send(wire.disk_command("AttachCommand", vm, volume,
                                                   self.ctx.pool_of(volume)))
        with self.lock:
            volume = self.store.load(Volume, volume.id)
            if not answer.result:
                volume.vm_id = volume.device_id = volume.attached = None
                self.store.save(volume)
                raise CloudRuntime(f"Failed to attach volume {volume.name} to VM {vm.name}; "
                                   f"{answer.details}")
            return volume

    def detach_volume(self, volume: Volume) -> Volume:
        with self.lock:
            volume = self.store.load(Volume, volume.id)
            if volume.vm_id is None:
                raise ParamError("Please specify a volume that is attached to a VM.")
            if volume.type == "ROOT":
                raise ParamError("Please specify a data volume.")
            vm = self.store.load(VM, volume.vm_id)
            if self.ctx.snapshots_of(vm):
                raise ParamError("Unable to detach volume, please specify a VM that does not "
                                 "have VM snapshots")
        answer = self.ctx.send(wire.disk_command("DettachCommand", vm, volume,
                                                   self.ctx.pool_of(volume)))
        if not answer.result:
            raise CloudRuntime(f"Failed to detach volume {volume.name} from VM {vm.name}; "
                               f"{answer.details}")
        with self.lock:
            volume = self.store.load(Volume, volume.id)
            volume.vm_id = volume.device_id = volume.attached = None
            self.store.save(volume)
            return volume

    def resize_volume(self, volume: Volume, new_size: int, shrink_ok: bool,
                      offering_id: int | None = None) -> Volume:
        """Resize to ``new_size`` bytes; with ``offering_id``, the volume's disk offering
        becomes that one, as a resize to an offering does in CloudStack."""
        with self.lock:
            volume = self.store.load(Volume, volume.id)
            if volume.state not in ("Ready", "Allocated"):
                raise ParamError("Volume should be in ready or allocated state before "
                                 f"attempting a resize. Volume {volume.uuid} is in state "
                                 f"{volume.state}.")
            vm = self.store.get(VM, volume.vm_id) if volume.vm_id else None
            if vm is not None and self.ctx.snapshots_of(vm):
                raise ParamError("The volume is attached to a VM with memory&disk VM snapshots; "
                                 "therefore, it cannot be resized.")
            if new_size < volume.size and not shrink_ok:
                raise ParamError(f"Going from existing size of {volume.size} to size of "
                                 f"{new_size} would shrink the volume.Need to sign off by "
                                 "supplying the shrinkok parameter with value of true.")
            if new_size == volume.size:
                raise ParamError("The new size is the same as the current size of the volume")
            if new_size > volume.size:
                self.limits.check(self.store.load(Account, volume.account_id), PRIMARY_STORAGE,
                                  new_size - volume.size)
            # Resizing until the host answers: the new size is counted against the limit
            # meanwhile, and no other resize of the volume starts.
            previous_state = volume.state
            volume.state, volume.resizing_to = "Resizing", new_size
            self.store.save(volume)
        answer = self.ctx.send(wire.resize_volume(volume, vm, self.ctx.pool_of(volume), new_size,
                                                  shrink_ok))
        with self.lock:
            volume = self.store.load(Volume, volume.id)
            volume.state, volume.resizing_to = previous_state, None
            if answer.result:
                volume.size = new_size
                if offering_id is not None:
                    volume.disk_offering_id = offering_id
            self.store.save(volume)
        if not answer.result:
            raise CloudRuntime(f"Failed to resize volume {volume.name}: {answer.details}")
        return volume

    def destroy_volume(self, volume: Volume) -> Volume:
        """destroyVolume without expunge: the volume is kept, Destroy, until it is expunged
        or recovered (it counts against no limit meanwhile)."""
        with self.lock:
            volume = self.store.load(Volume, volume.id)
            self._deletable(volume)
            if volume.state in ("Allocated", "Uploaded"):
                raise ParamError("The volume in Allocated/Uploaded state can only be expunged "
                                 "not destroyed/recovered")
            volume.state = "Destroy"
            self.store.save(volume)
            return volume

    def recover_volume(self, volume: Volume) -> Volume:
        with self.lock:
            volume = self.store.load(Volume, volume.id)
            if volume.state != "Destroy":
                raise ParamError("Please specify a volume in Destroy state.")
            account = self.store.load(Account, volume.account_id)
            self.limits.check(account, VOLUME, 1)
            self.limits.check(account, PRIMARY_STORAGE, volume.size)
            volume.state = "Ready"
            self.store.save(volume)
            return volume

    def _deletable(self, volume: Volume) -> None:
        """What deleting or destroying a volume needs: not being created, not attached, no
        snapshot of it under way."""
        if volume.state == "Creating":
            raise ParamError(f"Volume {volume.name} is being created; it can be deleted "
                             "once its creation has ended")
        if volume.vm_id is not None:
            raise ParamError("Please specify a volume that is not attached to any VM.")
        if any(s.state in ("Creating", "CreatedOnPrimary", "BackingUp")
               for s in self.volume_snapshots(volume)):
            raise ParamError("There are snapshot operations in progress on the volume, "
                             "unable to delete it")

    def delete_volume(self, volume: Volume) -> Volume:
        with self.lock:
            volume = self.store.load(Volume, volume.id)
            self._deletable(volume)
        answer = self.ctx.send(wire.delete_volume(volume, self.ctx.pool_of(volume)))
        if not answer.result:
            raise CloudRuntime(f"Failed to delete volume {volume.name}: {answer.details}")
        with self.lock:
            volume.state, volume.removed = "Expunged", time.time()
            self.store.save(volume)
            return volume

    # --- volume snapshots -------------------------------------------------------------------

    def volume_snapshots(self, volume: Volume) -> list[VolumeSnapshot]:
        return [s for s in self.store.find(VolumeSnapshot) if s.volume_id == volume.id]

    def allocate_volume_snapshot(self, caller: Caller, volume: Volume,
                                 name: str | None) -> VolumeSnapshot:
        with self.lock:
            if volume.state != "Ready":
                raise ParamError(f"VolumeId: {volume.id} is not in Ready state but "
                                 f"{volume.state}. Cannot take snapshot.")
            vm = self.store.get(VM, volume.vm_id) if volume.vm_id else None
            if vm is not None:
                if any(s.state in ("Creating", "Reverting", "Expunging")
                       for s in self.ctx.snapshots_of(vm)):
                    raise CloudRuntime("There is other active vm snapshot tasks on the instance "
                                       "to which the volume is attached, please try again later")
                if self.ctx.volume_snapshot_active(vm):
                    raise ParamError("There is other active snapshot tasks on the instance to "
                                     "which the volume is attached, please try again later")
            stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
            vm_part = vm.name if vm else "detached"
            return self.store.add(VolumeSnapshot(
                name=name or f"{vm_part}_{volume.name}_{stamp}", volume_id=volume.id,
                account_id=volume.account_id, domain_id=volume.domain_id,
                zone_id=volume.zone_id, vm_id=volume.vm_id))

    def allocate_volume_snapshot_from(self, caller: Caller, vm_snapshot: VMSnapshot,
                                      volume: Volume, name: str | None) -> VolumeSnapshot:
        """createSnapshotFromVMSnapshot's synchronous part: one volume of a Ready VM
        snapshot, once per VM snapshot."""
        with self.lock:
            vm = self.store.load(VM, vm_snapshot.vm_id)
            if volume.vm_id != vm.id:
                raise ParamError(f"Creating snapshot failed due to volume:{volume.uuid} doesn't "
                                 f"attach to vm :{vm.uuid}")
            if vm_snapshot.state != "Ready":
                raise ParamError(f"Creating snapshot failed due to vmSnapshot:"
                                 f"{vm_snapshot.uuid} is not in Ready state but "
                                 f"{vm_snapshot.state}")
            for other in self.volume_snapshots(volume):
                if other.vm_snapshot_id == vm_snapshot.id:
                    raise ParamError(f"Creating snapshot failed due to snapshot : {other.uuid} "
                                     "is created from the same vm snapshot")
            snap = self.allocate_volume_snapshot(caller, volume, name)
            snap.vm_snapshot_id = vm_snapshot.id
            self.store.save(snap)
            return snap

    def take_volume_snapshot(self, snap_id: int) -> VolumeSnapshot:
        with self.lock:
            snap = self.store.load(VolumeSnapshot, snap_id)
            snap.state = "Creating"
            self.store.save(snap)
            volume = self.store.load(Volume, snap.volume_id)
            source = self.store.get(VMSnapshot, snap.vm_snapshot_id)
        self.ctx.pause("createSnapshot")
        answer = self.ctx.send(wire.volume_snapshot("CreateObjectCommand", snap, volume,
                                                    self.ctx.pool_of(volume),
                                                    source.name if source else None))
        with self.lock:
            snap = self.store.load(VolumeSnapshot, snap_id)
            if not answer.result:
                snap.state = "Error"
                self.store.save(snap)
                raise CloudRuntime(f"Failed to create snapshot due to an internal error "
                                   f"creating snapshot for volume {volume.uuid}: "
                                   f"{answer.details}")
            data: dict[str, Any] = next(iter((answer.data or {}).values()), {})
            snap.physical_size = int(data.get("physicalSize") or 0)
            snap.path = data.get("path") or None
            snap.state = "BackedUp"
            self.store.save(snap)
            return snap

    def delete_volume_snapshot(self, snap: VolumeSnapshot) -> None:
        with self.lock:
            if snap.state not in ("BackedUp", "Error", "Destroyed"):
                raise ParamError(f"Can't delete snapshot {snap.uuid} with state {snap.state}")
            volume = self.store.load(Volume, snap.volume_id)
        answer = self.ctx.send(wire.volume_snapshot("DeleteCommand", snap, volume,
                                                    self.ctx.pool_of(volume)))
        if not answer.result:
            raise CloudRuntime(f"Failed to delete snapshot: {answer.details}")
        with self.lock:
            snap.state, snap.removed = "Destroyed", time.time()
            self.store.save(snap)

    def resume(self, kind: str, body: dict[str, Any], succeeded: bool) -> None:
        """Apply the host's answer to an attach, detach or resize resent at start-up: the
        record follows what the host did. (An attach is recorded before it is sent, a
        detach and a resize once the host has answered; the driver answers a repeated
        attach, detach or resize as done.)"""
        with self.lock:
            if kind == "ResizeVolumeCommand":
                found = [v for v in self.store.find(Volume) if v.path == body.get("path")]
                if found and succeeded:
                    found[0].size = int(body["newSize"])
                    self.store.save(found[0])
                return
            data: dict[str, Any] = next(iter((body.get("disk") or {}).get("data", {}).values()), {})
            volume = self.store.by_uuid(Volume, data.get("uuid") or "")
            if volume is None:
                return
            if (kind == "AttachCommand") != succeeded:  # an attach that failed, a detach done
                volume.vm_id = volume.device_id = volume.attached = None
                self.store.save(volume)

    def recover_volume_snapshots(self) -> None:
        """After a restart: nothing left Creating (a volume whose creation was cut short is
        Allocated, and can be deleted) or Resizing (the resent resize set its size)."""
        for volume in self.store.find(Volume):
            if volume.state == "Creating":
                volume.state = "Allocated"
                self.store.save(volume)
            elif volume.state == "Resizing":
                volume.state, volume.resizing_to = "Ready", None
                self.store.save(volume)
        for snap in self.store.find(VolumeSnapshot):
            if snap.state in ("Allocated", "Creating"):
                snap.state = "Error"
                self.store.save(snap)
