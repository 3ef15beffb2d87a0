"""Volumes and volume snapshots."""

from __future__ import annotations

from typing import Any

from simulator.api.registry import P, api
from simulator.api.server import Request
from simulator.errors import ParamError, PermissionDenied
from simulator.models import (
    VM,
    DiskOffering,
    StoragePool,
    VMSnapshot,
    Volume,
    VolumeSnapshot,
    Zone,
)


def _volume_job(req: Request, volume: Volume, work: Any, vm_id: int | None) -> dict[str, Any]:
    render = req.render
    job = req.submit(lambda: {"volume": render.volume(work())}, instance_type="Volume",
                     instance_uuid=volume.uuid, vm_id=vm_id)
    return {"jobid": job.uuid}


@api("createVolume", "Creates a disk volume from a disk offering.", is_async=True,
     package="user.volume", response="volume", params=[
         P("name"), P("zoneid", "uuid"), P("diskofferingid", "uuid"), P("size", "long"),
         P("storageid", "uuid", description="the storage pool to create the volume in (root "
           "admins only); without it, the pool its disk offering's storage tags choose")])
def create_volume(req: Request) -> dict[str, Any]:
    offering = req.lookup(DiskOffering, "diskofferingid", owned=False)
    pool = None
    if req.params.text("storageid") is not None:
        if not req.caller.is_admin:
            raise PermissionDenied("Only root admins may choose the storage pool of a volume "
                                   "(storageid)")
        pool = req.lookup(StoragePool, "storageid", owned=False)
    zone = req.optional(Zone, "zoneid", owned=False) or (
        req.manager.store.load(Zone, pool.zone_id) if pool is not None
        else req.manager.store.find(Zone)[0])
    size_gb = req.params.size_gb("size")
    if offering.customized and size_gb is None:
        raise ParamError("This disk offering requires a custom size specified")
    if not offering.customized and size_gb is not None:
        raise ParamError("This disk offering does not allow custom size")
    name = req.params.text("name", max_len=255) or "volume"
    volume = req.manager.volumes.allocate_volume(req.caller, name, zone.id,
                                                 (size_gb or offering.disksize) << 30,
                                                 offering.id, pool)
    manager = req.manager
    return {"id": volume.uuid, **_volume_job(req, volume,
                                             lambda: manager.volumes.create_volume(volume.id),
                                             None)}


@api("attachVolume", "Attaches a disk volume to a virtual machine.", is_async=True,
     package="user.volume", response="volume", params=[
         P("id", "uuid", True), P("virtualmachineid", "uuid", True), P("deviceid", "long")])
def attach_volume(req: Request) -> dict[str, Any]:
    volume = req.lookup(Volume, "id")
    vm = req.lookup(VM, "virtualmachineid")
    manager = req.manager
    return _volume_job(req, volume, lambda: manager.volumes.attach_volume(volume, vm), vm.id)


@api("detachVolume", "Detaches a disk volume from a virtual machine.", is_async=True,
     package="user.volume", response="volume", params=[P("id", "uuid", True)])
def detach_volume(req: Request) -> dict[str, Any]:
    volume = req.lookup(Volume, "id")
    manager = req.manager
    return _volume_job(req, volume, lambda: manager.volumes.detach_volume(volume), volume.vm_id)


@api("resizeVolume", "Resizes a volume", is_async=True, package="user.volume",
     response="volume", params=[P("id", "uuid", True), P("size", "long"),
                                P("diskofferingid", "uuid"), P("shrinkok", "boolean")])
def resize_volume(req: Request) -> dict[str, Any]:
    volume = req.lookup(Volume, "id")
    offering = req.optional(DiskOffering, "diskofferingid", owned=False)
    size_gb = req.params.size_gb("size")
    if size_gb is None and (offering is None or offering.customized):
        raise ParamError("Please specify the new size of the volume")
    new_size = (size_gb if size_gb is not None else offering.disksize) << 30  # type: ignore
    manager = req.manager
    shrink = req.params.flag("shrinkok")
    return _volume_job(req, volume, lambda: manager.volumes.resize_volume(
        volume, new_size, shrink, offering.id if offering else None), volume.vm_id)


_EXPUNGE_RECOVER = "allow.user.expunge.recover.volume"


@api("destroyVolume", "Destroys a detached volume: kept, and recoverable, unless expunged.",
     is_async=True, package="user.volume", response="volume", since="4.14.0", params=[
         P("id", "uuid", True, "the volume"),
         P("expunge", "boolean", description="delete it at once (an admin's, unless "
           "allow.user.expunge.recover.volume)")])
def destroy_volume(req: Request) -> dict[str, Any]:
    volume = req.lookup(Volume, "id")
    manager = req.manager
    if req.params.flag("expunge"):
        req.admins_unless(_EXPUNGE_RECOVER, "Expunging a volume can only be done by an "
                          "Admin. Or when the allow.user.expunge.recover.volume key is set.")
        return _volume_job(req, volume, lambda: manager.volumes.delete_volume(volume), None)
    return _volume_job(req, volume, lambda: manager.volumes.destroy_volume(volume), None)


@api("recoverVolume", "Recovers a destroyed volume.", package="user.volume",
     response="volume", since="4.14.0", params=[P("id", "uuid", True, "the volume")])
def recover_volume(req: Request) -> dict[str, Any]:
    volume = req.lookup(Volume, "id")
    req.admins_unless(_EXPUNGE_RECOVER, "Recovering a volume can only be done by an Admin. "
                      "Or when the allow.user.expunge.recover.volume key is set.")
    return {"volume": req.render.volume(req.manager.volumes.recover_volume(volume))}


@api("deleteVolume", "Deletes a detached disk volume.", package="user.volume",
     params=[P("id", "uuid", True)])
def delete_volume(req: Request) -> dict[str, Any]:
    volume = req.lookup(Volume, "id")
    req.manager.volumes.delete_volume(volume)
    return {"success": "true"}


@api("listVolumes", "Lists all volumes.", package="user.volume", response="volume", params=[
    P("id", "uuid"), P("ids", "list"), P("virtualmachineid", "uuid"), P("type"), P("name"),
    P("zoneid", "uuid"), P("domainid", "uuid"), P("tags", "map"), P("keyword"),
    P("listall", "boolean"), P("account"), P("page", "integer"), P("pagesize", "integer")])
def list_volumes(req: Request) -> dict[str, Any]:
    p = req.params
    items = req.visible(req.manager.store.find(Volume))
    ids = req.ids(Volume, "id", "ids")
    if ids:
        items = [v for v in items if v.uuid in ids]
    if vm := req.existing(VM, "virtualmachineid"):
        items = [v for v in items if v.vm_id == vm.id]
    if zone := req.optional(Zone, "zoneid", owned=False):
        items = [v for v in items if v.zone_id == zone.id]
    if kind := p.text("type"):
        items = [v for v in items if v.type.lower() == kind.lower()]
    if name := p.text("name"):
        items = [v for v in items if v.name == name]
    if keyword := p.text("keyword"):
        items = [v for v in items if keyword.lower() in v.name.lower()]
    items = req.tagged(items, "Volume")
    return req.listing("volume", items, req.render.volume)


@api("createSnapshot", "Creates an instant snapshot of a volume.", is_async=True,
     package="user.snapshot", response="snapshot", params=[
         P("volumeid", "uuid", True), P("name")])
def create_snapshot(req: Request) -> dict[str, Any]:
    volume = req.lookup(Volume, "volumeid")
    snap = req.manager.volumes.allocate_volume_snapshot(req.caller, volume,
                                                req.params.text("name", max_len=255))
    manager, render = req.manager, req.render
    # In the VM's queue when the volume is attached, as CloudStack runs it: never beside a
    # VM snapshot's (or any other) job of that VM.
    job = req.submit(lambda: {"snapshot": render.volume_snapshot(
        manager.volumes.take_volume_snapshot(snap.id))}, instance_type="Snapshot",
        instance_uuid=snap.uuid, vm_id=snap.vm_id)
    return {"id": snap.uuid, "jobid": job.uuid}


@api("createSnapshotFromVMSnapshot", "Creates an instant snapshot of a volume from an "
     "existing VM snapshot.", is_async=True, package="user.snapshot", response="snapshot",
     since="4.10.0", params=[
         P("volumeid", "uuid", True, "The ID of the disk volume"),
         P("vmsnapshotid", "uuid", True, "The ID of the VM snapshot"),
         P("name", description="the name of the snapshot")])
def create_snapshot_from_vm_snapshot(req: Request) -> dict[str, Any]:
    vm_snapshot = req.lookup(VMSnapshot, "vmsnapshotid")
    volume = req.lookup(Volume, "volumeid")
    snap = req.manager.volumes.allocate_volume_snapshot_from(
        req.caller, vm_snapshot, volume, req.params.text("name"))
    manager, render = req.manager, req.render
    # In the VM's queue when the volume is attached, as CloudStack runs it: never beside a
    # VM snapshot's (or any other) job of that VM.
    job = req.submit(lambda: {"snapshot": render.volume_snapshot(
        manager.volumes.take_volume_snapshot(snap.id))}, instance_type="Snapshot",
        instance_uuid=snap.uuid, vm_id=snap.vm_id)
    return {"id": snap.uuid, "jobid": job.uuid}


@api("listSnapshots", "Lists all available snapshots for the account.",
     package="user.snapshot", response="snapshot", params=[
         P("id", "uuid"), P("volumeid", "uuid"), P("name"), P("listall", "boolean"),
         P("account"), P("page", "integer"), P("pagesize", "integer")])
def list_snapshots(req: Request) -> dict[str, Any]:
    p = req.params
    items = req.visible(req.manager.store.find(VolumeSnapshot))
    if sid := p.text("id"):
        items = [s for s in items if s.uuid == sid]
    if vid := p.text("volumeid"):
        volume = req.manager.store.by_uuid(Volume, vid)
        items = [s for s in items if volume and s.volume_id == volume.id]
    if name := p.text("name"):
        items = [s for s in items if s.name == name]
    items.sort(key=lambda s: s.id, reverse=True)
    return req.listing("snapshot", items, req.render.volume_snapshot)


@api("deleteSnapshot", "Deletes a snapshot of a disk volume.", is_async=True,
     package="user.snapshot", params=[P("id", "uuid", True)])
def delete_snapshot(req: Request) -> dict[str, Any]:
    snap = req.lookup(VolumeSnapshot, "id")
    manager = req.manager

    def work() -> dict[str, Any]:
        manager.volumes.delete_volume_snapshot(snap)
        return {"success": True}

    job = req.submit(work, instance_type="Snapshot", instance_uuid=snap.uuid)
    return {"jobid": job.uuid}
