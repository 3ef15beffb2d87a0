"""Agent commands as the management server builds them: the driver's own wire objects
(:mod:`driver.wire`), encoded and checked by the driver's own schemas."""

from __future__ import annotations

from typing import Any

from driver.wire.base import Command
from driver.wire.commands import API, VMSnapshotCommand
from driver.wire.envelope import encode_command
from driver.wire.lifecycle import (
    GUEST_DATA,
    HOST_VM_STATE_REPORT,
    STORAGE,
    DataCommand,
    DiskCommand,
    DiskTO,
    GuestDataCommand,
    HostVmStateReportCommand,
    ResizeVolumeCommand,
    SnapshotObjectTO,
    StartCommand,
    VirtualMachineTO,
    VmNameCommand,
)
from driver.wire.objects import PrimaryDataStoreTO, VMSnapshotTO, VolumeObjectTO
from simulator.models import VM, StoragePool, VMSnapshot, Volume, VolumeSnapshot
from simulator.orchestrator.storage import RBD, volume_format

GUEST_OS = "Debian GNU/Linux 12 (64-bit)"
# Fields CloudStack sends that the driver does not read; kept so the JSON is CloudStack's.
_VOLUME_EXTRA = {"provisioningType": "THIN", "hypervisorType": "KVM",
                 "directDownload": False, "deployAsIs": False, "followRedirects": False}


def datastore(pool: StoragePool) -> PrimaryDataStoreTO:
    """A primary storage pool as a PrimaryDataStoreTO: a directory (Filesystem), or a Ceph
    pool in ``path`` with a monitor in ``host``/``port`` (RBD)."""
    if pool.type == RBD:
        host, port, url = pool.host, pool.port, f"rbd://{pool.host}:{pool.port}/{pool.path}"
    else:
        host, port, url = "localhost", 0, f"file://{pool.path}"
    return PrimaryDataStoreTO(uuid=pool.uuid, name=pool.name, id=pool.id, poolType=pool.type,
                              host=host, path=pool.path, port=port, url=url,
                              extra={"details": {}, "isManaged": False})


def volume_to(volume: Volume, vm: VM | None, pool: StoragePool) -> VolumeObjectTO:
    """A volume as a VolumeObjectTO (with its VM's instance name when attached)."""
    return VolumeObjectTO(
        uuid=volume.uuid, volumeType=volume.type, dataStore=datastore(pool), name=volume.name,
        size=volume.size, path=volume.path, volumeId=volume.id, id=volume.id,
        vmName=vm.instance_name if vm is not None else None, format=volume_format(pool),
        deviceId=volume.device_id,
        extra={"accountId": volume.account_id, **_VOLUME_EXTRA, "poolId": pool.id})


def snapshot_to(snap: VMSnapshot, ancestors: list[VMSnapshot], *,
                quiesce: bool) -> VMSnapshotTO:
    """A VMSnapshotTO with the whole ancestor chain nested in ``parent``."""

    def one(s: VMSnapshot, q: bool) -> VMSnapshotTO:
        created = s.state not in ("Allocated", "Creating")
        return VMSnapshotTO(id=s.id, snapshotName=s.name, type=s.type, current=bool(s.current),
                            quiescevm=q, description=s.description or None,
                            createTime=int(s.created * 1000) if created else None)

    top = one(snap, quiesce)
    node = top
    for ancestor in ancestors:
        node.parent = one(ancestor, True)
        node = node.parent
    return top


def _encode(name: str, command: Command) -> dict[str, Any]:
    return encode_command(name, command)


def vm_snapshot_command(kind: str, vm: VM, target: VMSnapshotTO,
                        volumes: list[VolumeObjectTO], wait: int = 0) -> dict[str, Any]:
    """Create/Revert/DeleteVMSnapshotCommand for ``vm``."""
    return _encode(API + kind, VMSnapshotCommand(
        vmName=vm.instance_name, target=target, volumeTOs=volumes, guestOSType=GUEST_OS,
        vmUuid=vm.uuid if kind != "DeleteVMSnapshotCommand" else None,
        reloadVm=False if kind == "RevertToVMSnapshotCommand" else None, wait=wait))


def _disk(volume: Volume, vm: VM, pool: StoragePool) -> DiskTO:
    return DiskTO(data=volume_to(volume, vm, pool), diskSeq=volume.device_id or 0,
                  type=volume.type)


def start_command(vm: VM, disks: list[tuple[Volume, StoragePool]], *, cpus: int,
                  memory_mib: int, guest_agent: bool, power_on: bool = True) -> dict[str, Any]:
    """StartCommand: define (and unless ``power_on`` is False, start) ``vm`` with its
    volumes, each on its pool."""
    return _encode(API + "StartCommand", StartCommand(vm=VirtualMachineTO(
        name=vm.instance_name, uuid=vm.uuid, cpus=cpus, maxRam=memory_mib << 20,
        disks=[_disk(v, vm, pool) for v, pool in disks],
        details={"vmsnap.guestAgent": str(guest_agent).lower(),
                 "vmsnap.powerOn": str(power_on).lower()},
        extra={"minRam": memory_mib << 20})))


def vm_command(kind: str, vm: VM, *, undefine: bool = False) -> dict[str, Any]:
    """StopCommand, RebootCommand or CheckVirtualMachineCommand for ``vm``."""
    return _encode(API + kind, VmNameCommand(vmName=vm.instance_name, undefine=undefine))


def host_report() -> dict[str, Any]:
    """The host's VM state report: every VM's power state."""
    return _encode(HOST_VM_STATE_REPORT, HostVmStateReportCommand())


def create_volume(volume: Volume, pool: StoragePool) -> dict[str, Any]:
    """CreateObjectCommand of a volume."""
    return _encode(STORAGE + "CreateObjectCommand",
                   DataCommand(data=volume_to(volume, None, pool)))


def delete_volume(volume: Volume, pool: StoragePool) -> dict[str, Any]:
    """DeleteCommand of a volume."""
    return _encode(STORAGE + "DeleteCommand", DataCommand(data=volume_to(volume, None, pool)))


def disk_command(kind: str, vm: VM, volume: Volume, pool: StoragePool) -> dict[str, Any]:
    """AttachCommand or DettachCommand of ``volume`` on ``vm``."""
    return _encode(STORAGE + kind, DiskCommand(vmName=vm.instance_name,
                                               disk=_disk(volume, vm, pool)))


def resize_volume(volume: Volume, vm: VM | None, pool: StoragePool, new_size: int,
                  shrink_ok: bool) -> dict[str, Any]:
    """ResizeVolumeCommand (its pool is a StorageFilerTO: no wrapper, the type by name)."""
    store = datastore(pool)
    return _encode(API + "storage.ResizeVolumeCommand", ResizeVolumeCommand(
        path=volume.path, pool={"id": pool.id, "uuid": pool.uuid, "host": store.host,
                                "path": pool.path, "port": store.port, "type": pool.type},
        currentSize=volume.size, newSize=new_size, shrinkOk=shrink_ok,
        vmInstance=vm.instance_name if vm is not None else None))


def volume_snapshot(kind: str, snap: VolumeSnapshot, volume: Volume, pool: StoragePool,
                    source: str | None = None) -> dict[str, Any]:
    """CreateObjectCommand or DeleteCommand of a volume snapshot; ``source`` names the VM
    snapshot to take it from (CloudStack puts that name in the snapshot's path). Once made,
    the snapshot's path is the one the host answered with."""
    return _encode(STORAGE + kind, DataCommand(data=SnapshotObjectTO(
        path=source or snap.path or (snap.name if kind == "DeleteCommand" else None),
        name=snap.name, id=snap.id, volume=volume_to(volume, None, pool),
        dataStore=datastore(pool))))


def guest_data(vm: VM, op: str, **fields: Any) -> dict[str, Any]:
    """vmsnap.GuestDataCommand: read or write inside ``vm`` (tests and the control plane)."""
    return _encode(GUEST_DATA, GuestDataCommand(vmName=vm.instance_name, op=op, **fields))
