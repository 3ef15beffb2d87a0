"""The seed's limitations: volumes, offering changes and volume snapshots against VM
snapshots, with CloudStack's messages."""

from __future__ import annotations

import pytest

from contract_tests.client import ApiError, JobFailed
from contract_tests.waiting import wait_until
from tests.support.simulator import control


def new_volume(admin, world):
    return admin.run("createVolume", name="extra", zoneid=world.zone,
                     diskofferingid=world.disk_offering)["volume"]


def test_attach_detach_resize_refused_while_snapshots_exist(admin, world):
    vm = world.deploy(data_disk=True)
    data = next(v for v in admin.list("listVolumes", "volume", virtualmachineid=vm["id"])
                if v["type"] == "DATADISK")
    extra = new_volume(admin, world)
    snap = world.snapshot(vm)
    with pytest.raises(JobFailed) as err:
        admin.run("attachVolume", id=extra["id"], virtualmachineid=vm["id"])
    assert err.value.errorcode == 431 and err.value.errortext == (
        f"Unable to attach volume to VM {vm['name']}/{vm['id']}, please specify a VM that does "
        "not have VM snapshots")
    with pytest.raises(JobFailed) as err:
        admin.run("detachVolume", id=data["id"])
    assert err.value.errortext == ("Unable to detach volume, please specify a VM that does not "
                                   "have VM snapshots")
    with pytest.raises(JobFailed) as err:
        admin.run("resizeVolume", id=data["id"], size=50)
    assert err.value.errortext == ("The volume is attached to a VM with memory&disk VM "
                                   "snapshots; therefore, it cannot be resized.")
    with pytest.raises(ApiError) as err:
        admin.call("deleteVolume", id=data["id"])
    assert err.value.errortext == "Please specify a volume that is not attached to any VM."
    assert len(admin.list("listVolumes", "volume", virtualmachineid=vm["id"])) == 2
    admin.run("deleteVMSnapshot", vmsnapshotid=snap["id"])
    attached = admin.run("attachVolume", id=extra["id"], virtualmachineid=vm["id"])["volume"]
    assert attached["virtualmachineid"] == vm["id"] and attached["deviceid"] == 2
    admin.run("detachVolume", id=data["id"])
    assert admin.run("resizeVolume", id=extra["id"], size=50)["volume"]["size"] == 50 << 30
    admin.call("deleteVolume", id=data["id"])
    assert admin.list("listVolumes", "volume", id=data["id"]) == []


def test_offering_change_discards_memory_snapshots_by_default(admin, world):
    vm = world.deploy()
    disk = world.snapshot(vm, name="disk")
    world.snapshot(vm, name="mem", snapshotmemory=True)
    child = world.snapshot(vm, name="child")
    admin.run("stopVirtualMachine", id=vm["id"])
    changed = admin.call("changeServiceForVirtualMachine", id=vm["id"],
                         serviceofferingid=world.offering2)["virtualmachine"]
    assert changed["serviceofferingid"] == world.offering2
    tree = {s["displayname"]: s.get("parentName") for s in world.snapshots(vm)}
    assert tree == {"disk": None, "child": "disk"}
    assert {s["id"] for s in world.snapshots(vm)} == {disk["id"], child["id"]}


def test_offering_change_block_and_restore_policies(admin, world):
    vm = world.deploy(running=False)
    snap = world.snapshot(vm)
    try:
        admin.call("updateConfiguration", name="vmsnapshot.offering.change", value="block")
        with pytest.raises(ApiError) as err:
            admin.call("changeServiceForVirtualMachine", id=vm["id"],
                       serviceofferingid=world.offering2)
        assert err.value.status == 431 and err.value.errortext == (
            "Unable to change service offering for VM, please remove VM snapshots before "
            "changing service offering of VM")
        admin.call("updateConfiguration", name="vmsnapshot.offering.change", value="restore")
        admin.call("changeServiceForVirtualMachine", id=vm["id"],
                   serviceofferingid=world.offering2)
        assert len(world.snapshots(vm)) == 1
        back = admin.run("revertToVMSnapshot", vmsnapshotid=snap["id"])["virtualmachine"]
        assert back["serviceofferingid"] == world.offering
        with pytest.raises(ApiError):
            admin.call("updateConfiguration", name="vmsnapshot.offering.change", value="maybe")
    finally:
        admin.call("updateConfiguration", name="vmsnapshot.offering.change", value="discard")


def test_vm_snapshot_and_volume_snapshot_exclude_each_other(sim, admin, world):
    vm = world.deploy()
    root = admin.list("listVolumes", "volume", virtualmachineid=vm["id"], type="ROOT")[0]
    control(sim, "POST", "/jobs", {"delay_ms": 400})
    started = admin.call("createSnapshot", volumeid=root["id"])
    with pytest.raises(ApiError) as err:
        admin.call("createVMSnapshot", virtualmachineid=vm["id"])
    assert err.value.errortext == (
        "Failed to create vm snapshot: There is other active volume snapshot tasks on the "
        "instance to which the volume is attached, please try again later.")
    assert admin.job(started["jobid"])["jobresult"]["snapshot"]["state"] == "BackedUp"
    vm_job = admin.call("createVMSnapshot", virtualmachineid=vm["id"])
    wait_until(lambda: world.snapshots(vm)[0]["state"] == "Creating", 10,
               message="the snapshot job to start")
    with pytest.raises(ApiError) as err:
        admin.call("createSnapshot", volumeid=root["id"])
    assert err.value.status == 530 and err.value.errortext == (
        "There is other active vm snapshot tasks on the instance to which the volume is "
        "attached, please try again later")
    admin.job(vm_job["jobid"])
    snaps = admin.list("listSnapshots", "snapshot", volumeid=root["id"])
    assert [s["state"] for s in snaps] == ["BackedUp"]
    admin.run("deleteSnapshot", id=snaps[0]["id"])


def test_reboot_refused_while_a_snapshot_task_runs(sim, admin, world):
    vm = world.deploy()
    # Jobs on one VM run one at a time. A reboot that is under way when a VM snapshot is
    # asked for finds that snapshot allocated (an active task) when it reaches its check.
    control(sim, "POST", "/jobs", {"command": "rebootVirtualMachine", "delay_ms": 1500})
    reboot = admin.call("rebootVirtualMachine", id=vm["id"])
    started = admin.call("createVMSnapshot", virtualmachineid=vm["id"])
    with pytest.raises(JobFailed) as err:
        admin.job(reboot["jobid"])
    assert err.value.errortext.startswith("Unable to reboot VM VM instance {")
    assert err.value.errortext.endswith(
        f"due to: {vm['instancename']} has active VM snapshots tasks")
    control(sim, "POST", "/jobs", {"command": "rebootVirtualMachine", "delay_ms": 0})
    assert admin.job(started["jobid"])["jobresult"]["vmsnapshot"]["state"] == "Ready"
    # with no snapshot task active the reboot goes through
    assert admin.run("rebootVirtualMachine", id=vm["id"])["virtualmachine"]["state"] == \
        "Running"
