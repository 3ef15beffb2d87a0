"""The simulator builds agent commands from the driver's own wire objects: every builder's
output decodes cleanly with the driver's decoder, and a malformed one fails where it is
built, with no HTTP and no driver involved."""

from __future__ import annotations

import json

import pytest

from driver.wire.envelope import decode_commands
from simulator.models import VM, StoragePool, VMSnapshot, Volume, VolumeSnapshot
from simulator.orchestrator import wire

POOL = StoragePool("zone1-primary", 1, "/pool", id=1, uuid="pool-uuid")
CEPH = StoragePool("ceph1", 1, "cloudstack", "RBD", "10.0.0.11", 6789, "ceph", id=2,
                   uuid="ceph-uuid")


def _world():
    vm = VM("web", "i-2-7-VM", account_id=2, domain_id=1, zone_id=1, template_id=1,
            service_offering_id=1, host_id=1, id=7, uuid="vm-uuid")
    root = Volume("ROOT-7", 2, 1, 1, "ROOT", 1 << 30, "root-path", vm_id=7, device_id=0,
                  id=11, uuid="vol-uuid")
    parent = VMSnapshot("i-2-7-VM_VS_1", "first", 7, 2, 1, 1, state="Ready", id=1)
    snap = VMSnapshot("i-2-7-VM_VS_2", "second", 7, 2, 1, 1, type="DiskAndMemory",
                      description="before upgrade", parent_id=1, id=2)
    return vm, root, parent, snap


def _decoded(element):
    [item] = decode_commands(json.dumps([element]))
    return item


def test_every_builder_decodes_cleanly_with_the_driver():
    vm, root, parent, snap = _world()
    to = wire.snapshot_to(snap, [parent], quiesce=True)
    volumes = [wire.volume_to(root, vm, POOL)]
    vs = VolumeSnapshot("vs", volume_id=11, account_id=2, domain_id=1, zone_id=1, id=3)
    built = [
        wire.vm_snapshot_command("CreateVMSnapshotCommand", vm, to, volumes, wait=1800),
        wire.vm_snapshot_command("RevertToVMSnapshotCommand", vm, to, volumes),
        wire.vm_snapshot_command("DeleteVMSnapshotCommand", vm, to, volumes),
        wire.start_command(vm, [(root, POOL)], cpus=2, memory_mib=512, guest_agent=True),
        wire.vm_command("StopCommand", vm, undefine=True),
        wire.vm_command("RebootCommand", vm),
        wire.create_volume(root, POOL), wire.delete_volume(root, POOL),
        wire.disk_command("AttachCommand", vm, root, POOL),
        wire.disk_command("DettachCommand", vm, root, POOL),
        wire.resize_volume(root, vm, POOL, 2 << 30, False),
        wire.volume_snapshot("CreateObjectCommand", vs, root, POOL),
        wire.guest_data(vm, "read_file", path="/etc/motd"),
    ]
    for element in built:
        item = _decoded(element)
        assert item.error is None, item.error
    create = _decoded(built[0]).command
    assert create.target.snapshotName == "i-2-7-VM_VS_2"
    assert create.target.parent.snapshotName == "i-2-7-VM_VS_1"
    assert create.target.description == "before upgrade"
    assert create.volumeTOs[0].dataStore.path == POOL.path and create.wait == 1800
    # CloudStack's fields the driver does not read travel unchanged.
    body = built[0]["com.cloud.agent.api.CreateVMSnapshotCommand"]
    assert body["volumeTOs"][0]["provisioningType"] == "THIN"
    assert "vmUuid" not in built[2]["com.cloud.agent.api.DeleteVMSnapshotCommand"]


def test_a_volume_on_an_rbd_pool_travels_as_cloudstack_sends_it():
    vm, root, _, _ = _world()
    start = wire.start_command(vm, [(root, CEPH)], cpus=1, memory_mib=256, guest_agent=True)
    body = start["com.cloud.agent.api.StartCommand"]["vm"]["disks"][0]["data"]
    to = body["org.apache.cloudstack.storage.to.VolumeObjectTO"]
    store = to["dataStore"]["org.apache.cloudstack.storage.to.PrimaryDataStoreTO"]
    assert (to["format"], to["path"], to["poolId"]) == ("RAW", "root-path", 2)
    assert (store["poolType"], store["host"], store["port"], store["path"]) == (
        "RBD", "10.0.0.11", 6789, "cloudstack")
    assert store["uuid"] == "ceph-uuid" and store["url"] == "rbd://10.0.0.11:6789/cloudstack"
    resize = wire.resize_volume(root, vm, CEPH, 2 << 30, False)
    pool = resize["com.cloud.agent.api.storage.ResizeVolumeCommand"]["pool"]
    assert (pool["type"], pool["host"], pool["port"], pool["path"]) == (
        "RBD", "10.0.0.11", 6789, "cloudstack")
    files = wire.volume_to(root, vm, POOL)
    assert files.format == "QCOW2" and files.dataStore.poolType == "Filesystem"


def test_a_malformed_command_fails_where_it_is_built():
    vm, root, parent, snap = _world()
    snap.type = "Everything"
    with pytest.raises(ValueError, match="Invalid CreateVMSnapshotCommand: target.type"):
        wire.vm_snapshot_command("CreateVMSnapshotCommand", vm,
                                 wire.snapshot_to(snap, [parent], quiesce=False),
                                 [wire.volume_to(root, vm, POOL)])
    with pytest.raises(ValueError, match="op"):
        wire.guest_data(vm, "format_disk")
