"""The contract suite's sweep, against the simulator: it removes what carries the prefix
(VMs with their snapshots, volumes), leaves the rest, and reports what it could not remove
instead of swallowing it."""

from __future__ import annotations

from contract_tests.conftest import sweep
from tests.support.simulator import control


def test_sweep_removes_only_what_carries_the_prefix(admin, world):
    mine = world.deploy(name="ct-sweep-1")
    world.snapshot(mine)
    other = world.deploy(name="keep-1")
    volume = admin.run("createVolume", name="ct-sweep-2", zoneid=world.zone,
                       diskofferingid=world.disk_offering)["volume"]
    assert sweep(admin, "ct-sweep-") == []
    names = {v["name"] for v in admin.list("listVirtualMachines", "virtualmachine",
                                           listall=True)}
    assert "ct-sweep-1" not in names and "keep-1" in names
    assert admin.list("listVolumes", "volume", id=volume["id"]) == []
    admin.run("destroyVirtualMachine", id=other["id"], expunge=True)


def test_sweep_leaves_young_leftovers_of_other_runs(admin, world):
    world.deploy(name="ct-young-1")
    assert sweep(admin, "ct-young-", older_than=3600) == []
    assert [v["name"] for v in admin.list("listVirtualMachines", "virtualmachine",
                                          listall=True, keyword="ct-young-")] == ["ct-young-1"]
    assert sweep(admin, "ct-young-") == []


def test_sweep_reports_what_it_could_not_remove(sim, admin, world):
    vm = world.deploy(name="ct-stuck-1")
    control(sim, "POST", "/faults", {"command": "StopCommand", "action": "fail", "count": 1})
    failures = sweep(admin, "ct-stuck-")
    assert len(failures) == 1 and failures[0].startswith(f"VM ct-stuck-1 ({vm['id']}):")
    assert sweep(admin, "ct-stuck-") == []  # the fault is used up: now it goes
