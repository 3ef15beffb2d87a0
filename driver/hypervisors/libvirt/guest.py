"""One libvirt domain with intent-named operations; the mechanisms live in their own modules.

=====================  ==========================================  ==============================
snapshot               created with                                reverted / deleted with
=====================  ==========================================  ==============================
DiskAndMemory, QEMU    live capture (``live.py``): memory into a   ``restore.py`` (QEMU restart)
running                state (``states.py``: a file or an RBD      / tags and state removed
                       image), disks by ``tags.py`` at the same
                       instant
DiskAndMemory,         ``savevm`` with libvirt's metadata          in place (``loadvm``) or by
fallback / non-QEMU    (``internal.py``)                           libvirt / libvirt
Disk, running          one QMP transaction of disk tags            ``qemu-img`` on the stopped
                                                                   VM / QMP
Disk, stopped          ``qemu-img snapshot -c`` on every image     ``qemu-img``
=====================  ==========================================  ==============================
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import libvirt
import libvirt_qemu

from driver.core.errors import DriverError, HypervisorError, InvalidRequest, NotFound, Unsupported
from driver.core.model import PowerState, Snapshot, SnapshotType
from driver.hypervisors.base import (
    MEMORY_STATE,
    METADATA,
    CapturePlan,
    CaptureReport,
    DiskInfo,
    Guest,
)
from driver.hypervisors.libvirt import internal, live, qemuimg, restore
from driver.hypervisors.libvirt.errors import call
from driver.hypervisors.libvirt.monitor import Monitor, PauseWatch
from driver.hypervisors.libvirt.states import MemoryStates
from driver.hypervisors.libvirt.tags import DiskSnapshots, Qcow2Tags
from driver.hypervisors.libvirt.xml import disk_aliases, domain_disks, rbd_url
from driver.storage.rbd import VOLUME_SNAPSHOT_PREFIX, RbdImage, is_rbd

if TYPE_CHECKING:
    from driver.hypervisors.libvirt.connection import LibvirtHost

log = logging.getLogger(__name__)

_ON_STATES = {libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_BLOCKED,
              libvirt.VIR_DOMAIN_PMSUSPENDED}
_OFF_STATES = {libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_CRASHED}


@dataclass
class _Plan(CapturePlan):
    """What preflight decided, so the capture itself does no look-ups, and then the memory
    capture between its instant and its end."""

    running: bool = False
    disks: list[DiskInfo] = field(default_factory=list)
    mechanism: str | None = None  # memory: precopy, background-snapshot or savevm
    at_instant: Callable[[], None] | None = None  # captures every disk of the running VM
    watch: PauseWatch | None = None  # the guest's pause, from QEMU's events
    stream: live.LiveCapture | None = None  # the live capture, None on the savevm path
    fallback: str | None = None  # why the live path was not taken


class LibvirtGuest(Guest):
    """One libvirt domain."""

    def __init__(self, host: LibvirtHost, dom: libvirt.virDomain,
                 disk_snapshots: DiskSnapshots | None = None) -> None:
        self.host = host
        self.dom = dom
        self.name = dom.name()
        self.monitor = Monitor(dom, self.name)
        self.disk_snapshots = disk_snapshots or Qcow2Tags()

    # --- state ------------------------------------------------------------------------------

    def power_state(self) -> PowerState:
        state = call(f"Reading the state of {self.name}", lambda: self.dom.state()[0])
        if state in _ON_STATES:
            return PowerState.ON
        if state in _OFF_STATES:
            return PowerState.OFF
        return PowerState.UNKNOWN

    def disks(self) -> list[DiskInfo]:
        return domain_disks(call(f"Reading the disks of {self.name}", self.dom.XMLDesc))

    def stop(self) -> None:
        if self.power_state() is PowerState.ON:
            call(f"Stopping {self.name}", self.dom.destroy)

    def _states(self, disks: list[DiskInfo] | None = None) -> MemoryStates | None:
        """Where this VM's memory states are kept (None: nowhere, no live snapshots)."""
        return self.host.memory_states(self.disks() if disks is None else disks)

    def stored_bytes(self, path: str) -> int | None:
        """The image with its internal snapshots; the root disk also carries the VM's
        memory states, so a memory snapshot's size counts its RAM."""
        size: int | None
        if is_rbd(path) and self.host.ceph is not None:
            size = sum(self.host.ceph.rbd.used_bytes(RbdImage.parse(path)).values())
        elif not self.host.is_qemu or not os.path.exists(path):
            return None
        else:
            actual = qemuimg.info(path).get("actual-size")
            size = int(actual) if actual is not None else None
        if size is None:
            return None
        disks = self.disks()
        states = self._states(disks)
        root = disks[0].path if disks else ""
        if states is not None and (root == path or os.path.realpath(root) == os.path.realpath(
                path)):
            size += states.stored_bytes(self.name)
        return int(size)

    # --- guest agent ------------------------------------------------------------------------

    def set_agent_timeout(self, seconds: int) -> None:
        try:
            self.dom.agentSetResponseTimeout(max(1, int(seconds)), 0)
        except (libvirt.libvirtError, AttributeError):
            pass  # drivers without agent timeouts: the quiesce watchdog still applies

    def freeze(self) -> int:
        return int(call(f"Freezing the filesystems of {self.name}", lambda: self.dom.fsFreeze()))

    def thaw(self) -> int:
        # Never pass mountpoints: QEMU refuses a listed thaw and leaves the guest frozen.
        return int(call(f"Thawing the filesystems of {self.name}", lambda: self.dom.fsThaw()))

    def freeze_status(self) -> str:
        query = json.dumps({"execute": "guest-fsfreeze-status"})
        out = call(f"Reading the freeze status of {self.name}",
                   lambda: libvirt_qemu.qemuAgentCommand(self.dom, query,
                                                         self.host.agent_timeout, 0))
        return str(json.loads(out)["return"])

    # --- create -----------------------------------------------------------------------------

    def held_snapshots(self) -> dict[str, set[str]]:
        held: dict[str, set[str]] = {}
        disks = self.disks()
        for disk in disks:
            if disk.format == "qcow2" and os.path.exists(disk.path):
                for tag in qemuimg.tags(disk.path):
                    held.setdefault(tag, set()).add(disk.path)
            elif is_rbd(disk.path) and self.host.ceph is not None:
                for snap in self.host.ceph.rbd.snapshots(RbdImage.parse(disk.path)):
                    if not snap.startswith(VOLUME_SNAPSHOT_PREFIX):  # volume snapshots
                        held.setdefault(snap, set()).add(disk.path)
        names = call(f"Listing the snapshots of {self.name}", self.dom.snapshotListNames)
        for name in names:
            held.setdefault(name, set()).add(METADATA)
        states = self._states(disks)
        if states is not None:  # live snapshots' memory states, complete or partial
            for name in states.held(self.name):
                held.setdefault(name, set()).add(MEMORY_STATE)
        return held

    def has_snapshot(self, snapshot: Snapshot) -> bool:
        if internal.metadata(self.dom, snapshot.name) is not None:
            return True
        disks = [DiskInfo(d.target, d.path) for d in snapshot.disks] or self.disks()
        states = self._states(disks)
        return bool(self.disk_snapshots.holding(disks, snapshot.name)) or (
            states is not None and states.exists(self.name, snapshot.name))

    def preflight(self, name: str, *, memory: bool) -> _Plan:
        disks = self.disks()
        self.disk_snapshots.check(self.name, disks)
        running = self.power_state() is PowerState.ON
        states = self._states(disks)
        if states is not None and memory:
            states.check(self.name, name)
        if (internal.metadata(self.dom, name) is not None
                or self.disk_snapshots.holding(disks, name)
                or (states is not None and states.stored(self.name, name))):
            raise InvalidRequest(f"snapshot {name} already exists on {self.name}")
        plan = _Plan(name, memory, running, disks)
        qemu_live = running and self.host.is_qemu
        if memory:
            plan.mechanism = live.SAVEVM
            if qemu_live:
                plan.mechanism = live.choose(self.host.live, running=self.monitor.running(),
                                             capabilities=live.capabilities(self.monitor))
        on_rbd = [d.target for d in disks if is_rbd(d.path)]
        if memory and on_rbd and (plan.mechanism == live.SAVEVM or states is None):
            # savevm cannot write a VM state into a raw RBD image, and QEMU's loadvm on one
            # half-reverts: memory snapshots on RBD are live captures into a state file only.
            raise Unsupported(
                f"A memory snapshot of {self.name} (disks {', '.join(on_rbd)} on Ceph RBD) "
                + ("needs rbd_memory_pool or rbd_memory_dir, where its memory state is kept"
                   if states is None
                   else "needs a running guest and QEMU's background-snapshot capability"))
        if qemu_live and plan.mechanism != live.SAVEVM:
            plan.at_instant = self.disk_snapshots.prepare_live(self.monitor, disks, name)
        if memory:
            # Everything but the instant happens here, before any freeze.
            plan.watch = PauseWatch(self.host.conn, self.dom) if self.host.is_qemu else None
            if plan.mechanism in (live.PRECOPY, live.BACKGROUND):
                self._prepare_live(plan)
        return plan

    def _prepare_live(self, plan: _Plan) -> None:
        states = self._states(plan.disks)
        assert states is not None and plan.mechanism is not None and plan.at_instant is not None
        try:
            xml = call(f"Reading the definition of {self.name}", lambda: self.dom.XMLDesc(
                libvirt.VIR_DOMAIN_XML_SECURE | libvirt.VIR_DOMAIN_XML_MIGRATABLE))
            writer = states.writer(self.name, plan.name, xml, running=True)
            plan.stream = live.LiveCapture(
                self.monitor, writer, plan.at_instant, plan.mechanism, self.host.live,
                resumed=plan.watch.wait_resumed if plan.watch and plan.watch.has_events
                else None)
            plan.stream.prepare()
        except live.CannotGoLive as exc:
            self._fall_back(plan, exc.details)
        except DriverError:
            self.abandon(plan.name, plan)
            raise

    def _fall_back(self, plan: _Plan, reason: str) -> None:
        """The live path cannot be used: drop what it prepared; ``savevm`` will be used."""
        if plan.stream is not None:
            plan.stream.abort()
            plan.stream = None
        log.warning("live memory capture impossible, falling back to savevm: %s", reason,
                    extra={"vm": self.name, "snapshot": plan.name,
                           "mechanism": plan.mechanism})
        plan.fallback = reason
        plan.mechanism = live.SAVEVM

    def _own(self, plan: CapturePlan) -> _Plan:
        if not isinstance(plan, _Plan):
            raise HypervisorError(
                f"The capture of {plan.name} on {self.name} was not prepared by its host")
        return plan

    def capture(self, plan: CapturePlan, *, description: str) -> None:
        plan = self._own(plan)
        if not plan.memory:
            if plan.at_instant is not None:
                plan.at_instant()
            elif plan.running:
                raise HypervisorError(f"Disk snapshot {plan.name} of {self.name} needs QEMU")
            else:
                self.disk_snapshots.create_stopped(plan.disks, plan.name)
            return
        try:
            if plan.stream is not None:
                try:
                    plan.stream.start()
                except live.CannotGoLive as exc:
                    self._fall_back(plan, exc.details)
            if plan.stream is None:
                internal.create(self.dom, self.name, plan.name, description)
        except DriverError:
            self.abandon(plan.name, plan)
            raise

    @staticmethod
    def _drop(plan: _Plan) -> None:
        """Drop what a plan prepared and nobody will finish (nothing on storage is touched:
        the partial file is the writer's)."""
        watch, stream, plan.watch, plan.stream = plan.watch, plan.stream, None, None
        if watch is not None:
            watch.close(expect_running=False, wait=0)
        if stream is not None:
            stream.abort()

    def finish(self, plan: CapturePlan) -> CaptureReport:
        plan = self._own(plan)
        if not plan.memory:
            return CaptureReport()
        try:
            size = plan.stream.finish() if plan.stream is not None else 0
            self._verify_tags(self.disks(), plan.name)
        except DriverError:
            self.abandon(plan.name, plan)
            raise
        plan.stream = None
        pause = plan.watch.close(expect_running=True) if plan.watch else None
        plan.watch = None
        log.info("memory captured", extra={"vm": self.name, "snapshot": plan.name,
                                           "mechanism": plan.mechanism,
                                           "guest_pause_ms": pause, "memory_bytes": size,
                                           "fallback": plan.fallback})
        return CaptureReport(guest_pause_ms=pause, memory_capture=plan.mechanism,
                             memory_bytes=size)

    def _verify_tags(self, disks: list[DiskInfo], name: str) -> None:
        """QEMU can report success and write nothing (seen with odd names): check the images."""
        if not self.host.is_qemu:
            return
        holding = self.disk_snapshots.holding(disks, name)
        missing = [d.target for d in disks if d not in holding]
        if missing:
            raise HypervisorError(
                f"Snapshot {name} of {self.name} was reported created but is missing from "
                f"{', '.join(missing)}")

    def abandon(self, name: str, plan: CapturePlan | None = None) -> None:
        if isinstance(plan, _Plan):
            self._drop(plan)
        disks = self.disks()
        states = self._states(disks)
        if (states is not None and states.interrupted(self.name, name)
                and self.power_state() is PowerState.ON and self.host.is_qemu):
            # A capture of ours was interrupted (the driver died): QEMU may still be writing,
            # or waiting at pre-switchover with the guest paused.
            live.stop_stream(self.monitor)
            live.reset(self.monitor)
            status, reason = self.dom.state()
            if status == libvirt.VIR_DOMAIN_PAUSED and reason != libvirt.VIR_DOMAIN_PAUSED_USER:
                self.monitor.qmp("cont")
        self.delete(Snapshot(self.name, name, SnapshotType.DISK_AND_MEMORY,
                             disks=[d.as_disk() for d in disks]))

    # --- revert, delete, restore ------------------------------------------------------------

    def revert(self, snapshot: Snapshot) -> PowerState:
        disks = self.disks()
        if not snapshot.has_memory:
            if self.power_state() is not PowerState.OFF:
                raise InvalidRequest(f"{self.name} must be stopped to revert to disk snapshot "
                                     f"{snapshot.name}")
            self.disk_snapshots.revert_stopped(disks, snapshot.name)
            return PowerState.OFF
        states = self._states(disks)
        if states is not None and states.stored(self.name, snapshot.name):
            restore.revert(self.host.conn, self.dom, self.name, snapshot.name, states, disks,
                           self.disk_snapshots)
            return self.power_state()
        meta = internal.metadata(self.dom, snapshot.name)
        if meta is None:
            raise NotFound(f"Cannot find vmSnapshot with name: {snapshot.name}")
        if (self.host.is_qemu and self.power_state() is PowerState.ON
                and internal.definition_matches(self.dom, meta)):
            internal.revert_in_place(self.monitor, snapshot.name)
        else:
            internal.revert_by_libvirt(self.dom, self.name, snapshot.name)
        return self.power_state()

    def delete(self, snapshot: Snapshot) -> None:
        disks = self.disks()
        states = self._states([DiskInfo(d.target, d.path) for d in snapshot.disks] or disks)
        if states is not None:
            states.remove(self.name, snapshot.name)
        if internal.delete(self.dom, snapshot.name):
            return
        running = self.power_state() is PowerState.ON and self.host.is_qemu
        self.disk_snapshots.delete(self.monitor if running else None, disks, snapshot.name)

    def redefine(self, snapshot: Snapshot) -> bool:
        """Make a memory snapshot revertable again after libvirt lost its metadata: a live
        snapshot needs none (its file and tags are checked); a ``savevm`` one is registered."""
        if not snapshot.has_memory:
            return False
        disks = self.disks()
        holding = self.disk_snapshots.holding(disks, snapshot.name) if self.host.is_qemu else disks
        states = self._states(disks)
        if states is not None and states.stored(self.name, snapshot.name):
            if not states.complete(self.name, snapshot.name) or len(holding) != len(disks):
                raise NotFound(f"Snapshot {snapshot.name} of {self.name} is incomplete on "
                               "storage")
            return False
        if internal.metadata(self.dom, snapshot.name) is not None:
            return False
        if len(holding) != len(disks):
            raise NotFound(f"Snapshot {snapshot.name} is not in the images of {self.name}")
        internal.redefine(self.dom, self.name, snapshot.name, snapshot.description,
                          int(snapshot.created), disks)
        return True

    # --- guest data (block level; files and memory markers need the simulated host) -----

    def write(self, path: str, offset: int, data: bytes) -> None:
        with tempfile.NamedTemporaryFile(prefix="vmsnap-io-") as src:
            src.write(data)
            src.flush()
            if self.power_state() is PowerState.ON:
                alias = disk_aliases(self.dom.XMLDesc()).get(path)
                if alias is None:
                    raise NotFound(f"{self.name} has no disk {path}")
                qdev = f"/machine/peripheral/{alias}/virtio-backend"
                for command in (f"write -s {src.name} {offset} {len(data)}", "flush"):
                    out = self.monitor.hmp(f'qemu-io -d {qdev} "{command}"',
                                           doing=f"Writing to {self.name}")
                    if out.strip():
                        raise HypervisorError(f"Writing to {self.name} failed: {out.strip()}")
            else:
                qemuimg.write_from(*self._image(path), offset, src.name, len(data))

    def read(self, path: str, offset: int, length: int) -> bytes:
        return qemuimg.read(*self._image(path), offset, length)

    def _image(self, path: str) -> tuple[str, str]:
        """What qemu-io opens for a disk path, and its format."""
        if not is_rbd(path):
            return path, "qcow2"
        access = self.host.ceph.access if self.host.ceph is not None else None
        return rbd_url(RbdImage.parse(path), access), "raw"
