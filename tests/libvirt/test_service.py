"""The service's own rules on the test driver: one operation per VM, crash recovery,
restoring lost metadata."""

from __future__ import annotations

import threading

from driver.app import build_service
from driver.recovery import recover
from driver.usecases.views import tree_view
from driver.wire.commands import Answer
from driver.wire.envelope import decode_commands
from tests import agentjson as aj


def run(service, command):
    [item] = decode_commands(aj.body(command))
    return service.execute(item)[1]


def test_a_second_operation_on_a_busy_vm_is_refused_and_changes_nothing(settings, host,
                                                                        vm_factory):
    service = build_service(settings, host)
    vm = vm_factory()
    with service.slots.hold(vm.name, "create", "other"):
        answer = run(service, aj.create(vm.name, "s1", vm.volumes(), type="DiskAndMemory"))
    assert answer.result is False
    assert answer.details.startswith("There is other active vm snapshot tasks")
    assert vm.dom.listAllSnapshots() == [] and service.store.all(vm.name) == []
    other = vm_factory()  # a different VM is not held up
    with service.slots.hold(vm.name, "create", "other"):
        assert run(service, aj.create(other.name, "s1", other.volumes(),
                                      type="DiskAndMemory")).result


def test_a_resend_of_the_running_operation_waits_for_its_answer(settings, host, vm_factory):
    service = build_service(settings, host)
    vm = vm_factory()
    command = aj.create(vm.name, "s1", vm.volumes(), type="DiskAndMemory")
    results = []
    with service.slots.hold(vm.name, "create", "s1") as slot:
        waiter = threading.Thread(target=lambda: results.append(run(service, command)))
        waiter.start()
        waiter.join(0.2)
        assert waiter.is_alive()  # waiting, not refused
        slot.answer = Answer(details="from the first attempt")
    waiter.join(5)
    assert results[0].details == "from the first attempt"
    assert vm.dom.listAllSnapshots() == []


def test_a_waiting_resend_runs_itself_if_the_first_ended_without_answer(settings, host,
                                                                        vm_factory):
    service = build_service(settings, host)
    vm = vm_factory()
    command = aj.create(vm.name, "s1", vm.volumes(), type="DiskAndMemory")
    results = []
    with service.slots.hold(vm.name, "create", "s1"):
        waiter = threading.Thread(target=lambda: results.append(run(service, command)))
        waiter.start()
        waiter.join(0.2)
        assert waiter.is_alive()
    waiter.join(5)
    assert results[0].result is True
    assert len(vm.dom.listAllSnapshots()) == 1


def test_recovery_rolls_back_a_half_made_create(settings, host, vm_factory):
    service = build_service(settings, host)
    vm = vm_factory()
    command = aj.create(vm.name, "half", vm.volumes(), type="DiskAndMemory")
    service.journal.begin("create", vm.name, "half", next(iter(command.values())))
    guest = host.guest(vm.name)
    guest.capture(guest.preflight("half", memory=True), description="")  # then the crash
    assert [s.getName() for s in vm.dom.listAllSnapshots()] == ["half"]
    assert recover(service) == [f"create {vm.name}/half: rolled back"]
    assert vm.dom.listAllSnapshots() == []
    assert service.journal.unfinished() == []
    assert run(service, command).result is True  # the resend now creates it


def test_recovery_completes_a_create_whose_record_was_written(settings, host, vm_factory):
    service = build_service(settings, host)
    vm = vm_factory()
    command = aj.create(vm.name, "s1", vm.volumes(), type="DiskAndMemory")
    assert run(service, command).result
    op = service.journal.begin("create", vm.name, "s1", next(iter(command.values())))
    assert "completed" in recover(service)[0]
    assert service.journal.replay("create", vm.name, "s1") is not None
    assert op and len(vm.dom.listAllSnapshots()) == 1


def test_recovery_finishes_an_interrupted_delete(settings, host, vm_factory):
    service = build_service(settings, host)
    vm = vm_factory()
    assert run(service, aj.create(vm.name, "s1", vm.volumes(), type="DiskAndMemory")).result
    command = aj.delete(vm.name, "s1", vm.volumes(), type="DiskAndMemory")
    service.journal.begin("delete", vm.name, "s1", next(iter(command.values())))
    assert recover(service) == [f"delete {vm.name}/s1: finished"]
    assert vm.dom.listAllSnapshots() == [] and service.store.all(vm.name) == []


def test_restore_reregisters_lost_metadata(settings, host, vm_factory):
    service = build_service(settings, host)
    vm = vm_factory()
    s1 = aj.snapshot_to("r1", type="DiskAndMemory", created_ms=1735639200000)
    s2 = aj.snapshot_to("r2", type="DiskAndMemory", created_ms=1735639300000, current=True)
    command = aj.command("RestoreVMSnapshotCommand", vm.name, None, vm.volumes(),
                         snapshots=[s1, s2], snapshotAndParents={str(s2["id"]): s1})
    answer = run(service, command)
    assert answer.result is True, answer.details
    assert answer.vmState == "PowerOn"
    assert sorted(s.getName() for s in vm.dom.listAllSnapshots()) == ["r1", "r2"]
    view = tree_view(service.store, vm.name)
    assert view["current"] == "r2"
    assert {s["name"]: s["parent"] for s in view["snapshots"]} == {"r1": None, "r2": "r1"}
    assert run(service, command).result is True  # idempotent
