"""How a disk is snapshotted: qcow2 internal snapshots ("tags").

This is the only module that knows disks are qcow2. The memory path (``live.py``,
``memstate.py``) asks it for one thing: an action to run while the guest is paused that
captures every disk at that instant. Another storage type (Ceph RBD) slots in as another
:class:`DiskSnapshots` with the same memory path.

Tags of a running VM are made and removed with QMP (one ``transaction`` of
``blockdev-snapshot-internal-sync`` over every disk: atomic across disks); of a stopped VM
with ``qemu-img``, rolled back on failure.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable

from driver.core.errors import DriverError, HypervisorError, NotFound, Unsupported
from driver.hypervisors.base import DiskInfo
from driver.hypervisors.libvirt import qemuimg
from driver.hypervisors.libvirt.monitor import Monitor


def live_transaction(monitor: Monitor, disks: list[DiskInfo],
                     name: str) -> Callable[[], None]:
    """One QMP transaction snapshotting every disk at one instant. QEMU maps
    ``blockdev-snapshot-internal-sync`` to a qcow2 tag or an RBD snapshot by the disk's
    driver, so this serves both kinds, and VMs mixing them."""
    nodes = monitor.nodes()
    actions = []
    for disk in disks:
        if disk.path not in nodes:
            raise HypervisorError(f"disk {disk.target} of {monitor.name} is not open in QEMU")
        actions.append({"type": "blockdev-snapshot-internal-sync",
                        "data": {"device": nodes[disk.path], "name": name}})

    def capture() -> None:
        monitor.qmp("transaction", {"actions": actions},
                    doing=f"Disk snapshot {name} of {monitor.name}")

    return capture


class DiskSnapshots(ABC):
    """A disk-snapshot mechanism: everything about disks a VM snapshot needs. A mechanism
    says how one disk is snapshotted, reverted and cleaned while the VM is stopped; the
    all-or-nothing rules over a VM's disks are here, once."""

    @abstractmethod
    def check(self, vm: str, disks: list[DiskInfo]) -> None:
        """Refuse (Unsupported) disks this mechanism cannot snapshot."""

    @abstractmethod
    def holding(self, disks: list[DiskInfo], name: str) -> list[DiskInfo]:
        """The disks that hold snapshot ``name``."""

    @abstractmethod
    def delete(self, monitor: Monitor | None, disks: list[DiskInfo], name: str) -> None:
        """Remove ``name`` from every disk holding it (``monitor`` given: the VM runs)."""

    def create_one(self, disk: DiskInfo, name: str) -> None:
        """Snapshot one disk of a stopped VM."""
        raise NotImplementedError

    def revert_one(self, disk: DiskInfo, name: str) -> None:
        """Bring one disk of a stopped VM back to ``name``."""
        raise NotImplementedError

    def prepare_live(self, monitor: Monitor, disks: list[DiskInfo],
                     name: str) -> Callable[[], None]:
        """Look up what a live capture needs now; return the action that captures every disk
        at once, to be run while the guest is paused (or frozen)."""
        return live_transaction(monitor, disks, name)

    def create_stopped(self, disks: list[DiskInfo], name: str) -> None:
        """Snapshot every disk of a stopped VM; all or nothing."""
        done: list[DiskInfo] = []
        try:
            for disk in disks:
                self.create_one(disk, name)
                done.append(disk)
        except DriverError:
            self.delete(None, done, name)
            raise

    def revert_stopped(self, disks: list[DiskInfo], name: str) -> None:
        """Bring every disk of a stopped VM back to ``name``; none if one lacks it."""
        missing = [d.target for d in disks if d not in self.holding(disks, name)]
        if missing:
            raise NotFound(f"Snapshot {name} is missing from {', '.join(missing)}")
        for disk in disks:
            self.revert_one(disk, name)


class Qcow2Tags(DiskSnapshots):
    """qcow2 internal snapshots, shared copy-on-write with the live image."""

    def check(self, vm: str, disks: list[DiskInfo]) -> None:
        raw = [d.target for d in disks if d.format != "qcow2"]
        if raw:
            raise Unsupported(
                f"disks {', '.join(raw)} of {vm} are not qcow2; snapshots need qcow2")

    def holding(self, disks: list[DiskInfo], name: str) -> list[DiskInfo]:
        return [d for d in disks if os.path.exists(d.path) and name in qemuimg.tags(d.path)]

    def create_one(self, disk: DiskInfo, name: str) -> None:
        qemuimg.create(disk.path, name)

    def revert_one(self, disk: DiskInfo, name: str) -> None:
        qemuimg.apply(disk.path, name)

    def delete(self, monitor: Monitor | None, disks: list[DiskInfo], name: str) -> None:
        holding = self.holding(disks, name)
        if monitor is None:
            for disk in holding:
                qemuimg.delete(disk.path, name)
            return
        nodes = monitor.nodes() if holding else {}
        for disk in holding:
            monitor.qmp("blockdev-snapshot-delete-internal-sync",
                        {"device": nodes[disk.path], "name": name},
                        doing=f"Delete of snapshot {name} from {disk.target}")
