"""The seed's limitations: volumes, service offerings and volume snapshots."""

from __future__ import annotations

import pytest

from contract_tests.client import ApiError, JobFailed
from contract_tests.waiting import wait_until


def data_volume(api, vm):
    return next(v for v in api.list("listVolumes", "volume", virtualmachineid=vm["id"])
                if v["type"] == "DATADISK")


def test_attach_is_refused_while_snapshots_exist_and_allowed_after(api, resources, snapshots):
    vm = resources.vm(running=False)
    volume = resources.volume()
    snap = snapshots.create(vm)
    with pytest.raises(JobFailed) as err:
        api.run("attachVolume", id=volume["id"], virtualmachineid=vm["id"])
    assert err.value.errortext == (f"Unable to attach volume to VM {vm['name']}/{vm['id']}, "
                                   "please specify a VM that does not have VM snapshots")
    snapshots.delete(snap)
    attached = api.run("attachVolume", id=volume["id"], virtualmachineid=vm["id"])["volume"]
    assert attached["virtualmachineid"] == vm["id"]


def test_detach_and_resize_are_refused_while_snapshots_exist(api, resources, snapshots):
    vm = resources.vm(running=False, data_disk=True)
    volume = data_volume(api, vm)
    snap = snapshots.create(vm)
    with pytest.raises(JobFailed) as err:
        api.run("detachVolume", id=volume["id"])
    assert err.value.errortext == ("Unable to detach volume, please specify a VM that does not "
                                   "have VM snapshots")
    with pytest.raises(JobFailed) as err:
        api.run("resizeVolume", id=volume["id"], size=volume["size"] // (1 << 30) + 1)
    assert "cannot be resized" in err.value.errortext
    with pytest.raises(ApiError) as refused:
        api.call("deleteVolume", id=volume["id"])
    assert refused.value.errortext == "Please specify a volume that is not attached to any VM."
    snapshots.delete(snap)
    api.run("detachVolume", id=volume["id"])
    api.call("deleteVolume", id=volume["id"])


@pytest.mark.needs("memory_snapshots")
def test_an_offering_change_discards_memory_snapshots(api, world, resources, snapshots,
                                                      offering_policy):
    offering_policy("discard")
    vm = resources.vm()
    snapshots.create(vm, name="disk")
    snapshots.create(vm, name="memory", snapshotmemory=True)
    snapshots.create(vm, name="child")
    api.run("stopVirtualMachine", id=vm["id"])
    api.call("changeServiceForVirtualMachine", id=vm["id"], serviceofferingid=world.offering2)
    assert snapshots.tree(vm) == {"disk": (None, False), "child": ("disk", True)}


def test_an_offering_change_is_refused_while_snapshots_exist(api, world, resources,
                                                             snapshots, offering_policy):
    offering_policy("block")
    vm = resources.vm(running=False)
    snapshots.create(vm)
    with pytest.raises(ApiError) as err:
        api.call("changeServiceForVirtualMachine", id=vm["id"],
                 serviceofferingid=world.offering2)
    assert "please remove VM snapshots before changing service offering" in \
        err.value.errortext


def test_a_revert_restores_the_snapshots_offering(api, world, resources, snapshots,
                                                  offering_policy):
    offering_policy("restore")
    vm = resources.vm(running=False)
    snap = snapshots.create(vm)
    api.call("changeServiceForVirtualMachine", id=vm["id"], serviceofferingid=world.offering2)
    assert snapshots.revert(snap)["serviceofferingid"] == world.offering


@pytest.mark.needs("volume_snapshots", "job_timing")
def test_no_vm_snapshot_during_a_volume_snapshot(api, resources, snapshots, slow_jobs):
    vm = resources.vm()
    root = api.list("listVolumes", "volume", virtualmachineid=vm["id"], type="ROOT")[0]
    # Held until released (a waiting job reads the delay again), so a loaded machine
    # cannot end the window before the second call.
    slow_jobs(60_000)
    started = api.call("createSnapshot", volumeid=root["id"])
    wait_until(lambda: api.list("listSnapshots", "snapshot", id=started["id"])[0]["state"]
               == "Creating", 30, message="the job to pick the volume snapshot up")
    with pytest.raises(ApiError) as err:
        api.call("createVMSnapshot", virtualmachineid=vm["id"])
    assert "There is other active volume snapshot tasks on the instance" in \
        err.value.errortext
    assert snapshots.of(vm) == []
    slow_jobs(0)
    api.job(started["jobid"])
    api.run("deleteSnapshot", id=started["id"])


@pytest.mark.needs("volume_snapshots", "job_timing")
def test_no_volume_snapshot_during_a_vm_snapshot(api, resources, snapshots, slow_jobs):
    vm = resources.vm()
    root = api.list("listVolumes", "volume", virtualmachineid=vm["id"], type="ROOT")[0]
    slow_jobs(60_000)  # held until released, as above
    started = api.call("createVMSnapshot", virtualmachineid=vm["id"])
    wait_until(lambda: snapshots.of(vm)[0]["state"] != "Allocated", 30,
               message="the job to pick the snapshot up")
    with pytest.raises(ApiError) as err:
        api.call("createSnapshot", volumeid=root["id"])
    assert "There is other active vm snapshot tasks on the instance to which the volume is " \
        "attached" in err.value.errortext
    slow_jobs(0)
    api.job(started["jobid"])
    assert api.list("listSnapshots", "snapshot", volumeid=root["id"]) == []
