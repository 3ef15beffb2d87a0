"""The driver's side of convergence on the simulated host: power-state questions, a guest
left frozen thawed at start-up, and reconcile finding (and repairing) each divergence made
on purpose."""

from __future__ import annotations

from driver.app import create_app
from driver.core.model import Snapshot, SnapshotType
from tests import agentjson as aj
from tests.simhost.test_simulated_host import VM

REPORT = {"vmsnap.HostVmStateReportCommand": {"contextMap": {}, "wait": 0}}


def check(name: str) -> dict:
    return {"com.cloud.agent.api.CheckVirtualMachineCommand": {"vmName": name,
                                                              "contextMap": {}}}


def test_check_virtual_machine_and_the_host_report(agent, pool):
    running = VM(agent, pool, name="i-2-1-VM")
    stopped = VM(agent, pool, name="i-2-2-VM", running=False)
    states = [a["state"] for a in agent.run(check(running.name), check(stopped.name),
                                            check("i-9-9-VM"))]
    assert states == ["PowerOn", "PowerOff", "PowerReportMissing"]
    report = agent.ok(REPORT)["hostVmStateReport"]
    assert {k: v["state"] for k, v in report.items()} == {
        running.name: "PowerOn", stopped.name: "PowerOff"}
    assert all(v["host"] for v in report.values())


def test_a_guest_left_frozen_is_thawed_at_start_up(sim_settings, host, agent, pool):
    vm = VM(agent, pool)
    agent.ok(aj.create(vm.name, "s1", vm.vols, type="DiskAndMemory", quiesce=True))
    # What a crash between a revert to a quiesced memory snapshot (which resumes the guest
    # frozen) and the driver's thaw leaves behind: no journal row says frozen.
    host.guest(vm.name).freeze()
    assert host.guest(vm.name).freeze_status() == "frozen"
    create_app(sim_settings, host)  # the driver starts again: recovery
    assert host.guest(vm.name).freeze_status() == "thawed"


def test_reconcile_finds_and_repairs_orphans_and_missing_snapshots(sim_settings, host, agent,
                                                                  pool):
    vm = VM(agent, pool)
    agent.ok(aj.create(vm.name, "kept", vm.vols))
    agent.ok(aj.create(vm.name, "lost", vm.vols))
    guest = host.guest(vm.name)
    disks = [d.as_disk() for d in guest.disks()]
    guest.delete(Snapshot(vm.name, "lost", SnapshotType.DISK, disks=disks))  # lost on storage
    guest.capture(guest.preflight("stray", memory=False), description="")  # never recorded
    resp = agent.get("/v1/reconcile")
    assert resp.status_code == 200
    found = {(d["snapshot"], d["kind"]) for d in resp.get_json()["differences"]}
    assert found == {("lost", "missing"), ("stray", "orphan")}
    assert agent.get("/v1/reconcile").get_json()["count"] == 2  # the view repaired nothing

    from driver.app import build_service
    from driver.reconcile import reconcile

    service = build_service(sim_settings, host)
    repaired = reconcile(service.ctx, repair=True)
    assert {(d.snapshot, d.kind, d.repaired) for d in repaired} == {
        ("lost", "missing", True), ("stray", "orphan", True)}
    assert reconcile(service.ctx) == []
    assert not guest.has_snapshot(Snapshot(vm.name, "stray", SnapshotType.DISK, disks=disks))
    tree = agent.get(f"/v1/vms/{vm.name}/snapshots").get_json()
    assert [s["name"] for s in tree["snapshots"]] == ["kept"]
