"""Agent commands as the management server builds them, in Gson's JSON shape."""

from __future__ import annotations

from typing import Any

from simulator.models import VM, VMSnapshot, Volume, VolumeSnapshot

API = "com.cloud.agent.api."
STORAGE = "org.apache.cloudstack.storage.command."
PRIMARY = "org.apache.cloudstack.storage.to.PrimaryDataStoreTO"
VOLUME_TO = "org.apache.cloudstack.storage.to.VolumeObjectTO"
SNAPSHOT_TO = "org.apache.cloudstack.storage.to.SnapshotObjectTO"


def _base(wait: int = 0) -> dict[str, Any]:
    return {"contextMap": {}, "wait": wait, "bypassHostMaintenance": False}


def datastore(pool: str) -> dict[str, Any]:
    return {PRIMARY: {"uuid": "primary-1", "name": "primary", "id": 1,
                      "poolType": "Filesystem", "host": "localhost", "path": pool, "port": 0,
                      "url": f"file://{pool}", "details": {}, "isManaged": False}}


def volume_to(volume: Volume, vm: VM | None, pool: str) -> dict[str, Any]:
    to: dict[str, Any] = {
        "uuid": volume.uuid, "volumeType": volume.type, "dataStore": datastore(pool),
        "name": volume.name, "size": volume.size, "path": volume.path, "volumeId": volume.id,
        "id": volume.id, "accountId": volume.account_id, "format": "QCOW2",
        "provisioningType": "THIN", "poolId": 1, "hypervisorType": "KVM",
        "directDownload": False, "deployAsIs": False, "followRedirects": False,
    }
    if vm is not None:
        to["vmName"] = vm.instance_name
    if volume.device_id is not None:
        to["deviceId"] = volume.device_id
    return to


def snapshot_to(snap: VMSnapshot, ancestors: list[VMSnapshot], *, quiesce: bool) -> dict[str, Any]:
    """A VMSnapshotTO with the whole ancestor chain nested in ``parent``."""

    def one(s: VMSnapshot, q: bool) -> dict[str, Any]:
        to: dict[str, Any] = {"id": s.id, "snapshotName": s.name, "type": s.type,
                              "current": bool(s.current), "quiescevm": q}
        if s.description:
            to["description"] = s.description
        if s.state != "Allocated" and s.state != "Creating":
            to["createTime"] = int(s.created * 1000)
        return to

    top = one(snap, quiesce)
    node = top
    for ancestor in ancestors:
        node["parent"] = one(ancestor, True)
        node = node["parent"]
    return top


def vm_snapshot_command(kind: str, vm: VM, target: dict[str, Any],
                        volumes: list[dict[str, Any]], wait: int = 0) -> dict[str, Any]:
    body = {"vmName": vm.instance_name, "target": target, "volumeTOs": volumes,
            "guestOSType": "Debian GNU/Linux 12 (64-bit)", **_base(wait)}
    if kind != "DeleteVMSnapshotCommand":
        body["vmUuid"] = vm.uuid
    if kind == "RevertToVMSnapshotCommand":
        body["reloadVm"] = False
    return {API + kind: body}


def start_command(vm: VM, volumes: list[Volume], pool: str, *, cpus: int, memory_mib: int,
                  guest_agent: bool, power_on: bool = True) -> dict[str, Any]:
    disks = [{"data": {VOLUME_TO: volume_to(v, vm, pool)}, "diskSeq": v.device_id or 0,
              "type": v.type} for v in volumes]
    return {API + "StartCommand": {"vm": {
        "name": vm.instance_name, "uuid": vm.uuid, "cpus": cpus, "maxRam": memory_mib << 20,
        "minRam": memory_mib << 20, "disks": disks,
        "details": {"vmsnap.guestAgent": str(guest_agent).lower(),
                    "vmsnap.powerOn": str(power_on).lower()}}, **_base()}}


def vm_command(kind: str, vm: VM, **extra: Any) -> dict[str, Any]:
    return {API + kind: {"vmName": vm.instance_name, **extra, **_base()}}


def create_volume(volume: Volume, pool: str) -> dict[str, Any]:
    return {STORAGE + "CreateObjectCommand": {"data": {VOLUME_TO: volume_to(volume, None, pool)},
                                              **_base()}}


def delete_volume(volume: Volume, pool: str) -> dict[str, Any]:
    return {STORAGE + "DeleteCommand": {"data": {VOLUME_TO: volume_to(volume, None, pool)},
                                        **_base()}}


def disk_command(kind: str, vm: VM, volume: Volume, pool: str) -> dict[str, Any]:
    return {STORAGE + kind: {"vmName": vm.instance_name, "disk": {
        "data": {VOLUME_TO: volume_to(volume, vm, pool)}, "diskSeq": volume.device_id or 0,
        "type": volume.type}, **_base()}}


def resize_volume(volume: Volume, vm: VM | None, pool: str, new_size: int,
                  shrink_ok: bool) -> dict[str, Any]:
    body = {"path": volume.path, "pool": {"id": 1, "uuid": "primary-1", "path": pool,
                                          "type": "Filesystem"},
            "currentSize": volume.size, "newSize": new_size, "shrinkOk": shrink_ok, **_base()}
    if vm is not None:
        body["vmInstance"] = vm.instance_name
    return {API + "storage.ResizeVolumeCommand": body}


def volume_snapshot(kind: str, snap: VolumeSnapshot, volume: Volume, pool: str) -> dict[str, Any]:
    data = {SNAPSHOT_TO: {"path": snap.name, "name": snap.name, "id": snap.id,
                          "volume": volume_to(volume, None, pool),
                          "dataStore": datastore(pool)}}
    return {STORAGE + kind: {"data": data, **_base()}}


def guest_data(vm: VM, op: str, **fields: Any) -> dict[str, Any]:
    return {"vmsnap.GuestDataCommand": {"vmName": vm.instance_name, "op": op, **fields,
                                        **_base()}}

