"""The driver over HTTP on a real libvirtd + QEMU (TCG): real data written into the disks
between snapshots, read back after reverts and deletes in several orders."""

from __future__ import annotations

import json
import os

import pytest

from tests import agentjson as aj
from tests.support.driver import pattern_is

pytestmark = pytest.mark.qemu


def tree(agent, vm):
    return json.loads(agent.get(f"/v1/vms/{vm.name}/snapshots").get_data())


def test_memory_snapshots_revert_running_with_their_disks(qemu_agent, qemu_vm):
    vm = qemu_vm(ndisks=2)
    vm.start()
    vm.write(0, 0xA1)
    vm.write(1, 0xB1)
    agent = qemu_agent
    agent.ok(aj.create(vm.name, "m1", vm.volumes(), type="DiskAndMemory"))
    vm.write(0, 0xA2)
    vm.write(1, 0xB2)
    agent.ok(aj.create(vm.name, "m2", vm.volumes(), type="DiskAndMemory"))
    vm.write(0, 0xA3)
    answer = agent.ok(aj.revert(vm.name, "m1", vm.volumes(), type="DiskAndMemory"))
    assert answer["vmState"] == "PowerOn" and vm.running
    assert "m1" in vm.tags(0) and "m1" in vm.tags(1)
    vm.stop()
    assert pattern_is(vm.disks[0], 0xA1) and pattern_is(vm.disks[1], 0xB1)
    vm.start()
    # revert to a memory snapshot from a running VM again, newer snapshot kept
    agent.ok(aj.revert(vm.name, "m2", vm.volumes(), type="DiskAndMemory"))
    vm.stop()
    assert pattern_is(vm.disks[0], 0xA2) and pattern_is(vm.disks[1], 0xB2)
    assert tree(agent, vm)["current"] == "m2"


def test_live_disk_snapshots_are_atomic_and_revert_when_stopped(qemu_agent, qemu_vm):
    vm = qemu_vm(ndisks=2)
    vm.start()
    agent = qemu_agent
    for n in (1, 2, 3):
        vm.write(0, 0x10 + n)
        vm.write(1, 0x20 + n)
        agent.ok(aj.create(vm.name, f"d{n}", vm.volumes()))
    assert vm.tags(0) == ["d1", "d2", "d3"] and vm.tags(1) == ["d1", "d2", "d3"]
    assert vm.dom.listAllSnapshots() == []  # live disk snapshots carry no libvirt metadata
    vm.write(0, 0x1F)
    refused = agent.one(aj.revert(vm.name, "d1", vm.volumes()))
    assert refused["result"] is False and "revert not allowed" in refused["details"]
    vm.stop()
    answer = agent.ok(aj.revert(vm.name, "d2", vm.volumes()))
    assert answer["vmState"] == "PowerOff"
    assert pattern_is(vm.disks[0], 0x12) and pattern_is(vm.disks[1], 0x22)
    # delete the middle one while stopped, then the first while running
    agent.ok(aj.delete(vm.name, "d2", vm.volumes()))
    vm.start()
    agent.ok(aj.delete(vm.name, "d1", vm.volumes()))
    assert vm.tags(0) == ["d3"] and vm.tags(1) == ["d3"]
    vm.stop()
    agent.ok(aj.revert(vm.name, "d3", vm.volumes()))
    assert pattern_is(vm.disks[0], 0x13) and pattern_is(vm.disks[1], 0x23)


@pytest.mark.parametrize("order", [("s1", "s2", "s3"), ("s3", "s2", "s1"), ("s2", "s1", "s3")])
def test_deletes_in_any_order_keep_what_others_restore(qemu_agent, qemu_vm, order):
    vm = qemu_vm()
    agent = qemu_agent
    vm.start()
    kinds = {"s1": "DiskAndMemory", "s2": "Disk", "s3": "DiskAndMemory"}
    for n, name in enumerate(("s1", "s2", "s3"), start=1):
        vm.write(0, 0x40 + n)
        agent.ok(aj.create(vm.name, name, vm.volumes(), type=kinds[name]))
    remaining = {"s1": 0x41, "s2": 0x42, "s3": 0x43}
    for name in order:
        agent.ok(aj.delete(vm.name, name, vm.volumes(), type=kinds[name]))
        del remaining[name]
        assert name not in vm.tags(0)
        for other, byte in remaining.items():
            if kinds[other] == "DiskAndMemory":
                if not vm.running:
                    vm.start()
                agent.ok(aj.revert(vm.name, other, vm.volumes(), type=kinds[other]))
                vm.stop()
            else:
                vm.stop()
                agent.ok(aj.revert(vm.name, other, vm.volumes(), type=kinds[other]))
            assert pattern_is(vm.disks[0], byte), (name, other)
    assert tree(agent, vm)["count"] == 0
    assert vm.tags(0) == []


def test_stopped_vm_disk_snapshot_failure_on_second_disk_leaves_nothing(qemu_agent, qemu_vm):
    vm = qemu_vm(ndisks=2)
    with open(vm.disks[1], "r+b") as fh:  # not a qcow2 image any more
        fh.write(b"\0" * 4096)
    answer = qemu_agent.one(aj.create(vm.name, "bad", vm.volumes()))
    assert answer["result"] is False
    assert vm.tags(0) == []
    assert tree(qemu_agent, vm)["count"] == 0


def test_existing_tag_is_refused_and_changes_nothing(qemu_agent, qemu_vm):
    vm = qemu_vm()
    qemu_agent.ok(aj.create(vm.name, "dup", vm.volumes()))
    answer = qemu_agent.one(aj.create(vm.name, "dup", vm.volumes(), type="Disk"))
    assert answer["result"] is True  # a resend: answered, not acted on twice
    assert vm.tags(0) == ["dup"]
    from tests.support.driver import qemu_img

    qemu_img("snapshot", "-c", "stray", vm.disks[0])
    answer = qemu_agent.one(aj.create(vm.name, "stray", vm.volumes()))
    assert answer["result"] is False and "already exists" in answer["details"]
    assert vm.tags(0) == ["dup", "stray"]


def test_stored_size_grows_with_data_not_disk_size(qemu_agent, qemu_vm):
    vm = qemu_vm(size="1G")
    vm.start()
    first = qemu_agent.ok(aj.create(vm.name, "z1", vm.volumes()))
    vm.write(0, 0x5A, 0, "1M")
    second = qemu_agent.ok(aj.create(vm.name, "z2", vm.volumes()))
    grew = second["volumeTOs"][0]["size"] - first["volumeTOs"][0]["size"]
    assert 512 * 1024 <= grew <= 4 * 1024 * 1024, grew
    assert second["volumeTOs"][0]["size"] < 64 * 1024 * 1024


def test_delete_when_the_vm_is_gone_cleans_the_images(qemu_agent, qemu_vm):
    vm = qemu_vm()
    qemu_agent.ok(aj.create(vm.name, "g1", vm.volumes()))
    vm.remove()
    qemu_agent.ok(aj.delete(vm.name, "g1", vm.volumes()))
    assert vm.tags(0) == []


def test_a_volume_snapshot_from_a_vm_snapshot_of_a_running_vm(qemu_agent, qemu_vm):
    vm = qemu_vm(ndisks=1)
    vm.start()
    vm.write(0, 0xC1)
    agent = qemu_agent
    agent.ok(aj.create(vm.name, "s1", vm.volumes(), type="DiskAndMemory"))
    vm.write(0, 0xC2)
    volume = vm.volumes()[0]
    snap = {"path": "s1", "name": "froms1", "id": 7, "volume": volume}
    made = agent.ok({aj.STORAGE + "CreateObjectCommand": {"data": {aj.SNAPSHOT_TO: snap},
                                                          "contextMap": {}}})
    answered = next(iter(made["data"].values()))
    assert answered["physicalSize"] > 0 and answered["path"] != "froms1"  # named afresh
    copy = os.path.join(os.path.dirname(vm.disks[0]), ".volume-snapshots",
                        f"{os.path.basename(vm.disks[0])}@{answered['path']}.qcow2")
    assert pattern_is(copy, 0xC1) and not pattern_is(copy, 0xC2)
    vm.stop()
    assert pattern_is(vm.disks[0], 0xC2)  # the volume itself keeps its newer data
