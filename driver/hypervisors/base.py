"""The interface every hypervisor backend implements (libvirt, the simulated host)."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from driver.core.errors import NotFound, Unsupported
from driver.core.model import Disk, PowerState, Snapshot

# Places a snapshot is held besides its disks (see ``Guest.held_snapshots``).
METADATA = "metadata"  # the hypervisor's snapshot record (libvirt's snapshot XML)
MEMORY_STATE = "memory-state"  # a memory state kept outside the disk images


@dataclass(frozen=True)
class DiskInfo:
    """A disk attached to a guest: device name, image file and its format."""

    target: str
    path: str
    format: str = "qcow2"

    def as_disk(self) -> Disk:
        return Disk(self.target, self.path)


@dataclass
class VmSpec:
    """What a host needs to define and start a VM (a subset of CloudStack's VirtualMachineTO)."""

    name: str
    cpus: int = 1
    memory_mib: int = 256
    disks: list[DiskInfo] = field(default_factory=list)
    agent: bool = True
    power_on: bool = True  # False: define the VM and its disks only


@dataclass
class CaptureReport:
    """What a capture measured and chose, for the answer and the metrics."""

    guest_pause_ms: float | None = None  # vCPUs stood still (QEMU STOP -> RESUME), if known
    memory_capture: str | None = None  # how memory was captured: precopy, background-snapshot,
    #                                    savevm (None for a disk-only snapshot)
    memory_bytes: int = 0  # bytes of memory state kept apart from the disks


@dataclass
class CapturePlan:
    """One capture from :meth:`Guest.preflight` to :meth:`Guest.finish`: what preflight
    decided and, once captured, what is still in progress. The caller holds it and hands it
    to each step, so a guest object keeps no capture between calls. Backends extend it."""

    name: str
    memory: bool


class Guest(ABC):
    """One VM on a host, with intent-named operations. Every method raises DriverError."""

    name: str

    @abstractmethod
    def power_state(self) -> PowerState:
        """PowerOn for a running (or paused) domain, PowerOff for a defined, stopped one."""

    @abstractmethod
    def disks(self) -> list[DiskInfo]:
        """Every disk of the VM, in device order."""

    @abstractmethod
    def freeze(self) -> int:
        """Freeze the guest's filesystems through its agent; return how many were frozen."""

    @abstractmethod
    def thaw(self) -> int:
        """Thaw every frozen filesystem (always the no-argument thaw)."""

    @abstractmethod
    def freeze_status(self) -> str:
        """``frozen`` or ``thawed``, as the guest agent reports it."""

    def preflight(self, name: str, *, memory: bool) -> CapturePlan:
        """Every check and preparation ``capture`` needs, done before the guest is frozen so
        that only the capture itself sits inside the freeze window; the plan for the other
        steps. Raises DriverError to refuse (nothing is left prepared then)."""
        return CapturePlan(name, memory)

    @abstractmethod
    def capture(self, plan: CapturePlan, *, description: str) -> None:
        """Capture every disk atomically (and memory if the plan says so) under the plan's
        snapshot name: the part that must happen at the snapshot's instant (inside the
        freeze window). On failure, nothing of the snapshot is left."""

    def finish(self, plan: CapturePlan) -> CaptureReport:
        """After ``capture`` (outside the freeze window): complete what may run after the
        instant (a memory stream still being written), confirm the data is really there.
        On failure, nothing of the snapshot is left."""
        return CaptureReport()

    def abandon(self, name: str, plan: CapturePlan | None = None) -> None:
        """Undo whatever an interrupted capture of ``name`` left (what ``plan`` prepared, a
        migration still running, a guest it paused, partial files, disk snapshots): the
        guest ends up running as before. Idempotent; used on failures and, with no plan,
        by start-up recovery."""

    @abstractmethod
    def revert(self, snapshot: Snapshot) -> PowerState:
        """Bring every disk (and memory, for a memory snapshot) back to ``snapshot``."""

    @abstractmethod
    def delete(self, snapshot: Snapshot) -> None:
        """Remove ``snapshot``'s data; other snapshots keep what they captured. Idempotent."""

    @abstractmethod
    def has_snapshot(self, snapshot: Snapshot) -> bool:
        """Whether any of ``snapshot``'s data is on the hypervisor."""

    def held_snapshots(self) -> dict[str, set[str]]:
        """What the hypervisor really holds, for reconcile: each snapshot name found, with
        the places holding it (disk image paths, ``METADATA``, ``MEMORY_STATE``)."""
        raise Unsupported(f"listing the snapshots {self.name}'s host holds is not supported")

    @abstractmethod
    def stop(self) -> None:
        """Power the VM off (used when a revert may change the power state)."""

    def set_agent_timeout(self, seconds: int) -> None:
        """Bound how long an agent call may block (where the backend supports it)."""

    def stored_bytes(self, path: str) -> int | None:
        """Bytes a disk image occupies on storage, with all its snapshots; None if unknown."""
        return None

    def redefine(self, snapshot: Snapshot) -> bool:
        """Re-register a snapshot's metadata on a host that lost it; True if it did."""
        return False

    # --- guest data: what a test does inside the guest over SSH ---------------------------

    def write(self, path: str, offset: int, data: bytes) -> None:
        """Write bytes into a disk as the guest would."""
        raise Unsupported(f"writing guest data is not supported on {self.name}'s host")

    def read(self, path: str, offset: int, length: int) -> bytes:
        raise Unsupported(f"reading guest data is not supported on {self.name}'s host")

    def write_file(self, path: str, name: str, data: bytes | None) -> None:
        """Write (or, with None, delete) a named file on a disk's filesystem."""
        raise Unsupported(f"guest files are not supported on {self.name}'s host")

    def read_file(self, path: str, name: str) -> bytes | None:
        raise Unsupported(f"guest files are not supported on {self.name}'s host")

    def list_files(self, path: str, prefix: str) -> list[str]:
        """The names of the files on a disk's filesystem that start with ``prefix``."""
        raise Unsupported(f"guest files are not supported on {self.name}'s host")

    def set_memory(self, key: str, value: str) -> None:
        """Put a marker into the running guest's memory."""
        raise Unsupported(f"guest memory markers are not supported on {self.name}'s host")

    def memory(self) -> dict[str, str]:
        raise Unsupported(f"guest memory markers are not supported on {self.name}'s host")


def disk_key(path: str) -> str:
    """How a disk is compared with another: a file by its real path, an image by its name."""
    return os.path.realpath(path) if path.startswith("/") else path


class Hypervisor(ABC):
    """A host: looks up guests and reports whether it can be reached."""

    @abstractmethod
    def guest(self, name: str) -> Guest:
        """The VM named ``name``; raises NotFound if the host has no such VM."""

    @abstractmethod
    def ping(self) -> str:
        """Check the connection; return a short description of the host."""

    def capture_readiness(self) -> str | None:
        """A line saying whether live memory capture is possible on this host, where the
        backend can tell (``vmsnap-driver check`` prints it)."""
        return None

    def guest_names(self) -> list[str]:
        """The name of every VM the host has (defined or running)."""
        raise Unsupported("listing VMs is not supported by this host")

    def delete_from_files(self, snapshot: Snapshot) -> None:
        """Delete ``snapshot`` from its disk files when its VM is gone from the host."""

    def disk_owners(self) -> dict[str, str]:
        """Every disk a VM is defined with: its path (real path for a file) -> the VM."""
        try:
            names = self.guest_names()
        except Unsupported:
            return {}
        owners = {}
        for name in names:
            try:
                disks = self.guest(name).disks()
            except NotFound:
                continue  # removed meanwhile
            owners.update({disk_key(d.path): name for d in disks})
        return owners

    # --- lifecycle: what a management server needs from a host besides snapshots --------

    def start(self, spec: VmSpec) -> None:
        """Define the VM if the host does not know it, attach its disks, power it on."""
        raise Unsupported("starting VMs is not supported by this host")

    def reboot(self, name: str) -> None:
        raise Unsupported("rebooting VMs is not supported by this host")

    def undefine(self, name: str) -> None:
        """Forget a stopped VM (its volumes stay)."""
        raise Unsupported("removing VMs is not supported by this host")

    def create_volume(self, path: str, size: int) -> None:
        raise Unsupported("creating volumes is not supported by this host")

    def delete_volume(self, path: str) -> None:
        raise Unsupported("deleting volumes is not supported by this host")

    def resize_volume(self, path: str, size: int) -> None:
        raise Unsupported("resizing volumes is not supported by this host")

    def attach(self, vm: str, disk: DiskInfo) -> None:
        raise Unsupported("attaching volumes is not supported by this host")

    def detach(self, vm: str, path: str) -> None:
        raise Unsupported("detaching volumes is not supported by this host")

    def snapshot_volume(self, path: str, name: str, *, source: str | None = None) -> int:
        """Take a snapshot of one volume, as it is now or, with ``source``, as the VM
        snapshot of that name holds it; return the bytes it stores."""
        raise Unsupported("volume snapshots are not supported by this host")

    def delete_volume_snapshot(self, path: str, name: str) -> None:
        raise Unsupported("volume snapshots are not supported by this host")

    def close(self) -> None:
        """Release connections."""
