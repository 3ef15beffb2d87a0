"""The driver on the simulated KVM host: real bytes in copy-on-write volumes, memory, a guest
agent, faults, and persistence across a restart."""

from __future__ import annotations

import base64
import json
import os
import threading

import pytest

from contract_tests.waiting import wait_until
from driver.app import create_app
from driver.core.model import Snapshot, SnapshotType
from driver.hypervisors.simulated import SimulatedHost
from tests import agentjson as aj
from tests.support.driver import AgentClient


class VM:
    def __init__(self, agent, pool, name="i-2-3-VM", ndisks=2, running=True, guest_agent=True):
        self.agent, self.name, self.pool = agent, name, pool
        self.vols = [aj.volume(os.path.join(pool, f"{name}-{i}"), pool, vm=name, device=i,
                               kind="ROOT" if i == 0 else "DATADISK") for i in range(ndisks)]
        for v in self.vols:
            agent.ok(aj.create_volume(v))
        agent.ok(aj.start(name, self.vols, agent=guest_agent))
        if not running:
            agent.ok(aj.stop(name))

    def write(self, disk, data, offset=0):
        self.agent.ok(aj.guest(self.name, "write", deviceId=disk, offset=offset, data=data))

    def read(self, disk, length, offset=0):
        ans = self.agent.ok(aj.guest(self.name, "read", deviceId=disk, offset=offset,
                                     length=length))
        return base64.b64decode(ans["payload"])

    def file(self, path, data=None, disk=0):
        if data is not None:
            self.agent.ok(aj.guest(self.name, "write_file", deviceId=disk, path=path,
                                   data=data))
            return None
        ans = self.agent.one(aj.guest(self.name, "read_file", deviceId=disk, path=path))
        return base64.b64decode(ans["payload"]) if ans["result"] else None

    def memory(self, key=None, value=None):
        if key is not None:
            return self.agent.ok(aj.guest(self.name, "set_memory", key=key,
                                          value=value))["memory"]
        return self.agent.ok(aj.guest(self.name, "get_memory"))["memory"]

    def tree(self):
        return json.loads(self.agent.get(f"/v1/vms/{self.name}/snapshots").get_data())


def test_write_snapshot_change_revert_read_back_disks_and_memory(agent, pool):
    vm = VM(agent, pool)
    vm.write(0, b"A" * 5000, offset=100)
    vm.write(1, b"one")
    vm.file("/etc/motd", b"before upgrade")
    vm.memory("marker", "m1")
    agent.ok(aj.create(vm.name, "s1", vm.vols, type="DiskAndMemory"))
    vm.write(0, b"B" * 5000, offset=100)
    vm.write(1, b"two")
    vm.file("/etc/motd", b"after upgrade")
    vm.memory("marker", "m2")
    answer = agent.ok(aj.revert(vm.name, "s1", vm.vols, type="DiskAndMemory"))
    assert answer["vmState"] == "PowerOn"
    assert vm.read(0, 5000, offset=100) == b"A" * 5000
    assert vm.read(1, 3) == b"one"
    assert vm.file("/etc/motd") == b"before upgrade"
    assert vm.memory() == {"marker": "m1"}


def test_disk_snapshots_of_stopped_vm_and_the_tree(agent, pool):
    vm = VM(agent, pool, running=False)
    for n in range(1, 4):
        vm.write(0, bytes([n]) * 10)
        agent.ok(aj.create(vm.name, f"d{n}", vm.vols))
    agent.ok(aj.revert(vm.name, "d1", vm.vols))
    assert vm.read(0, 10) == b"\x01" * 10
    vm.write(0, b"\x09" * 10)
    agent.ok(aj.create(vm.name, "d4", vm.vols))
    links = {s["name"]: s["parent"] for s in vm.tree()["snapshots"]}
    assert links == {"d1": None, "d2": "d1", "d3": "d2", "d4": "d1"}
    for name, byte in (("d3", 3), ("d2", 2), ("d4", 9)):
        agent.ok(aj.revert(vm.name, name, vm.vols))
        assert vm.read(0, 10) == bytes([byte]) * 10


def test_snapshots_store_only_what_changed(agent, pool, host):
    vm = VM(agent, pool, ndisks=1)
    vm.write(0, b"x" * 4096 * 10)
    agent.ok(aj.create(vm.name, "s1", vm.vols))
    vm.write(0, b"y" * 4096 * 2)
    agent.ok(aj.create(vm.name, "s2", vm.vols))
    guest = host.guest(vm.name)
    assert guest.snapshot_bytes("s1") == 4096 * 10
    assert guest.snapshot_bytes("s2") == 4096 * 2


@pytest.mark.parametrize("order", [("s1", "s2", "s3"), ("s3", "s1", "s2"), ("s2", "s3", "s1")])
def test_delete_merges_without_changing_what_others_restore(agent, pool, order):
    vm = VM(agent, pool, ndisks=1, running=False)
    content = {}
    for n, name in enumerate(("s1", "s2", "s3"), start=1):
        vm.write(0, bytes([n]) * 100, offset=4096 * n)  # a block of its own
        vm.write(0, bytes([0x10 + n]) * 10)  # and one they all share
        agent.ok(aj.create(vm.name, name, vm.vols))
        content[name] = vm.read(0, 4096 * 4)
    for name in order:
        agent.ok(aj.delete(vm.name, name, vm.vols))
        del content[name]
        for other, expected in content.items():
            agent.ok(aj.revert(vm.name, other, vm.vols))
            assert vm.read(0, 4096 * 4) == expected, (name, other)


def test_quiesce_freezes_and_thaws_and_no_agent_fails_cleanly(agent, pool):
    vm = VM(agent, pool)
    answer = agent.ok(aj.create(vm.name, "q1", vm.vols, quiesce=True))
    assert answer["freezeWindowMs"] >= 0
    assert agent.ok(aj.freeze_thaw(vm.name, "status"))["details"] == "thawed"
    plain = VM(agent, pool, name="i-2-4-VM", guest_agent=False)
    answer = agent.one(aj.create(plain.name, "q1", plain.vols, quiesce=True))
    assert answer["result"] is False and "agent" in answer["details"]
    assert plain.tree()["count"] == 0


def test_writes_are_refused_while_frozen(agent, pool):
    vm = VM(agent, pool)
    agent.ok(aj.freeze_thaw(vm.name, "frozen"))
    answer = agent.one(aj.guest(vm.name, "write", deviceId=0, data=b"x"))
    assert answer["result"] is False and "frozen" in answer["details"]
    agent.ok(aj.freeze_thaw(vm.name, "thawed"))
    vm.write(0, b"x")


@pytest.mark.parametrize("step,action,expect", [
    ("capture.volume.1", "fail", "Simulated failure in capture.volume.1"),
    ("freeze", "no_agent", "agent is not connected"),
    ("capture", "fail", "Simulated failure in capture"),
])
def test_faults_fail_cleanly_and_leave_nothing(agent, pool, host, step, action, expect):
    vm = VM(agent, pool)
    vm.write(0, b"keep")
    host.faults.add(step, action)
    answer = agent.one(aj.create(vm.name, "f1", vm.vols, quiesce=True))
    assert answer["result"] is False and expect in answer["details"]
    assert vm.tree()["count"] == 0
    assert not host.guest(vm.name).has_snapshot(Snapshot(vm.name, "f1", SnapshotType.DISK))
    assert agent.ok(aj.freeze_thaw(vm.name, "status"))["details"] == "thawed"
    assert vm.read(0, 4) == b"keep"
    agent.ok(aj.create(vm.name, "f1", vm.vols, quiesce=True))  # the fault was used up


def test_a_hung_freeze_times_out_and_the_guest_is_thawed(sim_settings, host, pool):
    agent = AgentClient(create_app(sim_settings.with_overrides(freeze_timeout=0.2),
                                   host).test_client())
    vm = VM(agent, pool)
    host.faults.add("freeze", "delay", ms=600)
    answer = agent.one(aj.create(vm.name, "h1", vm.vols, quiesce=True))
    assert answer["result"] is False and "within 0.2 s" in answer["details"]
    # The freeze lands late (600 ms), in the quiescer's worker thread, which thaws it then.
    wait_until(lambda: not any(t.name == f"freeze-{vm.name}" for t in threading.enumerate()),
               5, message="the late freeze to land and be thawed")
    assert agent.ok(aj.freeze_thaw(vm.name, "status"))["details"] == "thawed"
    assert vm.tree()["count"] == 0


def test_attach_and_detach_refused_by_the_driver_while_snapshots_exist(agent, pool):
    vm = VM(agent, pool, ndisks=1)
    extra = aj.volume(os.path.join(pool, "extra"), pool, vm=vm.name, kind="DATADISK")
    agent.ok(aj.create_volume(extra))
    agent.ok(aj.create(vm.name, "s1", vm.vols))
    answer = agent.one(aj.attach(vm.name, extra, 1))
    assert answer["result"] is False and "does not have VM snapshots" in answer["details"]
    agent.ok(aj.delete(vm.name, "s1", vm.vols))
    agent.ok(aj.attach(vm.name, extra, 1))
    vm.write(1, b"data on the extra disk")
    agent.ok(aj.detach(vm.name, extra, 1))
    other = VM(agent, pool, name="i-2-5-VM", ndisks=1)
    agent.ok(aj.attach(other.name, extra, 1))
    assert other.read(1, 22) == b"data on the extra disk"


def test_everything_survives_a_restart(sim_settings, pool):
    path = os.path.join(sim_settings.data_dir, "simhost.sqlite3")
    host = SimulatedHost(path)
    agent = AgentClient(create_app(sim_settings, host).test_client())
    vm = VM(agent, pool)
    vm.write(0, b"persisted")
    agent.ok(aj.create(vm.name, "s1", vm.vols, type="DiskAndMemory"))
    vm.write(0, b"changed!!")
    host.close()
    host = SimulatedHost(path)
    agent = AgentClient(create_app(sim_settings, host).test_client())
    vm.agent = agent
    assert vm.read(0, 9) == b"changed!!"
    agent.ok(aj.revert(vm.name, "s1", vm.vols, type="DiskAndMemory"))
    assert vm.read(0, 9) == b"persisted"
    host.close()


def test_a_slow_host_delays_every_step_once_per_count_and_still_works(agent, pool, host):
    vm = VM(agent, pool, ndisks=1)
    host.faults.add("*", "delay", ms=1, count=2)
    agent.ok(aj.create(vm.name, "s1", vm.vols))
    agent.ok(aj.delete(vm.name, "s1", vm.vols))
    assert host.faults.all() == []  # both delays were used up


def test_guest_data_command_is_refused_unless_the_driver_enables_it(settings, host, pool):
    production = AgentClient(create_app(settings.with_overrides(
        backend="simulated", guest_data_command=False), host).test_client())
    vm = VM(production, pool, name="i-2-9-VM", ndisks=1)
    answer = production.one(aj.guest(vm.name, "write_file", deviceId=0, path="/x",
                                     data=base64.b64encode(b"x").decode()))
    assert answer["result"] is False
    assert "GuestDataCommand is disabled" in answer["details"]
    guest = host.guest(vm.name)
    assert guest.read_file(guest.disks()[0].path, "/x") is None  # nothing was written


def test_memory_snapshot_answers_carry_the_pause_and_the_memory_path(agent, pool):
    vm = VM(agent, pool)
    memory = agent.ok(aj.create(vm.name, "m1", vm.vols, type="DiskAndMemory"))
    assert memory["guestPauseMs"] >= 0 and memory["memoryCapture"] == "simulated"
    disk = agent.ok(aj.create(vm.name, "d1", vm.vols))
    assert disk.get("guestPauseMs") is None and disk.get("memoryCapture") is None
