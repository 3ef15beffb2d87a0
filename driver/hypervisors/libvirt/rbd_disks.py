"""How a disk on Ceph RBD is snapshotted: RBD snapshots, through QEMU while it runs.

QEMU maps its internal-snapshot commands onto RBD snapshots, so a running VM's disks are
captured by the same QMP ``transaction`` of ``blockdev-snapshot-internal-sync`` as qcow2
disks (atomic across disks, and across a VM mixing both kinds). A stopped VM's disks are
snapshotted, rolled back and cleaned with the ``rbd`` tool. A rollback needs the image
free: QEMU holds its exclusive lock while it runs, so reverts happen with QEMU stopped.

RBD snapshots are independent of each other: removing one never merges or changes another,
and rolling back to an older one keeps the newer ones, so the snapshot tree lives only in
the driver's records.
"""

from __future__ import annotations

from collections.abc import Callable

from driver.core.errors import NotFound, Unsupported
from driver.hypervisors.base import DiskInfo
from driver.hypervisors.libvirt.monitor import Monitor
from driver.hypervisors.libvirt.tags import DiskSnapshots, Qcow2Tags
from driver.storage.rbd import Rbd, RbdImage, is_rbd


class RbdSnapshots(DiskSnapshots):
    """RBD snapshots of raw RBD images."""

    def __init__(self, rbd: Rbd) -> None:
        self.rbd = rbd

    def check(self, vm: str, disks: list[DiskInfo]) -> None:
        wrong = [d.target for d in disks if not is_rbd(d.path) or d.format != "raw"]
        if wrong:
            raise Unsupported(f"disks {', '.join(wrong)} of {vm} are not raw RBD images")

    def holding(self, disks: list[DiskInfo], name: str) -> list[DiskInfo]:
        out = []
        for disk in disks:
            try:
                if name in self.rbd.snapshots(RbdImage.parse(disk.path)):
                    out.append(disk)
            except NotFound:
                continue
        return out

    def create_one(self, disk: DiskInfo, name: str) -> None:
        self.rbd.snap_create(RbdImage.parse(disk.path), name)

    def revert_one(self, disk: DiskInfo, name: str) -> None:
        self.rbd.snap_rollback(RbdImage.parse(disk.path), name)

    def delete(self, monitor: Monitor | None, disks: list[DiskInfo], name: str) -> None:
        # librbd hands the removal to the lock owner when QEMU runs: no QMP needed.
        for disk in self.holding(disks, name):
            self.rbd.snap_remove(RbdImage.parse(disk.path), name)


class ByStorage(DiskSnapshots):
    """Each disk by the mechanism of its storage (qcow2 files, RBD images); a running VM's
    disks of both kinds are still captured in one QMP transaction, at one instant."""

    def __init__(self, rbd: Rbd | None) -> None:
        self.qcow2 = Qcow2Tags()
        self.rbd = RbdSnapshots(rbd) if rbd is not None else None

    def _split(self, vm: str, disks: list[DiskInfo]
               ) -> list[tuple[DiskSnapshots, list[DiskInfo]]]:
        on_rbd = [d for d in disks if is_rbd(d.path)]
        files = [d for d in disks if not is_rbd(d.path)]
        if on_rbd and self.rbd is None:
            raise Unsupported(f"disks {', '.join(d.target for d in on_rbd)} of {vm} are on "
                              "Ceph RBD, which this driver is not configured for (rbd_pools)")
        out: list[tuple[DiskSnapshots, list[DiskInfo]]] = []
        if files:
            out.append((self.qcow2, files))
        if on_rbd and self.rbd is not None:
            out.append((self.rbd, on_rbd))
        return out

    def check(self, vm: str, disks: list[DiskInfo]) -> None:
        for mechanism, part in self._split(vm, disks):
            mechanism.check(vm, part)

    def holding(self, disks: list[DiskInfo], name: str) -> list[DiskInfo]:
        held = [d for mechanism, part in self._split("", disks)
                for d in mechanism.holding(part, name)]
        return [d for d in disks if d in held]

    def _of(self, disk: DiskInfo) -> DiskSnapshots:
        [(mechanism, _)] = self._split("", [disk])
        return mechanism

    def prepare_live(self, monitor: Monitor, disks: list[DiskInfo],
                     name: str) -> Callable[[], None]:
        self._split(monitor.name, disks)
        return super().prepare_live(monitor, disks, name)

    def create_one(self, disk: DiskInfo, name: str) -> None:
        self._of(disk).create_one(disk, name)

    def revert_one(self, disk: DiskInfo, name: str) -> None:
        self._of(disk).revert_one(disk, name)

    def delete(self, monitor: Monitor | None, disks: list[DiskInfo], name: str) -> None:
        for mechanism, part in self._split("", disks):
            mechanism.delete(monitor, part, name)
