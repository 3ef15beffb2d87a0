"""VM snapshots through the simulator's API over real HTTP: shapes, the tree, data, rules."""

from __future__ import annotations

import re

import pytest

from contract_tests.client import ApiError, JobFailed
from tests.support.simulator import control, memory, read, write

DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$")


def test_create_answers_id_and_jobid_then_the_job_gives_the_snapshot(admin, world):
    vm = world.deploy()
    started = admin.call("createVMSnapshot", virtualmachineid=vm["id"], name="before upgrade",
                         description="first", snapshotmemory=True)
    assert set(started) == {"id", "jobid"}
    job = admin.job(started["jobid"])
    assert job["jobresulttype"] == "object" and job["jobresultcode"] == 0
    assert job["jobinstancetype"] == "VmSnapshot" and "jobinstanceid" not in job
    assert job["cmd"] == "org.apache.cloudstack.api.command.user.vmsnapshot.CreateVMSnapshotCmd"
    snap = job["jobresult"]["vmsnapshot"]
    assert snap["id"] == started["id"]
    assert snap["displayname"] == "before upgrade" and snap["description"] == "first"
    assert re.match(rf"^{vm['instancename']}_VS_\d{{14}}$", snap["name"])
    assert snap["state"] == "Ready" and snap["type"] == "DiskAndMemory"
    assert snap["current"] is True and "parent" not in snap
    assert DATE.match(snap["created"]) and DATE.match(job["created"])
    assert snap["virtualmachineid"] == vm["id"] and snap["hypervisor"] == "KVM"


def test_unnamed_snapshots_are_named_after_the_internal_name_and_unique(admin, world):
    vm = world.deploy(running=False)
    first = world.snapshot(vm)
    second = world.snapshot(vm)
    assert first["displayname"] == first["name"]
    assert second["name"] != first["name"]  # same second: a suffix keeps it unique
    assert first["type"] == "Disk"


def test_list_shapes_order_filters_and_paging(admin, world):
    vm = world.deploy()
    made = [world.snapshot(vm, name=f"s{i}") for i in range(3)]
    body = admin.call("listVMSnapshot", virtualmachineid=vm["id"])
    assert body["count"] == 3 and [s["id"] for s in body["vmSnapshot"]] == [
        m["id"] for m in reversed(made)]
    assert body["vmSnapshot"][0]["parentName"] == "s1"
    page = admin.call("listVMSnapshot", virtualmachineid=vm["id"], page=2, pagesize=2)
    assert page["count"] == 3 and [s["displayname"] for s in page["vmSnapshot"]] == ["s0"]
    by_id = admin.list("listVMSnapshot", "vmSnapshot", vmsnapshotid=made[1]["id"])
    assert [s["displayname"] for s in by_id] == ["s1"]
    by_ids = admin.list("listVMSnapshot", "vmSnapshot",
                        vmsnapshotids=[made[0]["id"], made[2]["id"]])
    assert sorted(s["displayname"] for s in by_ids) == ["s0", "s2"]
    assert [s["displayname"] for s in admin.list("listVMSnapshot", "vmSnapshot",
                                                 virtualmachineid=vm["id"], name="s2")] == ["s2"]
    with pytest.raises(ApiError) as err:
        admin.call("listVMSnapshot", vmsnapshotid=made[0]["id"], vmsnapshotids=made[1]["id"])
    assert err.value.errortext == "Specify either id or ids but not both parameters"
    for snap in made:
        admin.run("deleteVMSnapshot", vmsnapshotid=snap["id"])
    assert admin.call("listVMSnapshot", virtualmachineid=vm["id"]) == {}


def test_tree_revert_keeps_newer_and_branches_delete_relinks(admin, world):
    vm = world.deploy()
    a, b, c = (world.snapshot(vm, name=n, snapshotmemory=True) for n in "abc")
    reverted = admin.run("revertToVMSnapshot", vmsnapshotid=a["id"])["virtualmachine"]
    assert reverted["id"] == vm["id"] and reverted["state"] == "Running"
    d = world.snapshot(vm, name="d", snapshotmemory=True)
    tree = {s["displayname"]: (s.get("parentName"), s["current"]) for s in world.snapshots(vm)}
    assert tree == {"a": (None, False), "b": ("a", False), "c": ("b", False), "d": ("a", True)}
    admin.run("deleteVMSnapshot", vmsnapshotid=b["id"])  # a middle one
    tree = {s["displayname"]: (s.get("parentName"), s["current"]) for s in world.snapshots(vm)}
    assert tree == {"a": (None, False), "c": ("a", False), "d": ("a", True)}
    admin.run("deleteVMSnapshot", vmsnapshotid=d["id"])  # the current one
    tree = {s["displayname"]: (s.get("parentName"), s["current"]) for s in world.snapshots(vm)}
    assert tree == {"a": (None, True), "c": ("a", False)}
    admin.run("deleteVMSnapshot", vmsnapshotid=c["id"])  # a leaf
    assert [s["displayname"] for s in world.snapshots(vm)] == ["a"]


def test_guest_data_and_memory_come_back_on_revert(sim, admin, world):
    vm = world.deploy(data_disk=True)
    write(sim, vm, b"v1-root")
    write(sim, vm, b"v1-data", device=1)
    memory(sim, vm, "session", "one")
    s1 = world.snapshot(vm, snapshotmemory=True)
    write(sim, vm, b"v2-root")
    write(sim, vm, b"v2-data", device=1)
    memory(sim, vm, "session", "two")
    admin.run("revertToVMSnapshot", vmsnapshotid=s1["id"])
    assert read(sim, vm, 7) == b"v1-root" and read(sim, vm, 7, device=1) == b"v1-data"
    assert memory(sim, vm) == {"session": "one"}


def test_memory_of_a_stopped_vm_is_refused_synchronously(admin, world):
    vm = world.deploy(running=False)
    with pytest.raises(ApiError) as err:
        admin.call("createVMSnapshot", virtualmachineid=vm["id"], snapshotmemory=True)
    assert err.value.status == 530 and err.value.cserrorcode == 4350
    assert err.value.errortext == ("Failed to create vm snapshot: Can not snapshot memory when "
                                   "VM is not in Running state")
    assert world.snapshots(vm) == []


def test_revert_across_power_states_fails_the_job_with_431(admin, world):
    vm = world.deploy()
    disk_only = world.snapshot(vm)
    with pytest.raises(JobFailed) as err:
        admin.run("revertToVMSnapshot", vmsnapshotid=disk_only["id"])
    assert err.value.errorcode == 431
    assert err.value.errortext.startswith("VM Snapshot revert not allowed. This will result in "
                                          "VM state change.")
    mem = world.snapshot(vm, snapshotmemory=True)
    admin.run("stopVirtualMachine", id=vm["id"])
    with pytest.raises(JobFailed):
        admin.run("revertToVMSnapshot", vmsnapshotid=mem["id"])
    assert {s["state"] for s in world.snapshots(vm)} == {"Ready"}
    assert admin.run("revertToVMSnapshot", vmsnapshotid=disk_only["id"])[
        "virtualmachine"]["state"] == "Stopped"


def test_vmsnapshot_max(admin, world):
    vm = world.deploy(running=False)
    admin.call("updateConfiguration", name="vmsnapshot.max", value="2")
    try:
        world.snapshot(vm)
        world.snapshot(vm)
        with pytest.raises(ApiError) as err:
            admin.call("createVMSnapshot", virtualmachineid=vm["id"])
        assert err.value.status == 530 and err.value.errortext == (
            "Failed to create vm snapshot: Creating vm snapshot failed due to a VM can just "
            "have : 2 VM snapshots. Please delete old ones")
    finally:
        admin.call("updateConfiguration", name="vmsnapshot.max", value="10")


def test_a_second_create_while_one_is_in_progress_changes_nothing(sim, admin, world):
    vm = world.deploy()
    control(sim, "POST", "/jobs", {"delay_ms": 400})
    first = admin.call("createVMSnapshot", virtualmachineid=vm["id"])
    with pytest.raises(ApiError) as err:
        admin.call("createVMSnapshot", virtualmachineid=vm["id"])
    assert err.value.errortext == ("Failed to create vm snapshot: There is other active vm "
                                   "snapshot tasks on the instance, please try again later")
    states = [s["state"] for s in world.snapshots(vm)]
    assert len(states) == 1 and states[0] in ("Allocated", "Creating")
    admin.job(first["jobid"])
    assert [s["state"] for s in world.snapshots(vm)] == ["Ready"]


def test_transitional_states_are_visible_while_jobs_run(sim, admin, world):
    vm = world.deploy()
    snap = world.snapshot(vm, snapshotmemory=True)
    control(sim, "POST", "/jobs", {"delay_ms": 300})
    started = admin.call("revertToVMSnapshot", vmsnapshotid=snap["id"])
    seen = set()
    while admin.call("queryAsyncJobResult", jobid=started["jobid"])["jobstatus"] == 0:
        seen.add(world.snapshots(vm)[0]["state"])
    assert "Reverting" in seen
    assert world.snapshots(vm)[0]["state"] == "Ready"


def test_quiesce_without_a_guest_agent_fails_and_stores_nothing(sim, admin, world):
    vm = world.deploy(agent=False)
    with pytest.raises(JobFailed) as err:
        world.snapshot(vm, quiescevm=True)
    assert err.value.errorcode == 530 and "agent" in err.value.errortext
    [snap] = world.snapshots(vm)
    assert snap["state"] == "Error"
    host = control(sim, "GET", "/state")["host"]
    assert next(v for v in host["vms"] if v["name"] == vm["instancename"])["frozen"] is False
    admin.run("deleteVMSnapshot", vmsnapshotid=snap["id"])
    assert world.snapshots(vm) == []


def test_quiesced_snapshot_reports_its_freeze_window(admin, world):
    vm = world.deploy()
    snap = world.snapshot(vm, quiescevm=True)
    assert snap["quiescevm"] is True and snap["freezewindowms"] >= 0


def test_a_failing_host_puts_the_snapshot_in_error_with_the_agent_text(sim, admin, world):
    vm = world.deploy()
    control(sim, "POST", "/faults", {"command": "CreateVMSnapshotCommand", "action": "fail",
                                     "details": "disk full"})
    with pytest.raises(JobFailed) as err:
        world.snapshot(vm)
    assert err.value.errorcode == 530
    assert err.value.errortext.startswith("Failed to create vm snapshot: [VMSnapshot {")
    assert err.value.errortext.endswith("failed due to disk full")
    assert [s["state"] for s in world.snapshots(vm)] == ["Error"]
    ok = world.snapshot(vm)  # the fault was used up
    assert ok["state"] == "Ready" and "parent" not in ok


def test_a_failing_delete_leaves_the_snapshot_in_error_and_listed(sim, admin, world):
    vm = world.deploy()
    snap = world.snapshot(vm)
    control(sim, "POST", "/faults", {"command": "DeleteVMSnapshotCommand", "action": "fail"})
    with pytest.raises(JobFailed) as err:
        admin.run("deleteVMSnapshot", vmsnapshotid=snap["id"])
    assert err.value.errortext == "Failed to delete vm snapshot"
    assert [s["state"] for s in world.snapshots(vm)] == ["Error"]
    admin.run("deleteVMSnapshot", vmsnapshotid=snap["id"])
    assert world.snapshots(vm) == []


def test_destroy_deletes_every_vm_snapshot_on_the_host(sim, admin, world):
    vm = world.deploy()
    for _ in range(3):
        world.snapshot(vm, snapshotmemory=True)
    admin.run("destroyVirtualMachine", id=vm["id"])
    assert admin.list("listVMSnapshot", "vmSnapshot", virtualmachineid=vm["id"]) == []
    driver = sim.host.service
    assert driver.store.all(vm["instancename"]) == []
    admin.run("expungeVirtualMachine", id=vm["id"])
    assert admin.list("listVirtualMachines", "virtualmachine", id=vm["id"]) == []


def test_users_see_and_touch_only_their_own_snapshots(admin, user, world):
    theirs = world.deploy()
    snap = world.snapshot(theirs)
    assert user.list("listVMSnapshot", "vmSnapshot") == [] or all(
        s["account"] == "user" for s in user.list("listVMSnapshot", "vmSnapshot"))
    assert user.list("listVMSnapshot", "vmSnapshot", listall=True, virtualmachineid=theirs[
        "id"]) == []
    for command, params in (("revertToVMSnapshot", {"vmsnapshotid": snap["id"]}),
                            ("deleteVMSnapshot", {"vmsnapshotid": snap["id"]}),
                            ("createVMSnapshot", {"virtualmachineid": theirs["id"]})):
        with pytest.raises(ApiError) as err:
            user.call(command, **params)
        assert err.value.status == 531, command
    assert [s["state"] for s in world.snapshots(theirs)] == ["Ready"]
    admin_sees = admin.list("listVMSnapshot", "vmSnapshot", listall=True)
    assert any(s["id"] == snap["id"] for s in admin_sees)


def test_a_memory_snapshot_shows_the_guest_pause_a_disk_snapshot_none(admin, world):
    vm = world.deploy()
    memory = world.snapshot(vm, snapshotmemory=True)
    assert memory["type"] == "DiskAndMemory" and memory["guestpausems"] >= 0
    listed = world.snapshots(vm)[0]
    assert listed["guestpausems"] == memory["guestpausems"]
    disk = world.snapshot(vm)
    assert "guestpausems" not in disk
