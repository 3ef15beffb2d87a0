"""The manager's lock: VM sections of different VMs run side by side, one at a time per VM,
and never beside an exclusive section."""

from __future__ import annotations

import threading

import pytest

from simulator.orchestrator.core import ManagementLock


def test_sections_of_two_vms_overlap_but_not_of_one_vm() -> None:
    lock = ManagementLock()
    inside = threading.Event()
    release = threading.Event()

    def hold(vm: int) -> None:
        with lock.vm(vm):
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=hold, args=(1,))
    holder.start()
    assert inside.wait(10)
    entered: list[int] = []

    def enter(vm: int) -> None:
        with lock.vm(vm):
            entered.append(vm)

    other = threading.Thread(target=enter, args=(2,))
    other.start()
    other.join(10)
    assert entered == [2]  # another VM is not held up
    same = threading.Thread(target=enter, args=(1,))
    same.start()
    same.join(0.2)
    assert same.is_alive() and entered == [2]  # the same VM waits
    release.set()
    same.join(10)
    holder.join(10)
    assert entered == [2, 1]


def test_an_exclusive_section_excludes_vm_sections_and_goes_first() -> None:
    lock = ManagementLock()
    order: list[str] = []
    in_vm = threading.Event()
    release = threading.Event()

    def vm_section() -> None:
        with lock.vm(1):
            in_vm.set()
            release.wait(10)
            order.append("vm1")

    def exclusive() -> None:
        with lock:
            order.append("exclusive")

    def late_vm() -> None:
        with lock.vm(2):
            order.append("vm2")

    first = threading.Thread(target=vm_section)
    first.start()
    assert in_vm.wait(10)
    writer = threading.Thread(target=exclusive)
    writer.start()
    writer.join(0.2)
    assert writer.is_alive()  # waits for the VM section
    late = threading.Thread(target=late_vm)
    late.start()
    late.join(0.2)
    assert late.is_alive()  # a waiting exclusive section goes first
    release.set()
    for t in (first, writer, late):
        t.join(10)
    assert order == ["vm1", "exclusive", "vm2"]


def test_reentry_and_the_forbidden_upgrade() -> None:
    lock = ManagementLock()
    with lock, lock, lock.vm(3), lock.vm(3):
        pass  # the exclusive lock covers every VM, and nests
    with lock.vm(4), lock.vm(4), pytest.raises(RuntimeError), lock:
        pass
