"""The seed's limitations: volumes, offering changes and volume snapshots against VM
snapshots, with CloudStack's messages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from contract_tests.client import ApiError, JobFailed
from contract_tests.waiting import wait_until
from simulator.models import VM, VolumeSnapshot
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


def test_scaling_a_stopped_vm_is_an_offering_change_and_a_running_one_is_refused(admin,
                                                                                  world):
    vm = world.deploy()
    disk = world.snapshot(vm, name="disk")
    world.snapshot(vm, name="mem", snapshotmemory=True)
    offerings = {o["id"]: o for o in admin.list("listServiceOfferings", "serviceoffering")}
    # Running: KVM scales live only VMs of custom offerings; the simulator's are fixed.
    with pytest.raises(JobFailed) as err:
        admin.run("scaleVirtualMachine", id=vm["id"], serviceofferingid=world.offering)
    assert err.value.errorcode == 431 and "only scalling up it is supported" in \
        err.value.errortext
    current = offerings[world.offering]
    bigger = next(o for o in offerings.values() if o["memory"] > current["memory"])
    with pytest.raises(JobFailed) as err:
        admin.run("scaleVirtualMachine", id=vm["id"], serviceofferingid=bigger["id"])
    assert "Unable to live scale VM on KVM" in err.value.errortext
    assert len(world.snapshots(vm)) == 2  # refused: nothing changed
    # Stopped: the same rule as changeServiceForVirtualMachine (memory snapshots discarded).
    admin.run("stopVirtualMachine", id=vm["id"])
    scaled = admin.run("scaleVirtualMachine", id=vm["id"],
                       serviceofferingid=world.offering2)["virtualmachine"]
    assert scaled["serviceofferingid"] == world.offering2
    assert [s["id"] for s in world.snapshots(vm)] == [disk["id"]]


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
    # Each job waits 1.5 s in its transitional state: long enough for the requests below
    # to find it there however loaded the machine is.
    control(sim, "POST", "/jobs", {"delay_ms": 1500})
    started = admin.call("createSnapshot", volumeid=root["id"])
    wait_until(lambda: admin.list("listSnapshots", "snapshot", id=started["id"])[0][
        "state"] == "Creating", 10, message="the volume snapshot job to start")
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


def _host_copies(sim, path: str) -> int:
    """How many volume snapshot copies named ``path`` the simulated host holds."""
    host = sim.app.extensions["sim.hosts"].local.simulated
    return int(host.store.query("SELECT COUNT(*) FROM volume_snapshots WHERE name=?",
                                (path,))[0][0])


@contextmanager
def _behind_a_reboot(sim, admin, vm, ms: int) -> Iterator[None]:
    """Jobs asked for inside wait in the VM's queue behind a reboot held for ``ms``; the
    reboot then fails, as a VM snapshot task (the first of them) is waiting."""
    control(sim, "POST", "/jobs", {"command": "rebootVirtualMachine", "delay_ms": ms})
    reboot = admin.call("rebootVirtualMachine", id=vm["id"])
    yield
    control(sim, "POST", "/jobs", {"command": "rebootVirtualMachine", "delay_ms": 0})
    with pytest.raises(JobFailed):
        admin.job(reboot["jobid"])


def test_a_vm_snapshot_queued_behind_a_destroy_never_reaches_the_host(sim, admin, world):
    vm = world.deploy()
    # Jobs on one VM run one at a time: the destroy, then the snapshot asked for while the
    # VM was still running.
    with _behind_a_reboot(sim, admin, vm, 1000):
        destroy = admin.call("destroyVirtualMachine", id=vm["id"])
        created = admin.call("createVMSnapshot", virtualmachineid=vm["id"])
    admin.job(destroy["jobid"])
    with pytest.raises(JobFailed) as err:
        admin.job(created["jobid"])
    assert err.value.errorcode == 530 and "can not be found" in err.value.errortext
    assert admin.call("listVMSnapshot", virtualmachineid=vm["id"]) == {}
    admin.call("recoverVirtualMachine", id=vm["id"])
    record = sim.manager.store.by_uuid(VM, vm["id"])
    assert sim.manager.agent.view(f"/v1/vms/{record.instance_name}/snapshots")[
        "snapshots"] == []


def test_a_volume_snapshot_waits_for_the_vms_queued_snapshot(sim, admin, world):
    vm = world.deploy()
    root = admin.list("listVolumes", "volume", virtualmachineid=vm["id"], type="ROOT")[0]
    control(sim, "POST", "/faults", {"command": "CreateVMSnapshotCommand", "action": "delay",
                                      "ms": 1500})
    # A VM job under way: the VM snapshot asked for now waits in the VM's queue (Allocated,
    # not an active task), so a volume snapshot is accepted after it, and must wait too.
    with _behind_a_reboot(sim, admin, vm, 800):
        vm_job = admin.call("createVMSnapshot", virtualmachineid=vm["id"])
        volume_job = admin.call("createSnapshot", volumeid=root["id"])
    wait_until(lambda: world.snapshots(vm)[0]["state"] == "Creating", 10,
               message="the VM snapshot to reach the host")
    # While the VM snapshot is on the host, the volume snapshot has not started.
    assert [s["state"] for s in admin.list("listSnapshots", "snapshot",
                                          volumeid=root["id"])] == ["Allocated"]
    assert admin.job(vm_job["jobid"])["jobresult"]["vmsnapshot"]["state"] == "Ready"
    assert admin.job(volume_job["jobid"])["jobresult"]["snapshot"]["state"] == "BackedUp"


def test_volume_snapshots_share_names_and_outlive_their_volume(sim, admin, world):
    volume = new_volume(admin, world)
    vm = world.deploy(running=False)
    admin.run("attachVolume", id=volume["id"], virtualmachineid=vm["id"])
    first = admin.run("createSnapshot", volumeid=volume["id"], name="nightly")["snapshot"]
    second = admin.run("createSnapshot", volumeid=volume["id"], name="nightly")["snapshot"]
    assert first["id"] != second["id"] and second["state"] == "BackedUp"
    paths = [sim.manager.store.by_uuid(VolumeSnapshot, s["id"]).path for s in (first, second)]
    assert len(set(paths)) == 2 and all(_host_copies(sim, p) for p in paths)
    admin.run("detachVolume", id=volume["id"])
    admin.call("deleteVolume", id=volume["id"])
    # The snapshots are still listed, and still held by the host, until they are deleted.
    listed = admin.list("listSnapshots", "snapshot", volumeid=volume["id"])
    assert {s["state"] for s in listed} == {"BackedUp"}
    assert all(_host_copies(sim, p) for p in paths)
    for snap, path in zip((first, second), paths, strict=True):
        admin.run("deleteSnapshot", id=snap["id"])
        assert _host_copies(sim, path) == 0


def test_a_vm_whose_first_start_failed_is_known_to_its_host_and_can_be_snapshot(sim, admin,
                                                                               world):
    control(sim, "POST", "/faults", {"command": "StartCommand", "action": "fault",
                                      "count": 1})
    deployed = admin.call("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                          serviceofferingid=world.offering)
    with pytest.raises(JobFailed):
        admin.job(deployed["jobid"])
    vm = admin.list("listVirtualMachines", "virtualmachine", id=deployed["id"])[0]
    assert vm["state"] == "Stopped"
    snap = world.snapshot(vm)  # the host knows the stopped VM and its disks
    assert snap["state"] == "Ready"


def test_resizes_under_way_count_against_the_storage_limit(sim, admin, world):
    first, second = new_volume(admin, world), new_volume(admin, world)
    account = admin.list("listAccounts", "account", name="admin")[0]
    used = sum(v["size"] for v in admin.list("listVolumes", "volume", listall=True)
               if v["account"] == "admin")
    limit = -(-used // (1 << 30)) + 10  # GiB: room for one resize of 6 GiB more, not two
    admin.call("updateResourceLimit", resourcetype=10, max=limit, account="admin",
               domainid=account["domainid"])
    try:
        control(sim, "POST", "/faults", {"command": "ResizeVolumeCommand", "action": "delay",
                                          "ms": 1500})
        grow = first["size"] // (1 << 30) + 6
        started = admin.call("resizeVolume", id=first["id"], size=grow)
        wait_until(lambda: admin.list("listVolumes", "volume", id=first["id"])[0][
            "state"] == "Resizing", 10, message="the first resize to reach the host")
        again = _refused_job(admin, "resizeVolume", id=first["id"], size=grow + 1)
        assert "Volume should be in ready or allocated state before attempting a resize" \
            in again.errortext
        over = _refused_job(admin, "resizeVolume", id=second["id"], size=grow)
        assert over.errorcode == 535 and "primary_storage" in over.errortext
        assert admin.job(started["jobid"])["jobresult"]["volume"]["size"] == grow << 30
        assert admin.list("listVolumes", "volume", id=second["id"])[0]["size"] == \
            second["size"]
    finally:
        admin.call("updateResourceLimit", resourcetype=10, max=-1, account="admin",
                   domainid=account["domainid"])


def _refused_job(admin, command, **params):
    with pytest.raises((JobFailed, ApiError)) as err:
        admin.run(command, **params)
    return err.value


def test_hypervisor_capabilities_gate_vm_snapshots_and_data_disks(admin, world):
    [kvm] = admin.list("listHypervisorCapabilities", "hypervisorCapabilities",
                       hypervisor="KVM")
    assert (kvm["hypervisorversion"], kvm["vmsnapshotenabled"], kvm["maxdatavolumeslimit"]) \
        == ("default", True, 32)
    vm = world.deploy(running=False, data_disk=True)
    try:
        changed = admin.call("updateHypervisorCapabilities", id=kvm["id"],
                             vmsnapshotenabled=False, maxdatavolumeslimit=1)
        assert changed["hypervisorCapabilities"]["vmsnapshotenabled"] is False
        with pytest.raises(ApiError) as err:
            admin.call("createVMSnapshot", virtualmachineid=vm["id"])
        assert err.value.status == 530 and err.value.errortext == (
            "Failed to create vm snapshot: VM snapshot is not enabled for hypervisor type: KVM")
        assert world.snapshots(vm) == []
        with pytest.raises(JobFailed) as err:
            admin.run("attachVolume", id=new_volume(admin, world)["id"],
                      virtualmachineid=vm["id"])
        assert "maximum number of data disks (1) attached" in err.value.errortext
    finally:
        admin.call("updateHypervisorCapabilities", hypervisor="KVM", vmsnapshotenabled=True,
                   maxdatavolumeslimit=32)
    assert world.snapshot(vm)["state"] == "Ready"
    with pytest.raises(ApiError) as err:
        admin.call("updateHypervisorCapabilities", vmsnapshotenabled=True)
    assert err.value.status == 431


def test_a_destroyed_volume_is_kept_until_expunged_or_recovered(admin, user, world):
    volume = new_volume(admin, world)
    vm = world.deploy(running=False)
    admin.run("attachVolume", id=volume["id"], virtualmachineid=vm["id"])
    with pytest.raises(JobFailed) as err:
        admin.run("destroyVolume", id=volume["id"])
    assert "not attached to any VM" in err.value.errortext
    admin.run("detachVolume", id=volume["id"])
    destroyed = admin.run("destroyVolume", id=volume["id"])["volume"]
    assert destroyed["state"] == "Destroy" and destroyed["destroyed"] is True
    with pytest.raises(JobFailed):  # not Ready: it cannot be attached
        admin.run("attachVolume", id=volume["id"], virtualmachineid=vm["id"])
    recovered = admin.call("recoverVolume", id=volume["id"])["volume"]
    assert recovered["state"] == "Ready" and recovered["destroyed"] is False
    err = _refused_job(admin, "recoverVolume", id=volume["id"])
    assert "Please specify a volume in Destroy state." in err.errortext
    admin.run("destroyVolume", id=volume["id"], expunge=True)
    assert admin.list("listVolumes", "volume", id=volume["id"]) == []
    # An ordinary user's volume: expunging and recovering are the admin's by default.
    own = user.run("createVolume", name="users", zoneid=world.zone,
                   diskofferingid=world.disk_offering)["volume"]
    with pytest.raises(ApiError) as err:
        user.call("destroyVolume", id=own["id"], expunge=True)
    assert err.value.status == 531 and "allow.user.expunge.recover.volume" in \
        err.value.errortext
    assert user.run("destroyVolume", id=own["id"])["volume"]["state"] == "Destroy"
    with pytest.raises(ApiError) as err:
        user.call("recoverVolume", id=own["id"])
    assert err.value.status == 531
    admin.call("recoverVolume", id=own["id"])
    user.call("deleteVolume", id=own["id"])
