"""Reconcile and the power-state questions on libvirt (the test driver, real qcow2 images):
qcow2 tags and libvirt metadata compared with the journal, each divergence made on purpose."""

from __future__ import annotations

from driver.app import build_service
from driver.reconcile import reconcile
from tests import agentjson as aj
from tests.support.driver import qemu_img


def test_check_virtual_machine_and_the_host_report_on_libvirt(agent, vm_factory):
    on, off = vm_factory(), vm_factory(running=False)
    answers = agent.run(
        {"com.cloud.agent.api.CheckVirtualMachineCommand": {"vmName": on.name}},
        {"com.cloud.agent.api.CheckVirtualMachineCommand": {"vmName": off.name}},
        {"com.cloud.agent.api.CheckVirtualMachineCommand": {"vmName": "i-404-VM"}},
        {"vmsnap.HostVmStateReportCommand": {}})
    assert [a.get("state") for a in answers[:3]] == ["PowerOn", "PowerOff",
                                                      "PowerReportMissing"]
    report = answers[3]["hostVmStateReport"]
    assert report[on.name]["state"] == "PowerOn" and report[off.name]["state"] == "PowerOff"


def test_reconcile_finds_tags_on_some_disks_only_orphans_and_missing(agent, vm_factory,
                                                                    settings, host):
    vm = vm_factory(ndisks=2, running=False)
    for name in ("whole", "half", "gone"):
        agent.ok(aj.create(vm.name, name, vm.volumes()))
    qemu_img("snapshot", "-d", "half", vm.disks[1])  # a tag lost on one disk
    for disk in vm.disks:  # a snapshot lost everywhere (tags and metadata)
        qemu_img("snapshot", "-d", "gone", disk)
    if "gone" in vm.dom.snapshotListNames():
        vm.dom.snapshotLookupByName("gone").delete(1 << 1)  # ..._DELETE_METADATA_ONLY
    qemu_img("snapshot", "-c", "stray", vm.disks[0])  # a tag nothing records
    resp = agent.get("/v1/reconcile")
    found = {(d["snapshot"], d["kind"]) for d in resp.get_json()["differences"]}
    assert found == {("half", "partial"), ("gone", "missing"), ("stray", "orphan")}
    service = build_service(settings, host)
    repaired = {(d.snapshot, d.kind): d.repaired for d in reconcile(service.ctx, repair=True)}
    assert repaired == {("half", "partial"): False, ("gone", "missing"): True,
                        ("stray", "orphan"): True}
    assert {(d.snapshot, d.kind) for d in reconcile(service.ctx)} == {("half", "partial")}
    assert "stray" not in qemu_img("snapshot", "-l", vm.disks[0])
