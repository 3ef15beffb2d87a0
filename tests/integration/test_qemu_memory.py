"""Memory snapshots on a real libvirtd + QEMU with the booted agent guest: data in the guest's
RAM (files in its initramfs root, which lives in RAM) and on its ext4 disk, checksummed
through the guest agent before the snapshot, changed after (or during) the capture, and
read back after the revert. Correctness only; the figures are in ``benchmarks/``."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import libvirt
import libvirt_qemu
import pytest

from driver.app import create_app, make_hypervisor
from driver.core.errors import HypervisorError
from driver.hypervisors.libvirt import hugepages, live
from driver.hypervisors.libvirt.monitor import PauseWatch, start_event_loop
from driver.paths import STATE_SUFFIX
from tests import agentjson as aj
from tests.integration.qemu import monitor_calls
from tests.support.driver import AgentClient

pytestmark = [pytest.mark.qemu, pytest.mark.agent]

FILL = "dd if=/dev/urandom of=/tmp/{name} bs=1M count={mib} 2>/dev/null; md5sum /tmp/{name}"
SUM = "md5sum /tmp/{name}"
DISK = "echo {text} > /mnt/data/marker; sync; cat /mnt/data/marker"


def ram(vm: Any, name: str = "a", mib: int = 24) -> str:
    """Fill a file in the guest's RAM with random data; its checksum."""
    return vm.sh(FILL.format(name=name, mib=mib)).split()[0]


def ram_sum(vm: Any, name: str = "a") -> str:
    return vm.sh(SUM.format(name=name)).split()[0]


@pytest.fixture
def client(settings: Any, libvirtd: str) -> Iterator[Any]:
    """Driver apps with their own settings (and hosts built from them) over one database."""
    hosts: list[Any] = []

    def make(**overrides: Any) -> AgentClient:
        tuned = settings.with_overrides(libvirt_uri=libvirtd, **overrides)
        hosts.append(make_hypervisor(tuned))
        return AgentClient(create_app(tuned, hosts[-1]).test_client())

    yield make
    for host in hosts:
        host.close()


@pytest.fixture
def hooks() -> Iterator[list[Any]]:
    yield live.HOOKS
    live.HOOKS.clear()


def state_files(vm: Any) -> list[str]:
    return sorted(f for f in os.listdir(vm.pool) if f.endswith(STATE_SUFFIX)
                  or f.endswith(".partial"))


def reverted(agent: AgentClient, vm: Any, name: str) -> dict[str, Any]:
    answer = agent.ok(aj.revert(vm.name, name, vm.volumes(), type="DiskAndMemory"))
    assert answer["vmState"] == "PowerOn" and vm.running
    vm.wait_for_agent()
    return answer


def test_background_snapshot_keeps_the_instant_while_the_guest_changes_ram(
        client, agent_guest, hooks):
    vm = agent_guest
    agent = client(memory_capture="background-snapshot")
    before = ram(vm)
    vm.sh(DISK.format(text="at-snapshot"))
    during: list[str] = []

    def change_while_copying(step: str) -> None:
        if step == "copy-running":
            # throttle the stream so the save is still running while the guest writes
            vm.qmp("migrate-set-parameters", **{"max-bandwidth": 1024 * 1024})
            vm.wait_running()
            # rewrite pages of the file in place (the same RAM pages, not new ones)
            during.append(vm.sh("dd if=/dev/urandom of=/tmp/a bs=1M count=1 conv=notrunc "
                                "2>/dev/null; md5sum /tmp/a").split()[0])
            during.append(vm.monitor_status())
            # no other migration or save of the domain while the capture runs
            with pytest.raises(libvirt.libvirtError):
                vm.dom.save(os.path.join(vm.pool, "other-save"))
            during.append(vm.monitor_status())
            vm.qmp("migrate-set-parameters", **{"max-bandwidth": 8 << 30})

    hooks.append(change_while_copying)
    answer = agent.ok(aj.create(vm.name, "bg1", vm.volumes(), type="DiskAndMemory"))
    assert answer["memoryCapture"] == "background-snapshot"
    assert answer["guestPauseMs"] > 0
    assert during[0] != before and during[1] == "active"  # changed while the save ran
    assert during[2] == "active"  # the refused save did not disturb the capture
    assert state_files(vm) == [f"{vm.name}@bg1{STATE_SUFFIX}"]
    vm.sh(DISK.format(text="after"))
    reverted(agent, vm, "bg1")
    assert ram_sum(vm) == before
    assert vm.sh("cat /mnt/data/marker").strip() == "at-snapshot"


@pytest.mark.parametrize("dirtying", [
    False,
    pytest.param(True, marks=pytest.mark.xfail(
        reason="QEMU < 9.0 under TCG loses guest writes made during a precopy (the dirty "
               "bitmap sync does not reset the TCG TLB; fixed upstream by 03bfc2188f): the "
               "restored guest is sometimes corrupted, so the choice rule never picks precopy",
        strict=False)),
], ids=["idle", "dirtying"])
def test_precopy_snapshot_reverts_to_its_instant(client, agent_guest, dirtying):
    vm = agent_guest
    agent = client(memory_capture="precopy")
    before = ram(vm)
    vm.sh(DISK.format(text="at-snapshot"))
    if dirtying:  # a guest that keeps rewriting another part of its memory
        vm.sh("while true; do dd if=/dev/urandom of=/tmp/dirty bs=1M count=8 2>/dev/null; "
              "done", wait=False)
    answer = agent.ok(aj.create(vm.name, "pc1", vm.volumes(), type="DiskAndMemory"))
    assert answer["memoryCapture"] == "precopy"
    assert answer["guestPauseMs"] > 0
    assert ram(vm) != before
    vm.sh(DISK.format(text="after"))
    reverted(agent, vm, "pc1")
    assert ram_sum(vm) == before
    assert vm.sh("cat /mnt/data/marker").strip() == "at-snapshot"
    # the live capture left QEMU's migration settings as they were: libvirt can still save
    caps = {c["capability"]: c["state"] for c in vm.qmp("query-migrate-capabilities")}
    assert caps["pause-before-switchover"] is False and caps["background-snapshot"] is False


def test_fallback_to_savevm_is_said_and_reverts_in_place(client, agent_guest):
    vm = agent_guest
    # precopy given no time to converge: the capture falls back and says so
    agent = client(memory_capture="precopy", live_converge_timeout=0.0)
    before = ram(vm)
    answer = agent.ok(aj.create(vm.name, "fb1", vm.volumes(), type="DiskAndMemory"))
    assert answer["memoryCapture"] == "savevm"
    assert answer["guestPauseMs"] > 0
    assert state_files(vm) == []
    assert [s.getName() for s in vm.dom.listAllSnapshots()] == ["fb1"]
    ram(vm)
    pid = vm.qemu_pid()
    reverted(agent, vm, "fb1")
    assert vm.qemu_pid() == pid  # loaded in the running QEMU: no restart
    assert ram_sum(vm) == before


def test_quiesced_live_snapshot_reports_window_and_pause_and_thaws(client, agent_guest):
    vm = agent_guest
    agent = client()
    answer = agent.ok(aj.create(vm.name, "q1", vm.volumes(), type="DiskAndMemory",
                                quiesce=True))
    assert answer["memoryCapture"] == "background-snapshot"  # the rule for a frozen guest
    assert answer["freezeWindowMs"] > 0 and answer["guestPauseMs"] > 0
    assert vm.agent("guest-fsfreeze-status") == "thawed"
    metrics = agent.client.get("/metrics").get_data(as_text=True)
    assert 'vmsnap_guest_pause_seconds_count{mechanism="background-snapshot"} 1.0' in metrics
    reverted(agent, vm, "q1")
    assert vm.agent("guest-fsfreeze-status") == "thawed"


def test_restore_makes_lost_snapshots_revertable_again(client, agent_guest):
    vm = agent_guest
    inside = client(memory_capture="savevm")
    live_agent = client()
    first = ram(vm)
    inside.ok(aj.create(vm.name, "S", vm.volumes(), type="DiskAndMemory"))
    second = ram(vm)
    live_agent.ok(aj.create(vm.name, "L", vm.volumes(), type="DiskAndMemory",
                            parents=["S"]))
    # what a transient domain's stop does: libvirt forgets, the journal still knows
    for snap in vm.dom.listAllSnapshots():
        snap.delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY)
    restore = aj.command("RestoreVMSnapshotCommand", vm.name, None, vm.volumes(), snapshots=[
        aj.snapshot_to("S", type="DiskAndMemory"),
        aj.snapshot_to("L", type="DiskAndMemory", current=True)])
    inside.ok(restore)
    ram(vm)
    reverted(inside, vm, "S")
    assert ram_sum(vm) == first
    reverted(inside, vm, "L")
    assert ram_sum(vm) == second


def test_mixed_tree_reverts_and_deletes_in_any_order(client, agent_guest):
    vm = agent_guest
    agents = {"live": client(memory_capture="precopy"),
              "savevm": client(memory_capture="savevm")}
    kinds = {"m1": "live", "m2": "savevm", "m3": "live", "m4": "savevm"}
    sums = {}
    for name, kind in kinds.items():
        sums[name] = ram(vm, mib=8)
        agents[kind].ok(aj.create(vm.name, name, vm.volumes(), type="DiskAndMemory"))
    agent = agents["live"]
    for name in ("m2", "m3", "m1", "m4"):
        reverted(agent, vm, name)
        assert ram_sum(vm) == sums[name], name
    remaining = dict(sums)
    for gone in ("m3", "m2"):
        agent.ok(aj.delete(vm.name, gone, vm.volumes(), type="DiskAndMemory"))
        del remaining[gone]
        for left, checksum in remaining.items():
            reverted(agent, vm, left)
            assert ram_sum(vm) == checksum, (gone, left)
    for name in ("m4", "m1"):
        agent.ok(aj.delete(vm.name, name, vm.volumes(), type="DiskAndMemory"))
    assert state_files(vm) == [] and vm.tags(0) == [] and vm.dom.listAllSnapshots() == []
    tree = json.loads(agent.get(f"/v1/vms/{vm.name}/snapshots").get_data())
    assert tree["count"] == 0


def test_libvirt_reverts_an_internal_snapshot_when_the_definition_changed(
        client, agent_guest):
    vm = agent_guest
    agent = client(memory_capture="savevm")
    before = ram(vm)
    agent.ok(aj.create(vm.name, "d1", vm.volumes(), type="DiskAndMemory"))
    ram(vm)
    # a device added since the snapshot: QEMU cannot load it in place
    vm.dom.attachDeviceFlags("<interface type='user'><model type='virtio'/></interface>",
                             libvirt.VIR_DOMAIN_AFFECT_LIVE)
    pid = vm.qemu_pid()
    reverted(agent, vm, "d1")
    assert vm.qemu_pid() != pid  # libvirt restarted QEMU with the snapshot's definition
    assert ram_sum(vm) == before


def test_a_failure_while_the_stream_is_written_leaves_nothing_and_live_works_after(
        client, agent_guest, hooks):
    vm = agent_guest
    agent = client(memory_capture="background-snapshot")

    def fail_while_copying(step: str) -> None:
        if step == "copy-running":
            vm.qmp("migrate-set-parameters", **{"max-bandwidth": 1024 * 1024})
            assert vm.monitor_status() == "active"
            raise HypervisorError("the storage went away")

    hooks.append(fail_while_copying)
    failed = agent.one(aj.create(vm.name, "f1", vm.volumes(), type="DiskAndMemory"))
    assert failed["result"] is False and "storage went away" in failed["details"]
    hooks.clear()
    assert state_files(vm) == [] and vm.tags(0) == [] and vm.qmp("query-status")["running"]
    before = ram(vm)
    answer = agent.ok(aj.create(vm.name, "f2", vm.volumes(), type="DiskAndMemory"))
    assert answer["memoryCapture"] == "background-snapshot", answer
    ram(vm)
    reverted(agent, vm, "f2")
    assert ram_sum(vm) == before


@pytest.mark.skipif("[never]" in open("/sys/kernel/mm/transparent_hugepage/enabled").read(),
                    reason="transparent huge pages are off on this host")
def test_a_background_capture_puts_guest_ram_back_into_huge_pages_first(
        client, agent_guest, hooks):
    """A capture leaves guest RAM split into small pages; the next one collapses it back
    before the pause (so QEMU's walks inside the pause are short), and still restores the
    guest's RAM exactly."""
    vm = agent_guest
    agent = client(memory_capture="background-snapshot")
    ram_bytes = vm.dom.maxMemory() * 1024
    ram(vm, mib=64)
    agent.ok(aj.create(vm.name, "h1", vm.volumes(), type="DiskAndMemory"))
    split = hugepages.huge_share(vm.qemu_pid(), ram_bytes)
    seen: list[float] = []
    hooks.append(lambda step: seen.append(hugepages.huge_share(vm.qemu_pid(), ram_bytes))
                 if step == "ram-prepared" else None)
    before = ram(vm, name="b", mib=32)
    answer = agent.ok(aj.create(vm.name, "h2", vm.volumes(), type="DiskAndMemory"))
    assert answer["memoryCapture"] == "background-snapshot"
    assert split < 0.5 < 0.9 < seen[0], (split, seen)
    ram(vm, name="b", mib=32)
    reverted(agent, vm, "h2")
    assert ram_sum(vm, "b") == before


def test_the_driver_sends_qemu_nothing_while_the_guest_is_paused_but_the_capture(
        client, agent_guest, libvirtd):
    """Inside a background capture's pause the driver sends only ``stop``, the disk
    transaction and ``migrate``; it learns of the resume from QEMU's event instead of
    polling the monitor, which QEMU's main loop would have to serve during the pause."""
    vm = agent_guest
    agent = client(memory_capture="background-snapshot")
    events: list[tuple[str, float]] = []
    start_event_loop()
    conn = libvirt.open(libvirtd)  # opened after the event loop is registered: gets events
    ids = [libvirt_qemu.qemuMonitorEventRegister(
        conn, conn.lookupByName(vm.name), name,
        lambda _c, _d, event, sec, usec, _x, _o: events.append((event, sec + usec / 1e6)),
        None, 0) for name in ("STOP", "RESUME")]
    try:
        with monitor_calls() as calls:
            answer = agent.ok(aj.create(vm.name, "q1", vm.volumes(), type="DiskAndMemory"))
        vm.wait_running()
        deadline = time.monotonic() + 5
        while [e for e, _ in events][-1:] != ["RESUME"] and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        for cb in ids:
            libvirt_qemu.qemuMonitorEventDeregister(conn, cb)
        conn.close()
    assert answer["memoryCapture"] == "background-snapshot" and answer["guestPauseMs"] > 0
    stopped = next(at for event, at in events if event == "STOP")
    resumed = next(at for event, at in events if event == "RESUME")
    inside = [(name, began, ended) for name, began, ended in calls
              if began < resumed and ended > stopped]
    assert [name for name, _, _ in inside[:3]] == ["stop", "transaction", "migrate"], inside
    # Only a pause longer than the event wait (a loaded machine) may see one look.
    migrated = inside[2][2]
    assert all(began - migrated > 0.09 for _, began, _ in inside[3:]), (inside, events)


def test_without_qemu_events_the_capture_asks_the_monitor_and_still_restores_ram(
        client, agent_guest, monkeypatch):
    """Where QEMU's events do not reach the driver, it learns of the resume by asking the
    monitor; the capture and its revert are the same."""
    vm = agent_guest
    agent = client(memory_capture="background-snapshot")
    monkeypatch.setattr(PauseWatch, "has_events", property(lambda _self: False))
    before = ram(vm)
    with monitor_calls() as calls:
        answer = agent.ok(aj.create(vm.name, "ne1", vm.volumes(), type="DiskAndMemory"))
    assert answer["memoryCapture"] == "background-snapshot"
    names = [name for name, _, _ in calls]
    assert "query-status" in names[names.index("migrate"):]
    ram(vm)
    reverted(agent, vm, "ne1")
    assert ram_sum(vm) == before


def test_preparing_the_ram_of_a_domain_not_on_this_host_is_skipped():
    done = hugepages.prepare_guest_ram("00000000-0000-4000-8000-000000000000", 1 << 30)
    assert done.collapsed_mib == done.read_mib == 0 and "no QEMU process" in done.skipped
