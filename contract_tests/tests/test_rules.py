"""Revert rules across power states, memory on a stopped VM, quiesce without an agent,
one operation at a time, the per-VM maximum."""

from __future__ import annotations

import pytest

from contract_tests.client import ApiError, JobFailed

REVERT_REFUSED = ("VM Snapshot revert not allowed. This will result in VM state change. You "
                  "can revert running VM to disk and memory type snapshot and stopped VM to "
                  "disk type snapshot")


@pytest.mark.needs(power_change_revert=False)
def test_a_running_vm_cannot_revert_to_a_disk_snapshot(resources, snapshots):
    vm = resources.vm()
    snap = snapshots.create(vm)
    with pytest.raises(JobFailed) as err:
        snapshots.revert(snap)
    assert err.value.errorcode == 431 and err.value.errortext == REVERT_REFUSED
    assert [s["state"] for s in snapshots.of(vm)] == ["Ready"]


@pytest.mark.needs("memory_snapshots", power_change_revert=False)
def test_a_stopped_vm_cannot_revert_to_a_memory_snapshot(api, resources, snapshots):
    vm = resources.vm()
    snap = snapshots.create(vm, snapshotmemory=True)
    api.run("stopVirtualMachine", id=vm["id"])
    with pytest.raises(JobFailed) as err:
        snapshots.revert(snap)
    assert err.value.errortext == REVERT_REFUSED


@pytest.mark.needs("memory_snapshots")
def test_a_running_vm_reverts_to_memory_and_a_stopped_one_to_disk(api, resources, snapshots):
    vm = resources.vm()
    memory = snapshots.create(vm, snapshotmemory=True)
    assert snapshots.revert(memory)["state"] == "Running"
    api.run("stopVirtualMachine", id=vm["id"])
    disk = snapshots.create(vm)
    assert snapshots.revert(disk)["state"] == "Stopped"


def test_memory_of_a_stopped_vm_is_refused_and_changes_nothing(api, resources, snapshots):
    vm = resources.vm(running=False)
    with pytest.raises(ApiError) as err:
        api.call("createVMSnapshot", virtualmachineid=vm["id"], snapshotmemory=True)
    assert err.value.errorcode == 530
    assert "Can not snapshot memory when VM is not in Running state" in err.value.errortext
    assert snapshots.of(vm) == []


@pytest.mark.needs("quiesce", "no_agent_template")
def test_quiesce_without_a_guest_agent_fails_cleanly(api, resources, snapshots):
    vm = resources.vm(agent=False)
    with pytest.raises(JobFailed) as err:
        snapshots.create(vm, quiescevm=True)
    assert "agent" in err.value.errortext.lower()
    assert [s["state"] for s in snapshots.of(vm)] == ["Error"]
    for snap in snapshots.of(vm):
        snapshots.delete(snap)
    assert snapshots.of(vm) == []
    assert snapshots.create(vm)["state"] == "Ready"  # unquiesced works


@pytest.mark.needs("job_timing")
def test_a_second_create_while_one_is_in_progress_changes_nothing(api, resources, snapshots,
                                                                  slow_jobs):
    vm = resources.vm()
    slow_jobs(60_000)  # held until released: a loaded machine cannot end the window early
    first = api.call("createVMSnapshot", virtualmachineid=vm["id"])
    with pytest.raises(ApiError) as err:
        api.call("createVMSnapshot", virtualmachineid=vm["id"])
    assert "There is other active vm snapshot tasks on the instance" in err.value.errortext
    assert len(snapshots.of(vm)) == 1
    slow_jobs(0)
    api.job(first["jobid"])
    assert [s["state"] for s in snapshots.of(vm)] == ["Ready"]


@pytest.mark.needs("configuration")
def test_vmsnapshot_max(api, resources, snapshots, setting):
    setting("vmsnapshot.max", "2")
    vm = resources.vm(running=False)
    snapshots.create(vm)
    snapshots.create(vm)
    with pytest.raises(ApiError) as err:
        api.call("createVMSnapshot", virtualmachineid=vm["id"])
    assert "a VM can just have : 2 VM snapshots. Please delete old ones" in err.value.errortext
    assert len(snapshots.of(vm)) == 2


def test_destroying_a_vm_deletes_its_snapshots(api, resources, snapshots):
    vm = resources.vm()
    for _ in range(2):
        snapshots.create(vm)
    api.run("destroyVirtualMachine", id=vm["id"])
    assert api.list("listVMSnapshot", "vmSnapshot", virtualmachineid=vm["id"]) == []
