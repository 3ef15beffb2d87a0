"""Primary storage pools over real HTTP: a world with a Filesystem pool and a Ceph RBD pool,
``listStoragePools`` with CloudStack's types, volumes placed by storage tags (or by
``storageid``) and pointing at their pool, and VM snapshots with memory of a VM on RBD
through the simulated host, which is handed the volumes as ``rbd:<pool>/<image>``."""

from __future__ import annotations

from typing import Any

import pytest

from contract_tests.client import ApiError, Client
from simulator.app import ThreadedServer
from simulator.config import DiskOfferingSpec, OfferingSpec, PoolSpec
from tests.support.simulator import World, memory, read, write


@pytest.fixture(scope="module")
def sim_overrides() -> dict[str, Any]:
    return {
        "pools": [PoolSpec("files", "zone1"),
                  PoolSpec("ceph1", "zone1", "RBD", "cloudstack", "10.0.0.11", 6789,
                           ["ceph"])],
        "service_offerings": [OfferingSpec("Small Instance", 1, 512),
                              OfferingSpec("On Ceph", 1, 512, tags=["ceph"]),
                              OfferingSpec("On SSD", 1, 512, tags=["ssd"])],
        "disk_offerings": [DiskOfferingSpec("Small", 5), DiskOfferingSpec("Ceph data", 5,
                                                                          ["ceph"])],
    }


def _by_name(client: Client, command: str, key: str) -> dict[str, Any]:
    return {o["name"]: o for o in client.list(command, key)}


@pytest.fixture(scope="module")
def pools(admin: Client) -> dict[str, Any]:
    return _by_name(admin, "listStoragePools", "storagepool")


def _deploy(world: World, offering: str, disk: str | None = None) -> dict[str, Any]:
    offerings = _by_name(world.client, "listServiceOfferings", "serviceoffering")
    disks = _by_name(world.client, "listDiskOfferings", "diskoffering")
    return world.client.run(
        "deployVirtualMachine", zoneid=world.zone, templateid=world.template,
        serviceofferingid=offerings[offering]["id"],
        diskofferingid=disks[disk]["id"] if disk else None)["virtualmachine"]


def _volumes(client: Client, vm: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(client.list("listVolumes", "volume", virtualmachineid=vm["id"]),
                  key=lambda v: v["deviceid"])


def test_list_storage_pools_shows_each_with_cloudstacks_type(pools: dict[str, Any]) -> None:
    assert set(pools) == {"files", "ceph1"}
    ceph, files = pools["ceph1"], pools["files"]
    assert (ceph["type"], ceph["path"], ceph["ipaddress"], ceph["tags"]) == (
        "RBD", "cloudstack", "10.0.0.11", "ceph")
    assert files["type"] == "Filesystem" and files["path"].endswith("pool")
    assert "tags" not in files
    assert ceph["zoneid"] == files["zoneid"] and ceph["scope"] == "ZONE"


def test_volumes_go_to_the_pool_their_offerings_tags_choose(
        sim: ThreadedServer, admin: Client, world: World, pools: dict[str, Any]) -> None:
    plain = _deploy(world, "Small Instance", "Small")
    on_ceph = _deploy(world, "On Ceph", "Ceph data")
    mixed = _deploy(world, "On Ceph", "Small")
    assert [(v["storage"], v["storageid"]) for v in _volumes(admin, plain)] == [
        ("files", pools["files"]["id"])] * 2
    assert [v["storage"] for v in _volumes(admin, on_ceph)] == ["ceph1", "ceph1"]
    assert [v["storage"] for v in _volumes(admin, mixed)] == ["ceph1", "files"]
    # The host was handed each volume on its pool: RBD images by pool and image name.
    local = sim.host
    assert local is not None and local.simulated is not None
    disks = [d.path for d in local.simulated.guest(mixed["instancename"]).disks()]
    root, data = _volumes(admin, mixed)
    assert disks[0] == f"rbd:cloudstack/{root['path']}"
    assert disks[1].startswith("/") and disks[1].endswith(data["path"])
    # Each pool counts its own volumes.
    after = _by_name(admin, "listStoragePools", "storagepool")
    assert after["ceph1"]["disksizeallocated"] == sum(
        v["size"] for vm in (on_ceph, mixed) for v in _volumes(admin, vm)
        if v["storage"] == "ceph1")


def test_no_pool_with_the_offerings_tags_is_refused_before_anything_is_recorded(
        admin: Client, world: World) -> None:
    before = len(admin.list("listVirtualMachines", "virtualmachine", listall=True))
    with pytest.raises(ApiError) as err:
        world.client.call("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                          serviceofferingid=_by_name(world.client, "listServiceOfferings",
                                                     "serviceoffering")["On SSD"]["id"])
    assert err.value.errorcode == 533 and "storage tags ssd" in err.value.errortext
    assert len(admin.list("listVirtualMachines", "virtualmachine", listall=True)) == before


def test_an_admin_creates_a_volume_on_a_named_pool(
        admin: Client, user: Client, pools: dict[str, Any], world: World) -> None:
    small = _by_name(admin, "listDiskOfferings", "diskoffering")["Small"]
    volume = admin.run("createVolume", name="on-ceph", diskofferingid=small["id"],
                       storageid=pools["ceph1"]["id"])["volume"]
    assert (volume["storage"], volume["state"]) == ("ceph1", "Ready")
    ceph_data = _by_name(admin, "listDiskOfferings", "diskoffering")["Ceph data"]
    with pytest.raises(ApiError) as err:
        admin.call("createVolume", name="x", diskofferingid=ceph_data["id"],
                   storageid=pools["files"]["id"])
    assert err.value.errorcode == 431 and "storage tags ceph" in err.value.errortext
    with pytest.raises(ApiError) as denied:
        user.call("createVolume", name="x", diskofferingid=small["id"],
                  storageid=pools["ceph1"]["id"])
    assert denied.value.errorcode == 531
    with pytest.raises(ApiError) as unknown:
        admin.call("createVolume", name="x", diskofferingid=small["id"],
                   storageid="00000000-0000-0000-0000-000000000000")
    assert unknown.value.errorcode == 431
    named = [v["name"] for v in admin.list("listVolumes", "volume", listall=True)]
    assert named.count("x") == 0 and named.count("on-ceph") == 1
    admin.call("deleteVolume", id=volume["id"])


def test_memory_snapshots_of_a_vm_on_rbd_revert_disk_and_memory(
        sim: ThreadedServer, world: World) -> None:
    vm = _deploy(world, "On Ceph", "Ceph data")
    write(sim, vm, b"before", device=0)
    write(sim, vm, b"data-1", device=1)
    memory(sim, vm, "marker", "one")
    snap = world.snapshot(vm, snapshotmemory=True)
    assert (snap["type"], snap["state"]) == ("DiskAndMemory", "Ready")
    write(sim, vm, b"after!", device=0)
    write(sim, vm, b"data-2", device=1)
    memory(sim, vm, "marker", "two")
    world.client.run("revertToVMSnapshot", vmsnapshotid=snap["id"])
    assert read(sim, vm, 6, device=0) == b"before" and read(sim, vm, 6, device=1) == b"data-1"
    assert memory(sim, vm)["marker"] == "one"
    running = world.client.list("listVirtualMachines", "virtualmachine", id=vm["id"])[0]
    assert running["state"] == "Running"
    world.client.run("deleteVMSnapshot", vmsnapshotid=snap["id"])
    assert world.snapshots(vm) == []


def test_a_disk_only_snapshot_on_rbd_needs_kvm_storage_snapshots(admin: Client,
                                                                 world: World) -> None:
    on_ceph, on_files = _deploy(world, "On Ceph"), _deploy(world, "Small Instance")
    admin.call("updateConfiguration", name="kvm.vmstoragesnapshot.enabled", value="false")
    try:
        with pytest.raises(ApiError) as err:
            admin.call("createVMSnapshot", virtualmachineid=on_ceph["id"])
        assert err.value.status == 530 and err.value.errortext.endswith(
            f"No strategy was able to handle requested snapshot for VM [{on_ceph['id']}].")
        assert world.snapshots(on_ceph) == []
        # qcow2 volumes, or a snapshot with memory, do not need it
        assert world.snapshot(on_files)["state"] == "Ready"
        assert world.snapshot(on_ceph, snapshotmemory=True)["state"] == "Ready"
    finally:
        admin.call("updateConfiguration", name="kvm.vmstoragesnapshot.enabled", value="true")
    assert world.snapshot(on_ceph)["state"] == "Ready"
    [host] = admin.list("listHosts", "host")[:1]
    assert host["details"]["Host.OS"] == "Debian"
