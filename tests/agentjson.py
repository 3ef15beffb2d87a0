"""Agent command bodies shaped as CloudStack's Gson writes them (reference section 1.9)."""

from __future__ import annotations

import itertools
import json
import os
from typing import Any

API = "com.cloud.agent.api."
_ids = itertools.count(1)


def volume(path: str, pool: str, *, vm: str, kind: str = "ROOT", device: int = 0,
           name: str | None = None) -> dict[str, Any]:
    vid = next(_ids)
    return {
        "uuid": f"vol-{vid}", "volumeType": kind,
        "dataStore": {"org.apache.cloudstack.storage.to.PrimaryDataStoreTO": {
            "uuid": "pool-1", "name": "local", "id": 1, "poolType": "Filesystem",
            "host": "localhost", "path": pool, "port": 0, "url": f"file://{pool}",
            "details": {}, "isManaged": False}},
        "name": name or f"{kind}-{vid}", "size": 64 * 1024 * 1024,
        "path": os.path.relpath(path, pool), "volumeId": vid, "vmName": vm, "accountId": 2,
        "format": "QCOW2", "provisioningType": "THIN", "poolId": 1, "id": vid,
        "deviceId": device, "hypervisorType": "KVM", "directDownload": False,
        "deployAsIs": False, "followRedirects": False,
    }


def snapshot_to(name: str, *, type: str = "Disk", quiesce: bool = False,
                parents: list[str] | None = None, current: bool = False,
                created_ms: int | None = None, description: str = "") -> dict[str, Any]:
    """A VMSnapshotTO; ``parents`` is the ancestor chain, nearest first."""
    to: dict[str, Any] = {"id": next(_ids), "snapshotName": name, "type": type,
                          "current": current, "quiescevm": quiesce}
    if description:
        to["description"] = description
    if created_ms is not None:
        to["createTime"] = created_ms
    node = to
    for parent in parents or []:
        node["parent"] = {"id": next(_ids), "snapshotName": parent, "type": "Disk",
                          "createTime": 1735639200000, "current": False, "quiescevm": True}
        node = node["parent"]
    return to


def command(kind: str, vm: str, target: dict[str, Any] | None, volumes: list[dict[str, Any]],
            **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"vmName": vm, "volumeTOs": volumes, "guestOSType": "Debian",
                            "contextMap": {}, "wait": 0, "bypassHostMaintenance": False}
    if target is not None:
        body["target"] = target
    body.update(extra)
    return {API + kind: body}


def create(vm: str, name: str, volumes: list[dict[str, Any]], **to: Any) -> dict[str, Any]:
    return command("CreateVMSnapshotCommand", vm, snapshot_to(name, **to), volumes,
                   vmUuid=f"uuid-{vm}", wait=1800)


def revert(vm: str, name: str, volumes: list[dict[str, Any]], **to: Any) -> dict[str, Any]:
    return command("RevertToVMSnapshotCommand", vm, snapshot_to(name, **to), volumes,
                   vmUuid=f"uuid-{vm}", reloadVm=False)


def delete(vm: str, name: str, volumes: list[dict[str, Any]], **to: Any) -> dict[str, Any]:
    return command("DeleteVMSnapshotCommand", vm, snapshot_to(name, **to), volumes)


def freeze_thaw(vm: str, option: str) -> dict[str, Any]:
    return {API + "FreezeThawVMCommand": {"vmName": vm, "option": option, "contextMap": {},
                                          "wait": 0, "bypassHostMaintenance": False}}


def body(*commands: dict[str, Any]) -> bytes:
    return json.dumps(list(commands)).encode()


STORAGE = "org.apache.cloudstack.storage.command."
VOLUME_TO = "org.apache.cloudstack.storage.to.VolumeObjectTO"
SNAPSHOT_TO = "org.apache.cloudstack.storage.to.SnapshotObjectTO"


def start(vm: str, volumes: list[dict[str, Any]], *, agent: bool = True,
          ram_mib: int = 256) -> dict[str, Any]:
    disks = [{"data": {VOLUME_TO: v}, "diskSeq": i, "type": v.get("volumeType", "ROOT")}
             for i, v in enumerate(volumes)]
    return {API + "StartCommand": {
        "vm": {"name": vm, "uuid": f"uuid-{vm}", "cpus": 1, "maxRam": ram_mib << 20,
               "disks": disks, "details": {"vmsnap.guestAgent": str(agent).lower()}},
        "contextMap": {}, "wait": 0, "bypassHostMaintenance": False}}


def stop(vm: str) -> dict[str, Any]:
    return {API + "StopCommand": {"vmName": vm, "contextMap": {}, "wait": 0}}


def create_volume(vol: dict[str, Any]) -> dict[str, Any]:
    return {STORAGE + "CreateObjectCommand": {"data": {VOLUME_TO: vol}, "contextMap": {},
                                              "wait": 0}}


def attach(vm: str, vol: dict[str, Any], seq: int) -> dict[str, Any]:
    return {STORAGE + "AttachCommand": {"vmName": vm, "disk": {
        "data": {VOLUME_TO: vol}, "diskSeq": seq, "type": "DATADISK"}, "contextMap": {}}}


def detach(vm: str, vol: dict[str, Any], seq: int) -> dict[str, Any]:
    return {STORAGE + "DettachCommand": {"vmName": vm, "disk": {
        "data": {VOLUME_TO: vol}, "diskSeq": seq, "type": "DATADISK"}, "contextMap": {}}}


def guest(vm: str, op: str, **fields: Any) -> dict[str, Any]:
    if isinstance(fields.get("data"), bytes):
        import base64

        fields["data"] = base64.b64encode(fields["data"]).decode()
    return {"vmsnap.GuestDataCommand": {"vmName": vm, "op": op, "contextMap": {}, **fields}}
