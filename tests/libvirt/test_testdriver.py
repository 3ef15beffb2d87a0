"""The driver over HTTP on libvirt's test:///default driver: tree, current, revert, delete,
freeze/thaw and errors, with real qcow2 images for disk-only snapshots of stopped VMs."""

from __future__ import annotations

import json

from tests import agentjson as aj
from tests.support.driver import pattern_is, qemu_io


def tree(agent, vm):
    return json.loads(agent.get(f"/v1/vms/{vm.name}/snapshots").get_data())


def links(agent, vm):
    t = tree(agent, vm)
    return {s["name"]: s["parent"] for s in t["snapshots"]}, t["current"]


def test_memory_snapshot_chain_sets_parent_and_current(agent, vm_factory):
    vm = vm_factory()
    for name in ("s1", "s2", "s3"):
        answer = agent.ok(aj.create(vm.name, name, vm.volumes(), type="DiskAndMemory"))
        assert answer["vmSnapshotTo"]["snapshotName"] == name
    assert links(agent, vm) == ({"s1": None, "s2": "s1", "s3": "s2"}, "s3")
    names = sorted(s.getName() for s in vm.dom.listAllSnapshots())
    assert names == ["s1", "s2", "s3"]


def test_revert_moves_current_keeps_newer_and_next_create_branches(agent, vm_factory):
    vm = vm_factory()
    for name in ("s1", "s2", "s3"):
        agent.ok(aj.create(vm.name, name, vm.volumes(), type="DiskAndMemory"))
    answer = agent.ok(aj.revert(vm.name, "s1", vm.volumes(), type="DiskAndMemory"))
    assert answer["vmState"] == "PowerOn"
    assert links(agent, vm)[1] == "s1"
    agent.ok(aj.create(vm.name, "s4", vm.volumes(), type="DiskAndMemory"))
    assert links(agent, vm) == ({"s1": None, "s2": "s1", "s3": "s2", "s4": "s1"}, "s4")


def test_delete_middle_relinks_children_and_current_moves_up(agent, vm_factory):
    vm = vm_factory()
    for name in ("a", "b", "c"):
        agent.ok(aj.create(vm.name, name, vm.volumes(), type="DiskAndMemory"))
    agent.ok(aj.delete(vm.name, "b", vm.volumes(), type="DiskAndMemory"))
    assert links(agent, vm) == ({"a": None, "c": "a"}, "c")
    agent.ok(aj.delete(vm.name, "c", vm.volumes(), type="DiskAndMemory"))
    assert links(agent, vm) == ({"a": None}, "a")
    assert [s.getName() for s in vm.dom.listAllSnapshots()] == ["a"]
    agent.ok(aj.delete(vm.name, "a", vm.volumes(), type="DiskAndMemory"))
    assert links(agent, vm) == ({}, None)


def test_delete_is_idempotent(agent, vm_factory):
    vm = vm_factory()
    agent.ok(aj.create(vm.name, "s1", vm.volumes(), type="DiskAndMemory"))
    agent.ok(aj.delete(vm.name, "s1", vm.volumes(), type="DiskAndMemory"))
    agent.ok(aj.delete(vm.name, "s1", vm.volumes(), type="DiskAndMemory"))
    agent.ok(aj.delete(vm.name, "never-made", vm.volumes()))


def test_resent_create_does_not_act_twice(agent, vm_factory):
    vm = vm_factory()
    first = agent.ok(aj.create(vm.name, "s1", vm.volumes(), type="DiskAndMemory"))
    again = agent.ok(aj.create(vm.name, "s1", vm.volumes(), type="DiskAndMemory"))
    assert again["vmSnapshotTo"]["snapshotName"] == first["vmSnapshotTo"]["snapshotName"]
    assert len(vm.dom.listAllSnapshots()) == 1
    assert tree(agent, vm)["count"] == 1


def test_disk_snapshots_of_a_stopped_vm_restore_real_data(agent, vm_factory):
    vm = vm_factory(ndisks=2, running=False)
    qemu_io(vm.disks[0], "write -P 0x11 0 64k")
    qemu_io(vm.disks[1], "write -P 0x21 0 64k")
    agent.ok(aj.create(vm.name, "d1", vm.volumes()))
    qemu_io(vm.disks[0], "write -P 0x12 0 64k")
    qemu_io(vm.disks[1], "write -P 0x22 0 64k")
    agent.ok(aj.create(vm.name, "d2", vm.volumes()))
    qemu_io(vm.disks[0], "write -P 0x13 0 64k")
    answer = agent.ok(aj.revert(vm.name, "d1", vm.volumes()))
    assert answer["vmState"] == "PowerOff"
    assert pattern_is(vm.disks[0], 0x11) and pattern_is(vm.disks[1], 0x21)
    agent.ok(aj.delete(vm.name, "d1", vm.volumes()))
    agent.ok(aj.revert(vm.name, "d2", vm.volumes()))
    assert pattern_is(vm.disks[0], 0x12) and pattern_is(vm.disks[1], 0x22)


def test_power_state_rules_on_revert(agent, vm_factory):
    vm = vm_factory()
    agent.ok(aj.create(vm.name, "m1", vm.volumes(), type="DiskAndMemory"))
    vm.dom.destroy()
    answer = agent.one(aj.revert(vm.name, "m1", vm.volumes(), type="DiskAndMemory"))
    assert answer["result"] is False
    assert answer["details"].startswith("VM Snapshot revert not allowed")
    assert links(agent, vm)[1] == "m1"


def test_memory_snapshot_of_stopped_vm_is_refused_and_changes_nothing(agent, vm_factory):
    vm = vm_factory(running=False)
    answer = agent.one(aj.create(vm.name, "m1", vm.volumes(), type="DiskAndMemory"))
    assert answer["result"] is False
    assert "Running" in answer["details"]
    assert tree(agent, vm)["count"] == 0
    assert vm.dom.listAllSnapshots() == []


def test_live_disk_snapshot_needs_qemu_on_the_test_driver(agent, vm_factory):
    vm = vm_factory()
    answer = agent.one(aj.create(vm.name, "d1", vm.volumes()))
    assert answer["result"] is False
    assert "QEMU" in answer["details"]
    assert tree(agent, vm)["count"] == 0


def test_freeze_thaw_on_the_test_driver(agent, vm_factory):
    vm = vm_factory()
    frozen = agent.ok(aj.freeze_thaw(vm.name, "frozen"))
    assert frozen["details"] == f"frozen of VM - {vm.name} is successful"
    assert vm.dom.fsFreeze() == 0  # already frozen: nothing left to freeze
    agent.ok(aj.freeze_thaw(vm.name, "thawed"))
    assert vm.dom.fsFreeze() == 2  # thawed: both canned filesystems freeze again
    vm.dom.fsThaw()


def test_quiesced_memory_snapshot_reports_a_freeze_window(agent, vm_factory):
    vm = vm_factory()
    answer = agent.ok(aj.create(vm.name, "q1", vm.volumes(), type="DiskAndMemory",
                                quiesce=True))
    assert answer["freezeWindowMs"] >= 0
    assert vm.dom.fsFreeze() == 2  # the guest was thawed afterwards
    vm.dom.fsThaw()
    node = tree(agent, vm)["snapshots"][0]
    assert node["quiesced"] is True and node["freezeWindowMs"] == answer["freezeWindowMs"]


def test_unknown_vm_and_unknown_snapshot(agent, vm_factory):
    vm = vm_factory()
    answer = agent.one(aj.create("i-9-999-VM", "s1", []))
    assert answer["result"] is False
    assert answer["details"] == "Create VM Snapshot Failed due to can not find vm: i-9-999-VM"
    answer = agent.one(aj.revert(vm.name, "nope", vm.volumes(), type="DiskAndMemory"))
    assert answer["details"] == "Cannot find vmSnapshot with name: nope"


def test_bad_names_and_paths_are_refused_before_acting(agent, vm_factory, tmp_path):
    vm = vm_factory()
    for bad in ('dq"x', "a/b", "<x>", "a b", "$(reboot)", ""):
        answer = agent.one(aj.create(vm.name, bad, vm.volumes(), type="DiskAndMemory"))
        assert answer["result"] is False, bad
    outside = aj.volume(str(tmp_path / "elsewhere.qcow2"), str(tmp_path), vm=vm.name)
    answer = agent.one(aj.create(vm.name, "s1", [outside], type="DiskAndMemory"))
    assert answer["result"] is False
    assert "outside the configured storage pools" in answer["details"]
    escape = vm.volumes()
    escape[0]["path"] = "../../etc/passwd"
    answer = agent.one(aj.create(vm.name, "s1", escape, type="DiskAndMemory"))
    assert "outside" in answer["details"]
    assert vm.dom.listAllSnapshots() == []
    assert tree(agent, vm)["count"] == 0


def test_volume_set_must_match_on_create_and_revert(agent, vm_factory, pool):
    vm = vm_factory(running=False)
    agent.ok(aj.create(vm.name, "d1", vm.volumes()))
    other = aj.volume(vm.disks[0] + ".other", pool, vm=vm.name)
    answer = agent.one(aj.revert(vm.name, "d1", vm.volumes() + [other]))
    assert answer["result"] is False and "do not match" in answer["details"]
