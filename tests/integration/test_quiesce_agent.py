"""Quiesce on a real qemu-guest-agent (a booted Debian kernel + busybox initramfs guest)."""

from __future__ import annotations

import json

import pytest

from driver.app import create_app
from driver.hypervisors.libvirt import LibvirtHost, LiveOptions
from tests import agentjson as aj
from tests.support.driver import AgentClient

pytestmark = [pytest.mark.qemu, pytest.mark.agent]


def test_quiesced_disk_snapshot_freezes_captures_and_thaws(qemu_agent, agent_guest):
    vm = agent_guest
    assert vm.agent("guest-fsfreeze-status") == "thawed"
    answer = qemu_agent.ok(aj.create(vm.name, "q1", vm.volumes(), quiesce=True))
    window = answer["freezeWindowMs"]
    assert 0 < window < 5000
    assert vm.agent("guest-fsfreeze-status") == "thawed"
    assert vm.tags(0) == ["q1"]
    node = json.loads(qemu_agent.get(f"/v1/vms/{vm.name}/snapshots").get_data())["snapshots"][0]
    assert node["quiesced"] is True and node["freezeWindowMs"] == window
    metrics = qemu_agent.client.get("/metrics").get_data(as_text=True)
    assert "vmsnap_freeze_window_seconds_count 1.0" in metrics


def test_quiesced_memory_snapshot_reverts_to_a_thawed_guest(qemu_agent, agent_guest):
    vm = agent_guest
    qemu_agent.ok(aj.create(vm.name, "qm1", vm.volumes(), type="DiskAndMemory", quiesce=True))
    assert vm.agent("guest-fsfreeze-status") == "thawed"
    answer = qemu_agent.ok(aj.revert(vm.name, "qm1", vm.volumes(), type="DiskAndMemory"))
    assert answer["vmState"] == "PowerOn"
    vm.wait_for_agent()
    assert vm.agent("guest-fsfreeze-status") == "thawed"


def test_watchdog_thaws_a_guest_frozen_too_long_and_nothing_is_kept(settings, qemu_host,
                                                                     agent_guest):
    # A savevm capture of a 256 MiB guest takes ~0.4 s under TCG: longer than this window.
    tight = settings.with_overrides(max_freeze_window=0.05)
    host = LibvirtHost(qemu_host.uri, live=LiveOptions(mechanism="savevm"))
    agent = AgentClient(create_app(tight, host).test_client())
    vm = agent_guest
    answer = agent.one(aj.create(vm.name, "w1", vm.volumes(), type="DiskAndMemory",
                                 quiesce=True))
    assert answer["result"] is False
    assert "watchdog" in answer["details"]
    assert vm.agent("guest-fsfreeze-status") == "thawed"
    assert vm.tags(0) == []
    assert vm.dom.listAllSnapshots() == []
    host.close()


def test_freeze_thaw_command_and_status(qemu_agent, agent_guest):
    vm = agent_guest
    assert qemu_agent.ok(aj.freeze_thaw(vm.name, "frozen"))["details"].startswith("frozen")
    assert qemu_agent.ok(aj.freeze_thaw(vm.name, "status"))["details"] == "frozen"
    assert vm.agent("guest-fsfreeze-status") == "frozen"
    qemu_agent.ok(aj.freeze_thaw(vm.name, "thawed"))
    assert qemu_agent.ok(aj.freeze_thaw(vm.name, "status"))["details"] == "thawed"


def test_recovery_thaws_a_guest_left_frozen_by_a_crash(settings, qemu_host, agent_guest):
    from driver.app import build_service
    from driver.recovery import recover

    vm = agent_guest
    service = build_service(settings, qemu_host)
    op = service.journal.begin("create", vm.name, "crash1",
                               next(iter(aj.create(vm.name, "crash1", vm.volumes()).values())))
    service.journal.set_frozen(op, True)
    vm.dom.fsFreeze()  # the driver froze the guest, then died
    assert vm.agent("guest-fsfreeze-status") == "frozen"
    notes = recover(service)
    assert notes and "rolled back" in notes[0]
    assert vm.agent("guest-fsfreeze-status") == "thawed"
    assert service.journal.unfinished() == []


@pytest.mark.parametrize("channel", [True, False], ids=["agent-not-running", "no-channel"])
def test_quiesce_without_an_agent_fails_clearly_and_creates_nothing(qemu_agent, qemu_vm,
                                                                     channel):
    vm = qemu_vm(agent_channel=channel)
    vm.start()
    answer = qemu_agent.one(aj.create(vm.name, "nq", vm.volumes(), quiesce=True))
    assert answer["result"] is False
    assert "agent" in answer["details"].lower()
    assert "Quiesce" in answer["details"]
    assert vm.tags(0) == []
    tree = json.loads(qemu_agent.get(f"/v1/vms/{vm.name}/snapshots").get_data())
    assert tree["count"] == 0


def test_recovery_thaws_a_frozen_guest_the_journal_does_not_mark(settings, qemu_host,
                                                                  agent_guest):
    """What a crash between a revert to a quiesced memory snapshot (which resumes the guest
    frozen) and the driver's thaw leaves: a finished operation, no freeze in the journal."""
    from driver.app import build_service
    from driver.recovery import recover

    vm = agent_guest
    service = build_service(settings, qemu_host)
    op = service.journal.begin("revert", vm.name, "s1",
                               next(iter(aj.revert(vm.name, "s1", vm.volumes()).values())))
    service.journal.finish(op, True, {"result": True, "details": ""})
    vm.dom.fsFreeze()
    assert vm.agent("guest-fsfreeze-status") == "frozen"
    notes = recover(service)
    assert notes == [f"thaw {vm.name}: thawed"]
    assert vm.agent("guest-fsfreeze-status") == "thawed"
    report = qemu_host.guest(vm.name).power_state()
    assert report.value == "PowerOn"
    assert vm.name in qemu_host.guest_names()
