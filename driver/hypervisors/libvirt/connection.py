"""The connection owner: one libvirt connection per host, opened lazily, reopened when it
breaks, and the host-level operations (looking up guests, the lifecycle commands of the
simulator's lab mode, volume files)."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

import libvirt

from driver import files
from driver.core.errors import DriverError, HypervisorError, InvalidRequest, NotFound
from driver.core.model import Snapshot
from driver.hypervisors.base import DiskInfo, Hypervisor, VmSpec
from driver.hypervisors.libvirt import qemuimg, userfault
from driver.hypervisors.libvirt.errors import call as _call
from driver.hypervisors.libvirt.errors import is_broken_connection, is_missing, translate
from driver.hypervisors.libvirt.guest import LibvirtGuest
from driver.hypervisors.libvirt.live import MECHANISMS, LiveOptions
from driver.hypervisors.libvirt.monitor import start_event_loop
from driver.hypervisors.libvirt.rbd_disks import ByStorage
from driver.hypervisors.libvirt.rbdstate import RbdStates
from driver.hypervisors.libvirt.states import FileStates, MemoryStates
from driver.hypervisors.libvirt.xml import CephAccess, disk_xml, domain_xml
from driver.names import check_snapshot_name
from driver.storage.rbd import VOLUME_SNAPSHOT_PREFIX, Rbd, RbdImage, check_name, is_rbd

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ceph:
    """The Ceph cluster of this host's RBD pools: the driver's own client (``rbd``), what
    QEMU needs to reach it, and where memory states of VMs on RBD are kept (images of
    ``memory_pool``, else files in ``memory_dir``)."""

    rbd: Rbd
    monitors: str = ""
    user: str = ""
    secret_uuid: str = ""
    memory_dir: str = ""
    memory_pool: str = ""

    @property
    def access(self) -> CephAccess:
        return CephAccess.parse(self.monitors, self.user, self.secret_uuid)


def _dotted(version: int) -> str:
    """libvirt's version integers (major * 1,000,000 + minor * 1,000 + micro) as 9.0.0."""
    return f"{version // 1_000_000}.{version // 1_000 % 1_000}.{version % 1_000}"


class LibvirtHost(Hypervisor):
    """Owns one libvirt connection: opened lazily, reopened when it breaks."""

    def __init__(self, uri: str, agent_timeout: int = 10, domain_type: str = "kvm",
                 live: LiveOptions | None = None, ceph: Ceph | None = None) -> None:
        self.ceph = ceph
        self.disk_snapshots = ByStorage(ceph.rbd if ceph is not None else None)
        self.live = live or LiveOptions()
        if self.live.mechanism not in MECHANISMS:
            raise ValueError(f"memory_capture must be one of {', '.join(MECHANISMS)}, not "
                             f"{self.live.mechanism!r}")
        self.uri = uri
        self.agent_timeout = agent_timeout
        self.domain_type = domain_type
        self._conn: libvirt.virConnect | None = None
        self._lock = threading.Lock()

    @property
    def conn(self) -> libvirt.virConnect:
        with self._lock:
            if self._conn is not None:
                try:
                    if self._conn.isAlive():
                        return self._conn
                except libvirt.libvirtError:
                    pass
                self._conn = None
            start_event_loop()  # before opening: QEMU's events measure the guest's pause
            self._conn = _call(f"Connecting to {self.uri}", lambda: libvirt.open(self.uri))
            return self._conn

    def guest(self, name: str) -> LibvirtGuest:
        try:
            dom = self.conn.lookupByName(name)
        except libvirt.libvirtError as exc:
            if is_broken_connection(exc):
                self._conn = None
                dom = _call(f"Looking up VM {name}", lambda: self.conn.lookupByName(name))
            elif is_missing(exc):
                raise NotFound(f"can not find vm: {name}") from None
            else:
                raise translate(exc, f"Looking up VM {name}") from None
        return LibvirtGuest(self, dom, self.disk_snapshots)

    def ping(self) -> str:
        conn = self.conn
        return _call("Reading the hypervisor version", lambda: (
            f"libvirt {_dotted(conn.getLibVersion())}, "
            f"{conn.getType()} {_dotted(conn.getVersion())} at {self.uri}"
        ))

    def capture_readiness(self) -> str | None:
        if not self.uri.startswith("qemu:///"):
            return None  # QEMU runs on another machine, or not at all
        return userfault.readiness(userfault.unprivileged_allowed(),
                                   userfault.qemu_processes())[1]

    def guest_names(self) -> list[str]:
        conn = self.conn
        return sorted(_call("Listing the VMs", lambda: [d.name() for d in conn.listAllDomains()]))

    @property
    def is_qemu(self) -> bool:
        return str(self.conn.getType()).upper() == "QEMU"

    # --- lifecycle (the simulator's lab mode) -------------------------------------------

    def start(self, spec: VmSpec) -> None:
        def xml(uuid: str | None = None) -> str:
            return domain_xml(spec.name, domain_type=self.domain_type, cpus=spec.cpus,
                              memory_mib=spec.memory_mib, disks=spec.disks, agent=spec.agent,
                              ceph=self._access, uuid=uuid)

        try:
            dom = self.conn.lookupByName(spec.name)
        except libvirt.libvirtError as exc:
            if not is_missing(exc):
                raise translate(exc, f"Looking up VM {spec.name}") from None
            dom = _call(f"Defining VM {spec.name}", lambda: self.conn.defineXML(xml()))
        else:
            # A definition left by an earlier life of this name (an aborted run, a VM
            # destroyed behind the driver's back) must not boot other disks than asked.
            wanted = {(d.target, d.path) for d in spec.disks}
            held = {(d.target, d.path) for d in self.guest(spec.name).disks()}
            if held != wanted and not dom.isActive():
                log.warning("VM %s was defined with other disks: defined again", spec.name)
                again = xml(dom.UUIDString())  # the same domain (its snapshots stay its own)
                dom = _call(f"Defining VM {spec.name}", lambda: self.conn.defineXML(again))
        if spec.power_on and not dom.isActive():
            _call(f"Starting VM {spec.name}", dom.create)

    def reboot(self, name: str) -> None:
        dom = self.guest(name).dom
        _call(f"Rebooting VM {name}", lambda: dom.reset(0))

    def undefine(self, name: str) -> None:
        guest = self.guest(name)
        guest.stop()
        _call(f"Removing VM {name}", lambda: guest.dom.undefineFlags(
            libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA))

    @property
    def _access(self) -> CephAccess | None:
        return self.ceph.access if self.ceph is not None else None

    def _rbd(self, path: str) -> tuple[Rbd, RbdImage]:
        if self.ceph is None:
            raise InvalidRequest(f"{path} is on Ceph RBD, which this driver is not configured "
                                 "for (rbd_pools)")
        return self.ceph.rbd, RbdImage.parse(path)

    def create_volume(self, path: str, size: int) -> None:
        if is_rbd(path):
            rbd, image = self._rbd(path)
            if rbd.exists(image):
                raise InvalidRequest(f"a volume already exists at {path}")
            rbd.create(image, size)
            return
        if os.path.exists(path):
            raise InvalidRequest(f"a volume already exists at {path}")
        qemuimg.create_image(path, size)

    def delete_volume(self, path: str) -> None:
        if is_rbd(path):
            rbd, image = self._rbd(path)
            rbd.remove(image)
            return
        try:
            files.release(path)
        except IsADirectoryError:
            raise InvalidRequest(f"{path} is a folder, not a volume") from None

    def resize_volume(self, path: str, size: int) -> None:
        if is_rbd(path):
            rbd, image = self._rbd(path)
            rbd.resize(image, size)
            return
        current = int(qemuimg.info(path)["virtual-size"])
        qemuimg.resize(path, size, shrink=size < current)

    def attach(self, vm: str, disk: DiskInfo) -> None:
        dom = self.guest(vm).dom
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG | (
            libvirt.VIR_DOMAIN_AFFECT_LIVE if dom.isActive() else 0)
        _call(f"Attaching {disk.path} to {vm}",
              lambda: dom.attachDeviceFlags(disk_xml(disk, self._access), flags))

    def detach(self, vm: str, path: str) -> None:
        guest = self.guest(vm)
        disk = next((d for d in guest.disks() if d.path == path), None)
        if disk is None:
            raise InvalidRequest(f"volume {path} is not attached to {vm}")
        xml = disk_xml(disk, self._access)
        if guest.dom.isActive():
            # A live unplug needs the guest's consent: libvirt waits a few seconds and may
            # return with it still pending. Only a disk really gone leaves the definition.
            _call(f"Detaching {path} from {vm}",
                  lambda: guest.dom.detachDeviceFlags(xml, libvirt.VIR_DOMAIN_AFFECT_LIVE))
            if any(d.path == path for d in guest.disks()):
                raise HypervisorError(
                    f"The guest of {vm} has not released {disk.target}; the disk stays "
                    "attached (stop the VM to detach it)")
        _call(f"Detaching {path} from {vm}",
              lambda: guest.dom.detachDeviceFlags(xml, libvirt.VIR_DOMAIN_AFFECT_CONFIG))

    @staticmethod
    def _volume_snapshot_path(path: str, name: str, *, create: bool = False) -> str:
        """Where the volume snapshot ``name`` of the volume at ``path`` is kept: beside the
        volume, in a hidden folder (made only when a snapshot is taken)."""
        check_snapshot_name(name)
        folder = os.path.join(os.path.dirname(path), ".volume-snapshots")
        if create:
            os.makedirs(folder, exist_ok=True)
        return os.path.join(folder, f"{os.path.basename(path)}@{name}.qcow2")

    @staticmethod
    def _volume_snapshot_image(image: RbdImage, name: str) -> RbdImage:
        """The image a volume snapshot taken from a VM snapshot is copied into."""
        return RbdImage(image.pool, check_name(f"{image.name}.{VOLUME_SNAPSHOT_PREFIX}{name}",
                                               "image"))

    def _snapshot_rbd_volume(self, path: str, name: str, source: str | None) -> int:
        """Now: an RBD snapshot ``volume-<name>`` of the image. From a VM snapshot (an RBD
        snapshot cannot be made at a past point): an independent copy of the image as that
        snapshot holds it, ``<image>.volume-<name>``, so the VM snapshot can still be
        deleted or reverted freely; copied under a partial name, renamed when whole."""
        rbd, image = self._rbd(path)
        snap = f"{VOLUME_SNAPSHOT_PREFIX}{name}"
        check_name(snap, "snapshot")
        copy = self._volume_snapshot_image(image, name)
        partial = RbdImage(copy.pool, check_name(copy.name + ".partial", "image"))
        held = rbd.snapshots(image)
        if snap in held or rbd.exists(copy):
            raise InvalidRequest(f"volume snapshot {name} already exists")
        if source is None:
            rbd.snap_create(image, snap)
            return rbd.used_bytes(image).get(snap, 0)
        if source not in held or source.startswith(VOLUME_SNAPSHOT_PREFIX):
            raise InvalidRequest(f"volume {path} has no VM snapshot {source}")
        rbd.remove_when_free(partial)  # left by an interrupted copy
        try:
            rbd.copy(image, source, partial)
            rbd.rename(partial, copy.name)
        except DriverError:
            rbd.remove_when_free(partial)
            raise
        return rbd.used_bytes(copy).get("", 0)

    def snapshot_volume(self, path: str, name: str, *, source: str | None = None) -> int:
        if is_rbd(path):
            return self._snapshot_rbd_volume(path, name, source)
        target = self._volume_snapshot_path(path, name, create=True)
        if os.path.exists(target):
            raise InvalidRequest(f"volume snapshot {name} already exists")
        if source is not None and source not in qemuimg.tags(path):
            raise InvalidRequest(f"volume {path} has no VM snapshot {source}")
        qemuimg.copy(path, target, snapshot=source)
        return os.path.getsize(target)

    def delete_volume_snapshot(self, path: str, name: str) -> None:
        if is_rbd(path):
            rbd, image = self._rbd(path)
            rbd.snap_remove(image, f"{VOLUME_SNAPSHOT_PREFIX}{name}")
            rbd.remove(self._volume_snapshot_image(image, name))
            return
        files.release(self._volume_snapshot_path(path, name))

    def delete_from_files(self, snapshot: Snapshot) -> None:
        disks = [DiskInfo(d.target, d.path) for d in snapshot.disks]
        files = [d for d in disks if not is_rbd(d.path)]
        for disk in files:
            if os.path.exists(disk.path) and snapshot.name in qemuimg.tags(disk.path):
                qemuimg.delete(disk.path, snapshot.name)
        on_rbd = [d for d in disks if is_rbd(d.path)]
        if on_rbd and self.ceph is not None:
            self.disk_snapshots.delete(None, on_rbd, snapshot.name)
        states = self.memory_states(disks)
        if states is not None:
            states.remove(snapshot.vm, snapshot.name)

    def memory_states(self, disks: list[DiskInfo]) -> MemoryStates | None:
        """Where a VM's memory states live: files beside its root disk when that is a file;
        when it is on RBD, images of ``rbd_memory_pool`` or else files in ``rbd_memory_dir``
        (None: nowhere to keep one)."""
        if not disks:
            return None
        if not is_rbd(disks[0].path):
            return FileStates(os.path.dirname(os.path.realpath(disks[0].path)))
        if self.ceph is None:
            return None
        if self.ceph.memory_pool:
            return RbdStates(self.ceph.rbd, self.ceph.memory_pool)
        if self.ceph.memory_dir:
            return FileStates(self.ceph.memory_dir)
        return None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                except libvirt.libvirtError:
                    pass
                self._conn = None
